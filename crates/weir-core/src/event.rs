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
    /// The repos this event is about: its `repo` and any `repo` named in its `public` facts.
    pub fn repos(&self) -> Vec<&str> {
        let mut out: Vec<&str> = self.repo.as_deref().into_iter().collect();
        if let Some(r) = self
            .details
            .get("public")
            .and_then(|p| p.get("repo"))
            .and_then(|r| r.as_str())
            && !out.contains(&r)
        {
            out.push(r);
        }
        out
    }

    /// The canonical transparency-log entry for this event: JSON with sorted keys, no personal
    /// data (actor and subject as salted commitments, details as a salted digest).
    ///
    /// `sealed` (the event concerns a private repo, or one that does not exist): the repo becomes
    /// a salted commitment and the `public` facts are replaced by a salted commitment to them
    /// (`sealed`), so the entry is indistinguishable from one about any other hidden repo. Those
    /// who may see the repo get the opening ([`Event::opening`]) and can check it.
    pub fn log_entry(&self, salt: &[u8], sealed: bool) -> Vec<u8> {
        let details = serde_json::to_string(&self.details).unwrap_or_default();
        let public = self.details.get("public").filter(|p| !p.is_null());
        let (repo, public_clear, public_sealed) = if sealed {
            (
                self.repo.as_deref().map(|r| commitment(salt, r)),
                None,
                public.map(|p| commitment(salt, &canonical(p))),
            )
        } else {
            (self.repo.clone(), public.cloned(), None)
        };
        let mut entry = serde_json::json!({
            "v": 1,
            "at": self.at,
            "action": self.action,
            "repo": repo,
            "decision": self.decision,
            "reason": self.reason,
            "actor": self.actor.as_deref().map(|a| commitment(salt, a)),
            "subject": self.subject.as_deref().map(|s| commitment(salt, s)),
            "details": commitment(salt, &details),
            // Facts meant for the public (a release's commit and bundle digest) go in clear,
            // unless the repo is hidden.
            "public": public_clear,
        });
        if let (Some(c), Some(m)) = (public_sealed, entry.as_object_mut()) {
            m.insert("private".into(), serde_json::Value::Bool(true));
            m.insert("sealed".into(), serde_json::Value::String(c));
        }
        serde_json::to_vec(&entry).unwrap_or_default()
    }
}

/// The canonical text of a JSON value (sorted keys, no spaces): what a sealed commitment covers.
pub fn canonical(v: &serde_json::Value) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// What opens a sealed log entry: its salt and its `public` facts. Given only to those who may
/// see the repo; checked with [`Opening::opens`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Opening {
    /// Hex of the entry's salt.
    pub salt: String,
    /// The entry's `public` facts, in clear.
    pub public: serde_json::Value,
}

impl Opening {
    /// Whether this opening opens `entry` (a parsed log entry): its `sealed` commitment is the
    /// commitment to `public` under `salt`, and its `repo` commitment is to `public.repo`.
    pub fn opens(&self, entry: &serde_json::Value) -> bool {
        let Ok(salt) = hex::decode(&self.salt) else {
            return false;
        };
        let sealed_ok =
            entry["sealed"].as_str() == Some(&commitment(&salt, &canonical(&self.public)));
        let repo_ok = match (entry["repo"].as_str(), self.public["repo"].as_str()) {
            (Some(c), Some(r)) => c == commitment(&salt, r),
            (None, _) => true,
            (Some(_), None) => false,
        };
        sealed_ok && repo_ok
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
        let entry = String::from_utf8(e.log_entry(b"salt", false)).expect("utf8");
        assert!(!entry.contains("alice") && !entry.contains("carol") && !entry.contains("trace"));
        assert!(entry.contains(&commitment(b"salt", "carol")));
        assert_ne!(e.log_entry(b"salt", false), e.log_entry(b"pepper", false));
        // The details digest is salted: equal details do not give equal digests.
        let v: serde_json::Value = serde_json::from_str(&entry).expect("json");
        let plain = hex::encode(Sha256::digest(
            serde_json::to_vec(&e.details).expect("json"),
        ));
        assert_ne!(v["details"], plain);
        assert!(
            entry.starts_with("{\"action\":\"access.review\""),
            "{entry}"
        );
    }

    #[test]
    fn sealed_entries_name_no_repo_and_open_for_those_who_see_it() {
        let e = Event {
            at: 1,
            actor: Some("bob".into()),
            action: "release".into(),
            repo: Some("openlab/internal-draft".into()),
            subject: None,
            decision: "change".into(),
            reason: "T0".into(),
            request_id: None,
            user_agent: None,
            details: serde_json::json!({"public": {"repo": "openlab/internal-draft", "bundle_sha256": "ab"}}),
        };
        let entry = String::from_utf8(e.log_entry(b"salt", true)).expect("utf8");
        assert!(
            !entry.contains("internal-draft") && !entry.contains("openlab"),
            "{entry}"
        );
        assert!(!entry.contains("\"ab\""), "{entry}");
        let v: serde_json::Value = serde_json::from_str(&entry).expect("json");
        assert_eq!(v["public"], serde_json::Value::Null);
        assert_eq!(v["private"], true);
        let opening = Opening {
            salt: hex::encode(b"salt"),
            public: e.details["public"].clone(),
        };
        assert!(opening.opens(&v));
        let forged = Opening {
            salt: hex::encode(b"salt"),
            public: serde_json::json!({"repo": "openlab/internal-draft", "bundle_sha256": "cd"}),
        };
        assert!(!forged.opens(&v));
        // A public repo's entry is in clear.
        let clear = String::from_utf8(e.log_entry(b"salt", false)).expect("utf8");
        assert!(clear.contains("openlab/internal-draft"));
    }
}
