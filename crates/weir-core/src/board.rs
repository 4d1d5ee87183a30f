//! Consortium governance (issue 14, point 3), pure: a board of n members with registered
//! Ed25519 keys decides some changes k-of-n. A proposal carries the exact change; its digest
//! binds the proposal's number to the change's SHA-256 under a fixed context, members sign the
//! digest, and the change applies once k distinct members have signed. [`verify_decision`]
//! checks a decision from the transparency log's entries alone.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::Tier;

/// The most members a board has.
pub const MAX_MEMBERS: usize = 15;

/// A board member: an account and its Ed25519 public key (hex).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Member {
    pub name: String,
    pub public_key: String,
}

/// What a proposal changes, exactly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Change {
    /// Put a classification policy (TOML text) in force.
    PolicySet {
        text: String,
    },
    /// Accredit an evaluator by its Ed25519 public key.
    EvaluatorAdd {
        name: String,
        public_key: String,
    },
    EvaluatorRevoke {
        name: String,
    },
    /// Register an identity verifier by its Ed25519 public key.
    VerifierAdd {
        name: String,
        public_key: String,
    },
    VerifierRevoke {
        name: String,
    },
    /// Add an evaluation suite (or a new version of one): what a suite counts decides
    /// classification as much as the policy does.
    SuiteAdd {
        suite: crate::eval::Suite,
    },
    /// Lower a repo's tier below the publisher's choice, with the recorded reason.
    TierLower {
        repo: String,
        /// The repo's internal id when proposed: a rename cannot redirect the decision.
        repo_id: i64,
        tier: Tier,
        reason: String,
    },
    /// Award a largest-route grant application its panel voted for.
    GrantAward {
        application: i64,
    },
    /// Open a bounty pool with its rules (amounts in the currency's minor unit).
    PoolCreate {
        name: String,
        title: String,
        rules: crate::ledger::BountyRules,
    },
    /// Replace the board: its members and threshold.
    Membership {
        members: Vec<Member>,
        threshold: usize,
    },
}

impl Change {
    pub fn kind(&self) -> &'static str {
        match self {
            Change::PolicySet { .. } => "policy_set",
            Change::EvaluatorAdd { .. } => "evaluator_add",
            Change::EvaluatorRevoke { .. } => "evaluator_revoke",
            Change::VerifierAdd { .. } => "verifier_add",
            Change::VerifierRevoke { .. } => "verifier_revoke",
            Change::SuiteAdd { .. } => "suite_add",
            Change::TierLower { .. } => "tier_lower",
            Change::GrantAward { .. } => "grant_award",
            Change::PoolCreate { .. } => "pool_create",
            Change::Membership { .. } => "membership",
        }
    }

    /// The change as the canonical JSON its SHA-256 is taken over.
    pub fn canonical(&self) -> String {
        crate::event::canonical(&serde_json::to_value(self).unwrap_or_default())
    }

    /// SHA-256 (hex) of [`Change::canonical`].
    pub fn sha256(&self) -> String {
        hex::encode(Sha256::digest(self.canonical().as_bytes()))
    }
}

/// SHA-256 (hex) of a board's canonical JSON (`{"members", "threshold"}`): which board a
/// proposal is decided by.
pub fn board_sha256(members: &[Member], threshold: usize) -> String {
    let v = serde_json::json!({"members": members, "threshold": threshold});
    hex::encode(Sha256::digest(crate::event::canonical(&v).as_bytes()))
}

/// The text a proposal's digest is taken over: its number, its change and the board that
/// decides it (a membership change makes the proposals pending under the old board stale).
pub fn statement(proposal: i64, change_sha256: &str, board_sha256: &str) -> String {
    format!("weir-board-proposal-v2\n{proposal}\n{change_sha256}\n{board_sha256}\n")
}

/// The digest members sign: SHA-256 (hex) of [`statement`].
pub fn digest(proposal: i64, change_sha256: &str, board_sha256: &str) -> String {
    hex::encode(Sha256::digest(
        statement(proposal, change_sha256, board_sha256).as_bytes(),
    ))
}

/// A board's membership: 1 ≤ threshold ≤ members ≤ [`MAX_MEMBERS`], distinct names and keys,
/// each key 64 hex digits.
pub fn check_membership(members: &[Member], threshold: usize) -> Result<(), String> {
    if members.is_empty() || members.len() > MAX_MEMBERS {
        return Err(format!("a board has 1 to {MAX_MEMBERS} members"));
    }
    if threshold == 0 || threshold > members.len() {
        return Err(format!(
            "the threshold is 1 to the number of members ({}), not {threshold}",
            members.len()
        ));
    }
    for (i, m) in members.iter().enumerate() {
        if m.public_key.len() != 64 || !m.public_key.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!(
                "{}: the key is 64 hex digits (a .pub file from 'weir identity keygen')",
                m.name
            ));
        }
        if members[..i]
            .iter()
            .any(|o| o.name == m.name || o.public_key.eq_ignore_ascii_case(&m.public_key))
        {
            return Err(format!("{} (or its key) is on the board twice", m.name));
        }
    }
    Ok(())
}

/// What the log says of one decision, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub proposal: i64,
    pub kind: String,
    pub change_sha256: String,
    pub threshold: usize,
    /// The distinct members' keys whose signatures verify.
    pub signers: Vec<String>,
    /// `applied`, `failed: …`, or `pending` when no outcome entry is there yet.
    pub outcome: String,
}

/// Checks proposal `id`'s decision from the log's entries (in log order, as JSON).
///
/// The board is followed from its first `board.membership` entry (set up by the operator: the
/// trust anchor): every later membership entry must follow an applied `membership` proposal of
/// the board before it whose change is exactly that membership, or the log is refused. Then,
/// for the proposal: the board in force when it was made, its digest recomputed from its
/// change's SHA-256 and that board, every `board.sign` entry's signature over that digest by a
/// key on that board, and the outcome entry. `verify_sig(key, digest, signature)` checks one
/// Ed25519 signature. A decision recorded as applied needs `threshold` distinct valid signers
/// before it.
pub fn verify_decision(
    entries: &[serde_json::Value],
    id: i64,
    verify_sig: impl Fn(&str, &str, &str) -> bool + Copy,
) -> Result<Verified, String> {
    let action = |e: &serde_json::Value| e["action"].as_str().unwrap_or("").to_string();
    // The chain of boards: (entry index, members, threshold).
    let mut boards: Vec<(usize, Vec<Member>, usize)> = Vec::new();
    for (n, e) in entries.iter().enumerate() {
        if action(e) != "board.membership" {
            continue;
        }
        let f = &e["public"];
        let members: Vec<Member> = serde_json::from_value(f["members"].clone())
            .map_err(|e| format!("board entry {n} does not parse: {e}"))?;
        let threshold = f["threshold"]
            .as_u64()
            .ok_or_else(|| format!("board entry {n} has no threshold"))?
            as usize;
        check_membership(&members, threshold)?;
        if !boards.is_empty() {
            // Justified by an applied membership proposal decided by the board before.
            let want = Change::Membership {
                members: members.clone(),
                threshold,
            }
            .sha256();
            let justified = entries[..n].iter().any(|p| {
                action(p) == "board.propose"
                    && p["public"]["change_sha256"].as_str() == Some(want.as_str())
                    && p["public"]["proposal"]
                        .as_i64()
                        // Its outcome entry follows the membership entry it wrote.
                        .and_then(|pid| decide(entries, &boards, pid, verify_sig).ok())
                        .is_some_and(|v| v.outcome == "applied")
            });
            if !justified {
                return Err(format!(
                    "board entry {n} changes the board without an applied membership decision"
                ));
            }
        }
        boards.push((n, members, threshold));
    }
    decide(entries, &boards, id, verify_sig)
}

/// One proposal's decision under the chain of `boards`.
fn decide(
    entries: &[serde_json::Value],
    boards: &[(usize, Vec<Member>, usize)],
    id: i64,
    verify_sig: impl Fn(&str, &str, &str) -> bool,
) -> Result<Verified, String> {
    let public = |e: &serde_json::Value| e["public"].clone();
    let action = |e: &serde_json::Value| e["action"].as_str().unwrap_or("").to_string();
    let pos = entries
        .iter()
        .position(|e| action(e) == "board.propose" && public(e)["proposal"].as_i64() == Some(id))
        .ok_or_else(|| {
            format!(
                "no board.propose entry for proposal {id} in the log (yet: the log integrates new entries within seconds)"
            )
        })?;
    let p = public(&entries[pos]);
    let (_, members, threshold) = boards
        .iter()
        .rev()
        .find(|(n, _, _)| *n < pos)
        .ok_or_else(|| format!("no board was in force when proposal {id} was made"))?;
    let threshold = *threshold;
    let change_sha256 = p["change_sha256"]
        .as_str()
        .ok_or("the proposal entry has no change_sha256")?
        .to_string();
    let want = digest(id, &change_sha256, &board_sha256(members, threshold));
    if p["digest"].as_str() != Some(want.as_str()) {
        return Err(format!(
            "proposal {id}'s digest does not match its change and the board in force: {} != {want}",
            p["digest"]
        ));
    }
    let mut signers: Vec<String> = Vec::new();
    let mut outcome = "pending".to_string();
    for e in &entries[pos + 1..] {
        let f = public(e);
        if f["proposal"].as_i64() != Some(id) {
            continue;
        }
        match action(e).as_str() {
            "board.sign" => {
                let key = f["public_key"].as_str().unwrap_or("").to_ascii_lowercase();
                let sig = f["signature"].as_str().unwrap_or("");
                if !members
                    .iter()
                    .any(|m| m.public_key.eq_ignore_ascii_case(&key))
                {
                    return Err(format!(
                        "a signature on proposal {id} by a key not on the board"
                    ));
                }
                if !verify_sig(&key, &want, sig) {
                    return Err(format!("a signature on proposal {id} does not verify"));
                }
                if signers.contains(&key) {
                    return Err(format!("proposal {id} is signed twice by one key"));
                }
                signers.push(key);
            }
            "board.apply" => {
                outcome = f["outcome"].as_str().unwrap_or("").to_string();
                if outcome == "applied" && signers.len() < threshold {
                    return Err(format!(
                        "proposal {id} was applied with {} of the {threshold} signatures it needs",
                        signers.len()
                    ));
                }
                break;
            }
            _ => {}
        }
    }
    Ok(Verified {
        proposal: id,
        kind: p["kind"].as_str().unwrap_or("").to_string(),
        change_sha256,
        threshold,
        signers,
        outcome,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(n: &str, k: char) -> Member {
        Member {
            name: n.into(),
            public_key: k.to_string().repeat(64),
        }
    }

    #[test]
    fn the_digest_binds_the_number_and_the_exact_change() {
        let a = Change::VerifierRevoke { name: "x".into() };
        let b = Change::VerifierRevoke { name: "y".into() };
        assert_ne!(a.sha256(), b.sha256());
        let b = board_sha256(&[member("a", 'a')], 1);
        assert_ne!(digest(1, &a.sha256(), &b), digest(2, &a.sha256(), &b));
        assert_eq!(digest(1, &a.sha256(), &b), digest(1, &a.sha256(), &b));
        let other = board_sha256(&[member("a", 'a'), member("b", 'b')], 1);
        assert_ne!(digest(1, &a.sha256(), &b), digest(1, &a.sha256(), &other));
        assert_eq!(a.kind(), "verifier_revoke");
        let back: Change = serde_json::from_str(&a.canonical()).expect("parses");
        assert_eq!(back, a);
    }

    #[test]
    fn memberships_are_bounded_and_distinct() {
        let m = vec![member("a", 'a'), member("b", 'b'), member("c", 'c')];
        assert_eq!(check_membership(&m, 2), Ok(()));
        assert!(check_membership(&m, 0).is_err());
        assert!(check_membership(&m, 4).is_err());
        assert!(check_membership(&[], 1).is_err());
        let twice = vec![member("a", 'a'), member("b", 'a')];
        assert!(check_membership(&twice, 1).is_err());
        let bad = vec![Member {
            name: "a".into(),
            public_key: "zz".into(),
        }];
        assert!(check_membership(&bad, 1).is_err());
    }

    fn entries(sigs: &[(&str, &str)], applied: bool) -> Vec<serde_json::Value> {
        let members = vec![member("a", 'a'), member("b", 'b'), member("c", 'c')];
        let change = Change::VerifierRevoke { name: "x".into() };
        let sha = change.sha256();
        let bsha = board_sha256(&members, 2);
        let mut out = vec![
            serde_json::json!({"action": "board.membership", "public": {"members": members, "threshold": 2}}),
            serde_json::json!({"action": "board.propose", "public": {"proposal": 7, "kind": "verifier_revoke", "change_sha256": sha, "digest": digest(7, &sha, &bsha)}}),
        ];
        for (k, s) in sigs {
            out.push(serde_json::json!({"action": "board.sign", "public": {"proposal": 7, "public_key": k.repeat(64), "signature": s}}));
        }
        if applied {
            out.push(serde_json::json!({"action": "board.apply", "public": {"proposal": 7, "outcome": "applied"}}));
        }
        out
    }

    /// A stand-in signature check: "ok" verifies.
    fn ok(_: &str, _: &str, s: &str) -> bool {
        s == "ok"
    }

    #[test]
    fn a_decision_verifies_from_the_log_and_a_tampered_one_does_not() {
        let v = verify_decision(&entries(&[("a", "ok"), ("b", "ok")], true), 7, ok).expect("ok");
        assert_eq!((v.signers.len(), v.outcome.as_str()), (2, "applied"));
        // k-1 signatures and an applied outcome: refused.
        assert!(verify_decision(&entries(&[("a", "ok")], true), 7, ok).is_err());
        // Pending with one signature is what it is.
        let p = verify_decision(&entries(&[("a", "ok")], false), 7, ok).expect("pending");
        assert_eq!(p.outcome, "pending");
        // A repeated signer, a key off the board, a bad signature.
        assert!(verify_decision(&entries(&[("a", "ok"), ("a", "ok")], true), 7, ok).is_err());
        assert!(verify_decision(&entries(&[("a", "ok"), ("d", "ok")], true), 7, ok).is_err());
        assert!(verify_decision(&entries(&[("a", "ok"), ("b", "forged")], true), 7, ok).is_err());
        // A digest that does not match its change.
        let mut t = entries(&[("a", "ok"), ("b", "ok")], true);
        t[1]["public"]["change_sha256"] = serde_json::json!("0".repeat(64));
        assert!(verify_decision(&t, 7, ok).is_err());
        assert!(verify_decision(&t, 8, ok).is_err(), "no such proposal");
        // A board swapped in without a membership decision: refused, whatever it then signs.
        let mut swapped = entries(&[("a", "ok"), ("b", "ok")], true);
        let fake = vec![member("x", 'e'), member("y", 'f')];
        swapped.insert(
            1,
            serde_json::json!({"action": "board.membership", "public": {"members": fake, "threshold": 1}}),
        );
        assert!(verify_decision(&swapped, 7, ok).is_err());
    }
}
