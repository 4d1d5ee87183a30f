//! The one governance event type. Every decision on gated content (allow and deny) and every
//! state change (access requests, tiers, identity levels, exports) becomes one of these; the
//! store keeps them as rows, and the transparency log will append them.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Unix seconds.
    pub at: i64,
    /// Who acted (account name); `None` for anonymous callers and the system.
    pub actor: Option<String>,
    /// What happened: `download`, `access.request`, `access.review`, `tier.set`, …
    pub action: String,
    /// The repo concerned, `namespace/name`.
    pub repo: Option<String>,
    /// The account the action is about, when not the actor (e.g. the requester in a review).
    pub subject: Option<String>,
    /// `allow`, `deny`, or `change` for state changes.
    pub decision: String,
    /// The machine reason code (an authorization reason or the new state).
    pub reason: String,
    /// The client's request id (`X-Amzn-Trace-Id` / `X-Request-Id`), if any.
    pub request_id: Option<String>,
    pub user_agent: Option<String>,
    /// Action-specific details (path, revision, old and new tier, …). Never secrets. Only a
    /// digest reaches the log, except the `public` member, which is copied in clear.
    pub details: serde_json::Value,
}

/// A salted commitment to a value: `hex(SHA-256(salt || 0x0A || value))`. The salt stays in the
/// database, so the log proves what happened without naming anyone.
pub fn commitment(salt: &[u8], value: &str) -> String {
    let mut h = Sha256::new();
    h.update(salt);
    h.update(b"\n");
    h.update(value.as_bytes());
    hex::encode(h.finalize())
}

impl Event {
    /// The canonical transparency-log entry for this event: JSON with sorted keys, no personal
    /// data (actor and subject as salted commitments, details as a digest).
    pub fn log_entry(&self, salt: &[u8]) -> Vec<u8> {
        let details = serde_json::to_vec(&self.details).unwrap_or_default();
        let entry = serde_json::json!({
            "v": 1,
            "at": self.at,
            "action": self.action,
            "repo": self.repo,
            "decision": self.decision,
            "reason": self.reason,
            "actor": self.actor.as_deref().map(|a| commitment(salt, a)),
            "subject": self.subject.as_deref().map(|s| commitment(salt, s)),
            "details": hex::encode(Sha256::digest(&details)),
            // Facts meant for the public (a release's commit and bundle digest) go in clear.
            "public": self.details.get("public"),
        });
        serde_json::to_vec(&entry).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_entries_hold_no_names() {
        let e = Event {
            at: 1,
            actor: Some("alice".into()),
            action: "access.review".into(),
            repo: Some("acme/m".into()),
            subject: Some("carol".into()),
            decision: "change".into(),
            reason: "approved".into(),
            request_id: Some("trace".into()),
            user_agent: Some("ua".into()),
            details: serde_json::json!({"reason": "carol's purpose"}),
        };
        let entry = String::from_utf8(e.log_entry(b"salt")).expect("utf8");
        assert!(!entry.contains("alice") && !entry.contains("carol") && !entry.contains("trace"));
        assert!(entry.contains(&commitment(b"salt", "carol")));
        assert_ne!(e.log_entry(b"salt"), e.log_entry(b"pepper"));
        assert!(
            entry.starts_with("{\"action\":\"access.review\""),
            "{entry}"
        );
    }
}
