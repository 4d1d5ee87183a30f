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

/// The last policy text parsed, by its SHA-256: parsing is a pure function of the text, so a
/// policy read again (every model info, every classification) is not parsed again.
static PARSED: std::sync::Mutex<Option<(String, Policy)>> = std::sync::Mutex::new(None);

fn parsed(sha256: &str, text: &str) -> Result<Policy, StoreError> {
    if let Ok(g) = PARSED.lock()
        && let Some((sha, p)) = g.as_ref()
        && sha == sha256
    {
        return Ok(p.clone());
    }
    let p = Policy::parse(text).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    // Keyed by the digest of the text actually parsed, never by the one stored beside it.
    let sha = hex::encode(Sha256::digest(text.as_bytes()));
    if sha == sha256
        && let Ok(mut g) = PARSED.lock()
    {
        *g = Some((sha, p.clone()));
    }
    Ok(p)
}

/// The shipped default, parsed once.
fn default_parsed() -> &'static (Policy, String) {
    static DEFAULT: std::sync::OnceLock<(Policy, String)> = std::sync::OnceLock::new();
    DEFAULT.get_or_init(|| {
        (
            Policy::default_policy(),
            hex::encode(Sha256::digest(weir_core::policy::DEFAULT_POLICY.as_bytes())),
        )
    })
}

pub async fn policy_in_force(store: &Store) -> Result<PolicyInForce, StoreError> {
    match store.db.current_policy().await? {
        Some(p) => Ok(PolicyInForce {
            policy: parsed(&p.sha256, &p.text)?,
            text: p.text,
            sha256: p.sha256,
            signature: Some(p.signature),
            set_by: Some(p.set_by),
            set_at: Some(p.created_at),
        }),
        None => Ok(PolicyInForce {
            policy: default_parsed().0.clone(),
            text: weir_core::policy::DEFAULT_POLICY.to_string(),
            sha256: default_parsed().1.clone(),
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

/// A policy an operator put in force.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicySet {
    pub version: String,
    pub sha256: String,
    /// How many repos the new policy raised to a stricter tier.
    pub raised: usize,
}

/// Puts `text` (the policy's TOML) in force: parsed and checked, signed with the log key as a
/// note naming its version and digest, stored with its `policy.set` event in one transaction;
/// then every repo is re-classified (an operator's decision may lower as well as raise).
pub async fn set(
    store: &Store,
    signer: &weir_tlog::note::Signer,
    text: &str,
    ctx: &crate::Context,
    now: i64,
) -> Result<PolicySet, crate::ServiceError> {
    let policy = Policy::parse(text).map_err(|e| {
        crate::ServiceError::refused(
            crate::Kind::Invalid,
            weir_wire::ErrorCode::InvalidBody,
            format!("the policy does not parse: {e}"),
        )
    })?;
    let sha = hex::encode(Sha256::digest(text.as_bytes()));
    let note = weir_tlog::note::Note::sign(&policy_note_text(&policy.version, &sha), &[signer])
        .map_err(|e| StoreError::Corrupt(format!("signing the policy: {e}")))?;
    let previous = policy_in_force(store).await?;
    let event = ctx.event(
        now,
        "policy.set",
        None,
        &policy.version,
        serde_json::json!({"public": {"version": policy.version, "sha256": sha, "previous_sha256": previous.sha256}}),
    );
    store
        .db
        .set_policy_logged(
            &weir_store::evals::StoredPolicy {
                seq: 0,
                version: policy.version.clone(),
                text: text.to_string(),
                sha256: sha.clone(),
                signature: note.to_text(),
                set_by: ctx.actor.clone().unwrap_or_else(|| "operator".into()),
                created_at: now,
            },
            &event,
        )
        .await?;
    let raised = crate::classification::reclassify_all(
        store,
        ctx.actor.as_deref(),
        crate::classification::Lowering::AfterReview,
        now,
    )
    .await?;
    Ok(PolicySet {
        version: policy.version,
        sha256: sha,
        raised,
    })
}
