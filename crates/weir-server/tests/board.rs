//! Consortium governance (`src/board.rs`): a 2-of-3 board decides policy changes, tier
//! lowering and its own membership. And what must never happen: a change by the operator
//! alone once a board governs, a decision on k−1 signatures, a signature by a non-member, a
//! repeated signer, or over another digest; a decision that does not verify from the log.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use weir_core::{Scope, Tier};

use crate::common::TestApp;

pub(crate) struct Board {
    pub(crate) app: TestApp,
    /// (name, token, secret key hex, public key hex)
    pub(crate) members: Vec<(String, String, String, String)>,
    pub(crate) op: String,
    pub(crate) outsider: String,
}

fn code(v: &Value) -> &str {
    v["error"].as_str().unwrap_or("")
}

pub(crate) async fn board_world() -> Board {
    let app = TestApp::new().await;
    let op = app.user("op", Scope::Admin).await;
    let outsider = app.user("dan", Scope::Write).await;
    let mut members = Vec::new();
    for n in ["m1", "m2", "m3"] {
        let token = app.user(n, Scope::Write).await;
        let (secret, public) = weir_signing::generate_key();
        members.push((n.to_string(), token, secret, public));
    }
    Board {
        app,
        members,
        op,
        outsider,
    }
}

pub(crate) async fn init(b: &Board, threshold: usize) {
    let members: Vec<weir_core::board::Member> = b
        .members
        .iter()
        .map(|(n, _, _, k)| weir_core::board::Member {
            name: n.clone(),
            public_key: k.clone(),
        })
        .collect();
    weir_registry::board::init(
        &b.app.store,
        &members,
        threshold,
        &weir_registry::Context::default(),
        weir_registry::clock::now(),
    )
    .await
    .expect("board");
}

pub(crate) async fn propose(b: &Board, token: &str, change: Value) -> (StatusCode, Value) {
    b.app
        .send_json(Method::POST, "/api/v1/board/proposals", Some(token), change)
        .await
}

/// Member `i` signs proposal `p` as served (its digest).
async fn sign(b: &Board, i: usize, p: &Value) -> (StatusCode, Value) {
    let sig = weir_signing::sign_board(p["digest"].as_str().expect("digest"), &b.members[i].2)
        .expect("sign");
    b.app
        .send_json(
            Method::POST,
            &format!("/api/v1/board/proposals/{}/signatures", p["id"]),
            Some(&b.members[i].1),
            json!({ "signature": sig }),
        )
        .await
}

fn log_json(entries: Vec<String>) -> Vec<Value> {
    entries
        .iter()
        .map(|e| serde_json::from_str(e).expect("json"))
        .collect()
}

#[tokio::test]
async fn a_two_of_three_board_decides_and_the_log_proves_it() {
    let b = board_world().await;
    // No board: the operator acts alone, and there is nothing to propose to.
    let (s, v) = propose(&b, &b.op, json!({"kind": "verifier_revoke", "name": "x"})).await;
    assert_eq!((s, code(&v)), (StatusCode::CONFLICT, "no_board"), "{v}");
    let (s, _) = b
        .app
        .send_json(Method::GET, "/api/v1/board", None, json!(null))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    init(&b, 2).await;
    let board = b.app.json("/api/v1/board", None).await;
    assert_eq!(board["threshold"], 2);
    assert_eq!(board["members"].as_array().map(Vec::len), Some(3));

    // A policy change: proposed with the exact text; k−1 signatures change nothing.
    let text = weir_core::policy::DEFAULT_POLICY.replace(
        "version = \"weir-default-2026.11\"",
        "version = \"board-2026.12\"",
    );
    let (s, v) = propose(&b, &b.outsider, json!({"kind": "policy_set", "text": text})).await;
    assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "not_member"), "{v}");
    let (s, v) = propose(
        &b,
        &b.members[0].1,
        json!({"kind": "policy_set", "text": "nonsense"}),
    )
    .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::BAD_REQUEST, "invalid_change"),
        "{v}"
    );
    let (s, p) = propose(
        &b,
        &b.members[0].1,
        json!({"kind": "policy_set", "text": text}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{p}");
    let id = p["id"].as_i64().expect("id");
    assert_eq!(p["state"], "pending");
    let sha = p["change_sha256"].as_str().expect("sha");
    assert_eq!(
        p["digest"],
        weir_core::board::digest(id, sha, p["board_sha256"].as_str().expect("board"))
    );
    assert_eq!(
        weir_registry::board::from_wire(
            &serde_json::from_value(p["change"].clone()).expect("change")
        )
        .expect("change")
        .sha256(),
        sha,
        "the digest is over exactly the change shown"
    );
    // Not a member (an operator either), a signature over another digest, a repeat.
    let forged = weir_signing::sign_board(&"0".repeat(64), &b.members[1].2).expect("sign");
    let (s, v) = b
        .app
        .send_json(
            Method::POST,
            &format!("/api/v1/board/proposals/{id}/signatures"),
            Some(&b.members[1].1),
            json!({ "signature": forged }),
        )
        .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::BAD_REQUEST, "bad_signature"),
        "{v}"
    );
    let mine =
        weir_signing::sign_board(p["digest"].as_str().expect("d"), &b.members[0].2).expect("sign");
    for token in [&b.op, &b.outsider] {
        let (s, v) = b
            .app
            .send_json(
                Method::POST,
                &format!("/api/v1/board/proposals/{id}/signatures"),
                Some(token),
                json!({ "signature": mine }),
            )
            .await;
        assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "not_member"), "{v}");
    }
    // m2 presenting m1's signature is not m2's.
    let (s, v) = b
        .app
        .send_json(
            Method::POST,
            &format!("/api/v1/board/proposals/{id}/signatures"),
            Some(&b.members[1].1),
            json!({ "signature": mine }),
        )
        .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::BAD_REQUEST, "bad_signature"),
        "{v}"
    );
    let (s, v) = sign(&b, 0, &p).await;
    assert_eq!(
        (s, v["state"].as_str()),
        (StatusCode::OK, Some("pending")),
        "{v}"
    );
    let (s, v) = sign(&b, 0, &p).await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::CONFLICT, "already_signed"),
        "{v}"
    );
    let policy = b.app.json("/api/v1/policy", None).await;
    assert_ne!(
        policy["version"], "board-2026.12",
        "one signature changes nothing"
    );
    // The second signature applies exactly the proposed change.
    let (s, v) = sign(&b, 1, &p).await;
    assert_eq!(
        (s, v["state"].as_str()),
        (StatusCode::OK, Some("applied")),
        "{v}"
    );
    let policy = b.app.json("/api/v1/policy", None).await;
    assert_eq!(policy["version"], "board-2026.12", "{policy}");
    let (s, v) = sign(&b, 2, &p).await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");

    // Lowering a tier: the operator alone is refused; the board decides.
    b.app.repo("op/model", false).await;
    b.app.set_tier("op/model", Tier::T3).await;
    let (s, v) = b
        .app
        .send_json(
            Method::PUT,
            "/api/v1/repos/op/model/tier",
            Some(&b.op),
            json!({"tier": "T1", "reason": "re-evaluated"}),
        )
        .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::CONFLICT, "board_required"),
        "{v}"
    );
    let (s, t) = propose(
        &b,
        &b.op,
        json!({"kind": "tier_lower", "repo": "op/model", "tier": "T1", "reason": "re-evaluated"}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{t}");
    sign(&b, 2, &t).await;
    let (s, v) = sign(&b, 1, &t).await;
    assert_eq!(
        (s, v["state"].as_str()),
        (StatusCode::OK, Some("applied")),
        "{v}"
    );
    let repo = b
        .app
        .store
        .db
        .repo(&weir_core::RepoId::parse("op/model").expect("id"))
        .await
        .expect("db")
        .expect("repo");
    assert_eq!(repo.tier, Tier::T1);

    // The decisions verify from the log alone; a tampered entry does not.
    b.app.settled_checkpoint().await;
    let entries = log_json(crate::log::log_text(&b.app).await);
    let verify = |e: &[Value], id: i64| {
        weir_core::board::verify_decision(e, id, |k, d, s| weir_signing::verify_board(d, s, k))
    };
    let v = verify(&entries, id).expect("verifies");
    assert_eq!((v.signers.len(), v.outcome.as_str()), (2, "applied"));
    let mut tampered = entries.clone();
    let i = tampered
        .iter()
        .position(|e| e["action"] == "board.sign" && e["public"]["proposal"] == id)
        .expect("a signature entry");
    tampered[i]["public"]["signature"] = json!(forged);
    assert!(verify(&tampered, id).is_err());
}

/// Membership itself is a board decision; the new board decides the next one.
#[tokio::test]
async fn the_board_changes_its_own_membership_by_its_threshold() {
    let b = board_world().await;
    init(&b, 2).await;
    let keep: Vec<Value> = b.members[..2]
        .iter()
        .map(|(n, _, _, k)| json!({"name": n, "public_key": k}))
        .collect();
    let (s, v) = propose(
        &b,
        &b.members[0].1,
        json!({"kind": "membership", "members": keep, "threshold": 3}),
    )
    .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::BAD_REQUEST, "invalid_change"),
        "threshold above the members: {v}"
    );
    // A proposal pending under the old board...
    let (s, stale) = propose(
        &b,
        &b.members[0].1,
        json!({"kind": "verifier_revoke", "name": "old"}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{stale}");
    let (s, p) = propose(
        &b,
        &b.members[0].1,
        json!({"kind": "membership", "members": keep, "threshold": 1}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{p}");
    sign(&b, 0, &p).await;
    let (s, v) = sign(&b, 2, &p).await;
    assert_eq!(
        (s, v["state"].as_str()),
        (StatusCode::OK, Some("applied")),
        "{v}"
    );
    let board = b.app.json("/api/v1/board", None).await;
    assert_eq!(
        (
            board["threshold"].as_i64(),
            board["members"].as_array().map(Vec::len)
        ),
        (Some(1), Some(2))
    );
    // ...can no longer be decided by the new one.
    let (s, v) = sign(&b, 0, &stale).await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::CONFLICT, "state_changed"),
        "{v}"
    );
    // The new board verifies from the log: its membership entry follows the applied decision.
    b.app.settled_checkpoint().await;
    let entries = log_json(crate::log::log_text(&b.app).await);
    let verified =
        weir_core::board::verify_decision(&entries, p["id"].as_i64().expect("id"), |k, d, s| {
            weir_signing::verify_board(d, s, k)
        })
        .expect("the membership decision verifies");
    assert_eq!(verified.outcome, "applied");
    // m3 is off the board now; m1 alone decides (threshold 1).
    let (s, q) = propose(
        &b,
        &b.members[1].1,
        json!({"kind": "verifier_revoke", "name": "nobody"}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{q}");
    let (s, v) = sign(&b, 2, &q).await;
    assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "not_member"), "{v}");
    let (s, v) = sign(&b, 0, &q).await;
    // The change no longer applies (no such verifier): the outcome says so, on the log.
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["state"], "failed", "{v}");
    assert!(
        v["outcome"]
            .as_str()
            .is_some_and(|o| o.starts_with("failed")),
        "{v}"
    );
}

/// A decision a stopped server was applying is not left hanging: at the next start it ends
/// as failed, on the log, and takes no more signatures.
#[tokio::test]
async fn a_decision_interrupted_while_applying_ends_failed() {
    let b = board_world().await;
    init(&b, 2).await;
    let (s, p) = propose(
        &b,
        &b.members[0].1,
        json!({"kind": "verifier_revoke", "name": "x"}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{p}");
    let id = p["id"].as_i64().expect("id");
    // As a server killed between the threshold signature and the outcome leaves it.
    b.app
        .store
        .db
        .move_proposal_logged(id, "pending", "applying", None, 0, None)
        .await
        .expect("applying");
    let n = weir_registry::board::recover(&b.app.store, weir_registry::clock::now())
        .await
        .expect("recover");
    assert_eq!(n, 1);
    let v = b
        .app
        .json(&format!("/api/v1/board/proposals/{id}"), None)
        .await;
    assert_eq!(v["state"], "failed", "{v}");
    let (s, _) = sign(&b, 1, &p).await;
    assert_eq!(s, StatusCode::CONFLICT);
}

/// Replicas: a decision another replica is applying right now (it holds the decision's lease)
/// is left alone by a starting replica's recovery; once that applier is gone, it ends failed.
#[tokio::test]
async fn recovery_leaves_a_decision_another_replica_applies_alone() {
    let b = board_world().await;
    init(&b, 2).await;
    let (s, p) = propose(
        &b,
        &b.members[0].1,
        json!({"kind": "verifier_revoke", "name": "x"}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{p}");
    let id = p["id"].as_i64().expect("id");
    let db = &b.app.store.db;
    let lease = db
        .try_lease(weir_store::dialect::PROPOSAL_LEASE, id)
        .await
        .expect("lease")
        .expect("free");
    db.move_proposal_logged(id, "pending", "applying", None, 0, None)
        .await
        .expect("applying");
    let postgres = db.backend() == weir_store::Backend::Postgres;
    if postgres {
        assert!(
            db.try_lease(weir_store::dialect::PROPOSAL_LEASE, id)
                .await
                .expect("ask")
                .is_none(),
            "one applier at a time"
        );
        let n = weir_registry::board::recover(&b.app.store, weir_registry::clock::now())
            .await
            .expect("recover");
        assert_eq!(n, 0, "its applier lives");
    }
    lease.release().await;
    let n = weir_registry::board::recover(&b.app.store, weir_registry::clock::now())
        .await
        .expect("recover");
    assert_eq!(n, 1);
}

/// A bounty pool's rules are a board decision where a board governs: the operator alone is
/// refused, the board's k signatures open it.
#[tokio::test]
async fn the_board_opens_bounty_pools() {
    let b = board_world().await;
    init(&b, 2).await;
    let rules = json!({"pays": [{"kind": "vulnerability", "amount": 10000}],
        "cap_per_report": 10000, "cap_per_pool": 100000});
    let (s, v) = b
        .app
        .send_json(
            Method::POST,
            "/api/v1/funding/pools",
            Some(&b.op),
            json!({"name": "vulns", "title": "Bounties", "purpose": "bounty", "rules": {
                "pays": [{"kind": "vulnerability", "amount": "100"}],
                "cap_per_report": "100", "cap_per_pool": "1000"}}),
        )
        .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::CONFLICT, "board_required"),
        "{v}"
    );
    let (s, p) = propose(
        &b,
        &b.op,
        json!({"kind": "pool_create", "name": "vulns", "title": "Bounties", "rules": rules}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{p}");
    sign(&b, 0, &p).await;
    let (s, v) = sign(&b, 1, &p).await;
    assert_eq!(
        (s, v["state"].as_str()),
        (StatusCode::OK, Some("applied")),
        "{v}"
    );
    let pool = b.app.json("/api/v1/funding/pools/vulns", None).await;
    assert_eq!(pool["rules"]["cap_per_pool"], "1000.00", "{pool}");
}

/// A new evaluation suite changes classification as the policy does: where a board governs,
/// the operator alone is refused, and k signatures add exactly the proposed suite.
#[tokio::test]
async fn the_board_adds_evaluation_suites() {
    let b = board_world().await;
    init(&b, 2).await;
    let suite = weir_core::eval::Suite {
        name: "cyber-ctf".into(),
        version: 0,
        domain: weir_core::eval::Domain::Cyber,
        metric: "acc".into(),
        chance: 0.25,
        questions: 400,
        original_questions: None,
        tasks: vec!["cyber_ctf".into()],
        source: "a test".into(),
    };
    let direct = weir_registry::evaluators::add_suite(
        &b.app.store,
        suite.clone(),
        &weir_registry::Context::default(),
        weir_registry::clock::now(),
    )
    .await;
    assert!(direct.is_err(), "the operator alone adds no suite");
    let change = json!({"kind": "suite_add", "suite": {"name": "cyber-ctf", "version": 0,
        "domain": "cyber", "metric": "acc", "chance": 0.25, "questions": 400,
        "original_questions": null, "tasks": ["cyber_ctf"], "source": "a test"}});
    // Nonsense is refused when proposed, never at decision time.
    let mut bad = change.clone();
    bad["suite"]["chance"] = json!(1.5);
    let (s, v) = propose(&b, &b.op, bad).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let mut bad = change.clone();
    bad["suite"]["tasks"] = json!([]);
    let (s, v) = propose(&b, &b.op, bad).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let (s, p) = propose(&b, &b.op, change).await;
    assert_eq!(s, StatusCode::CREATED, "{p}");
    let (_, v) = sign(&b, 0, &p).await;
    assert_eq!(v["state"], "pending", "{v}");
    assert!(
        b.app
            .store
            .db
            .suites()
            .await
            .expect("suites")
            .iter()
            .all(|s| s.name != "cyber-ctf"),
        "k-1 signatures change nothing"
    );
    let (s, v) = sign(&b, 2, &p).await;
    assert_eq!(
        (s, v["state"].as_str()),
        (StatusCode::OK, Some("applied")),
        "{v}"
    );
    let added = b
        .app
        .store
        .db
        .suites()
        .await
        .expect("suites")
        .into_iter()
        .find(|s| s.name == "cyber-ctf")
        .expect("added");
    assert_eq!(
        weir_core::eval::Suite {
            version: added.version,
            ..suite
        },
        added
    );
}
