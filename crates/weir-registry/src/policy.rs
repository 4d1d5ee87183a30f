//! The classification policy in force: the one an operator set (signed with the log key), or the
//! shipped default.

use sha2::{Digest, Sha256};
use weir_core::policy::Policy;
use weir_store::{Store, StoreError};

pub struct PolicyInForce {
    pub policy: Policy,
    pub text: String,
    pub sha256: String,
    /// The signed note stored with a policy an operator set; `None` for the shipped default.
    pub signature: Option<String>,
    pub set_by: Option<String>,
    pub set_at: Option<i64>,
}

pub async fn policy_in_force(store: &Store) -> Result<PolicyInForce, StoreError> {
    match store.db.current_policy().await? {
        Some(p) => Ok(PolicyInForce {
            policy: Policy::parse(&p.text).map_err(|e| StoreError::Corrupt(e.to_string()))?,
            text: p.text,
            sha256: p.sha256,
            signature: Some(p.signature),
            set_by: Some(p.set_by),
            set_at: Some(p.created_at),
        }),
        None => Ok(PolicyInForce {
            policy: Policy::default_policy(),
            text: weir_core::policy::DEFAULT_POLICY.to_string(),
            sha256: hex::encode(Sha256::digest(weir_core::policy::DEFAULT_POLICY.as_bytes())),
            signature: None,
            set_by: None,
            set_at: None,
        }),
    }
}

/// The text a policy signature covers: a signed note naming the policy's version and digest.
pub fn policy_note_text(version: &str, sha256: &str) -> String {
    let version: String = version
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect();
    format!("weir policy\n{version}\nsha256 {sha256}\n")
}
