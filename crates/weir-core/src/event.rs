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
    /// a commitment, and the `public` facts and the `reason` (a tier, a domain) are replaced by
    /// one commitment to both (`sealed`), so the entry is indistinguishable from one about any
    /// other hidden repo. Those commitments use a salt derived from the entry's own
    /// ([`seal_salt`]), so an [`Opening`] given to those who may see the repo opens them and not
    /// the actor's or the subject's.
    pub fn log_entry(&self, salt: &[u8], sealed: bool) -> Vec<u8> {
        let details = serde_json::to_string(&self.details).unwrap_or_default();
        let public = self
            .details
            .get("public")
            .filter(|p| !p.is_null())
            .cloned()
            .unwrap_or(serde_json::Value::Null);
        let seal = seal_salt(salt);
        let mut entry = serde_json::json!({
            "v": 1,
            "at": self.at,
            "action": self.action,
            "repo": if sealed {
                self.repo.as_deref().map(|r| commitment(&seal, r))
            } else {
                self.repo.clone()
            },
            "decision": self.decision,
            "reason": if sealed { None } else { Some(&self.reason) },
            "actor": self.actor.as_deref().map(|a| commitment(salt, a)),
            "subject": self.subject.as_deref().map(|s| commitment(salt, s)),
            "details": commitment(salt, &details),
            // Facts meant for the public (a release's commit and bundle digest) go in clear,
            // unless the repo is hidden.
            "public": if sealed { serde_json::Value::Null } else { public.clone() },
        });
        if sealed && let Some(m) = entry.as_object_mut() {
            m.insert("private".into(), serde_json::Value::Bool(true));
            m.insert(
                "sealed".into(),
                serde_json::Value::String(commitment(&seal, &sealed_text(&public, &self.reason))),
            );
        }
        serde_json::to_vec(&entry).unwrap_or_default()
    }
}

/// The salt of a sealed entry's commitments (repo, public facts, reason), derived from the
/// entry's salt so that revealing it reveals nothing else.
pub fn seal_salt(salt: &[u8]) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update(b"weir-seal-v1\n");
    h.update(salt);
    h.finalize().to_vec()
}

/// What a sealed commitment covers: the public facts and the reason, as canonical JSON.
fn sealed_text(public: &serde_json::Value, reason: &str) -> String {
    canonical(&serde_json::json!({"public": public, "reason": reason}))
}

/// The canonical text of a JSON value (sorted keys, no spaces): what a sealed commitment covers.
pub fn canonical(v: &serde_json::Value) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// What opens a sealed log entry: its seal salt, its `public` facts and its reason. Given only
/// to those who may see the repo; checked with [`Opening::opens`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Opening {
    /// Hex of the entry's seal salt ([`seal_salt`]), not of its own salt.
    pub salt: String,
    /// The entry's `public` facts, in clear.
    pub public: serde_json::Value,
    /// The entry's reason, in clear.
    pub reason: String,
}

impl Opening {
    /// Whether this opening opens `entry` (a parsed log entry): its `sealed` commitment is the
    /// commitment to the public facts and reason under the seal salt, and its `repo`
    /// commitment is to `public.repo`.
    pub fn opens(&self, entry: &serde_json::Value) -> bool {
        let Ok(salt) = hex::decode(&self.salt) else {
            return false;
        };
        let sealed_ok = entry["sealed"].as_str()
            == Some(&commitment(&salt, &sealed_text(&self.public, &self.reason)));
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
        assert_eq!(
            v["reason"],
            serde_json::Value::Null,
            "the reason is sealed too"
        );
        let opening = Opening {
            salt: hex::encode(seal_salt(b"salt")),
            public: e.details["public"].clone(),
            reason: "T0".into(),
        };
        assert!(opening.opens(&v));
        let forged = Opening {
            salt: hex::encode(seal_salt(b"salt")),
            public: serde_json::json!({"repo": "openlab/internal-draft", "bundle_sha256": "cd"}),
            reason: "T0".into(),
        };
        assert!(!forged.opens(&v));
        // The opening's salt does not open the actor's commitment.
        assert_ne!(
            v["actor"].as_str(),
            Some(commitment(&seal_salt(b"salt"), "bob").as_str())
        );
        // A public repo's entry is in clear.
        let clear = String::from_utf8(e.log_entry(b"salt", false)).expect("utf8");
        assert!(clear.contains("openlab/internal-draft"));
    }
}
