//! Evaluation results (`src/evals/results.rs`): only signed, complete results on the exact revision
//! count; hostile logs change nothing.

use super::*;
use crate::common::TestApp;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use weir_core::{Scope, Tier};

/// How many junk results a flooding test imports (more than a page shows).
pub(crate) const FLOOD: usize = 105;

/// alice/ft, a fine-tune of acme/base (T3), so T3 by inheritance until its own results rule
/// every domain out; evallab is accredited. Returns (app, alice, carol, evallab's secret).
pub(crate) async fn derivative() -> (TestApp, String, String, String) {
    let app = TestApp::new().await;
    let alice = app.user("alice", Scope::Write).await;
    let carol = app.user("carol", Scope::Read).await;
    let (lab_secret, lab_public) = weir_signing::generate_key();
    app.store
        .db
        .add_evaluator_logged(
            "evallab",
            &lab_public,
            &crate::common::admin_event("add_evaluator"),
        )
        .await
        .expect("accredit");
    app.org("acme", &[]).await;
    app.repo("acme/base", false).await;
    crate::access::set_tier(&app, "acme/base", Tier::T3).await;
    app.repo("alice/ft", false).await;
    app.commit(
        "alice/ft",
        "main",
        &alice,
        &[("README.md", &card("1e22", "base_model: acme/base\n"))],
    )
    .await;
    (app, alice, carol, lab_secret)
}

/// Imports full runs of the three WMDP suites on alice/ft; returns (id, payload) of each.
pub(crate) async fn full_runs(app: &TestApp, carol: &str) -> Vec<(String, String)> {
    let mut ids = Vec::new();
    for (suite, task, acc, n) in [
        ("wmdp-bio", "wmdp_bio", 0.26, 1273),
        ("wmdp-chem", "wmdp_chem", 0.27, 412),
        ("wmdp-cyber", "wmdp_cyber", 0.25, 1987),
    ] {
        let log = lm_eval_log(task, acc, n, "null");
        let (s, v) = import(app, carol, "alice/ft", suite, log).await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        assert_eq!(v["signed"], false);
        ids.push((
            v["id"].as_str().expect("id").to_string(),
            v["payload"].as_str().expect("p").to_string(),
        ));
    }
    ids
}

async fn sign(app: &TestApp, id: &str, evaluator: &str, signature: &str) -> StatusCode {
    app.req(
        Method::POST,
        &format!("/api/v1/evaluations/{id}/signature"),
        None,
    )
    .json(&json!({"evaluator": evaluator, "signature": signature}))
    .send()
    .await
    .expect("send")
    .status()
}

async fn classification(app: &TestApp, query: &str) -> Value {
    app.json(
        &format!("/api/v1/models/alice/ft/classification{query}"),
        None,
    )
    .await
}

#[tokio::test]
async fn a_derivative_of_a_t3_base_inherits_t3() {
    let (app, _, _, _) = derivative().await;
    assert_eq!(tier(&app, "alice/ft").await, Tier::T3);
    let c = classification(&app, "").await;
    assert_eq!(c["deciding_rule"], "derivatives");
    assert_eq!(c["minimum_tier"], "T3");
}

#[tokio::test]
async fn imports_need_an_account_and_a_known_suite() {
    let (app, _, carol, _) = derivative().await;
    let r = app
        .req(
            Method::POST,
            "/api/v1/models/alice/ft/evaluations?suite=wmdp-bio",
            None,
        )
        .body(lm_eval_log("wmdp_bio", 0.26, 1273, "null"))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let log = lm_eval_log("mmlu", 0.3, 10, "null");
    let (s, v) = import(&app, &carol, "alice/ft", "mmlu", log).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(v["next"].as_str().expect("next").contains("wmdp-bio"));
}

/// The raw log comes back byte for byte, to those who may download the model's files: the
/// derivative is T3 (inherited), so not even its publisher downloads its logs.
#[tokio::test]
async fn the_raw_log_comes_back_byte_for_byte_only_to_those_who_may_download() {
    let (app, alice, carol, _) = derivative().await;
    let log = lm_eval_log("wmdp_bio", 0.26, 1273, "null");
    let (_, v) = import(&app, &carol, "alice/ft", "wmdp-bio", log.clone()).await;
    let raw = format!("/api/v1/evaluations/{}/raw", v["id"].as_str().expect("id"));
    for token in [Some(carol.as_str()), Some(alice.as_str())] {
        let r = app.get(&raw, token).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        assert!(r.text().await.expect("body").contains("tier_no_egress"));
    }
    app.repo("alice/open", false).await;
    app.commit("alice/open", "main", &alice, &[("config.json", b"{}")])
        .await;
    let (s, v) = import(&app, &carol, "alice/open", "wmdp-bio", log.clone()).await;
    assert_eq!(s, StatusCode::CREATED);
    let raw = format!("/api/v1/evaluations/{}/raw", v["id"].as_str().expect("id"));
    let r = app.get(&raw, None).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.bytes().await.expect("bytes").to_vec(), log);
    let missing = format!("/api/v1/evaluations/{}/raw", "0".repeat(64));
    assert_eq!(
        app.get(&missing, None).await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn only_an_accredited_evaluators_signature_counts_and_only_once() {
    let (app, _, carol, lab_secret) = derivative().await;
    let ids = full_runs(&app, &carol).await;
    // Unsigned results do not lower anything.
    assert_eq!(classification(&app, "").await["minimum_tier"], "T3");
    let (rogue_secret, _) = weir_signing::generate_key();
    let (id0, p0) = &ids[0];
    let forged = weir_signing::sign_result(p0, &rogue_secret).expect("sign");
    assert_eq!(
        sign(&app, id0, "evallab", &forged).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        sign(&app, id0, "nobody", &forged).await,
        StatusCode::FORBIDDEN
    );
    for (id, payload) in &ids {
        let sig = weir_signing::sign_result(payload, &lab_secret).expect("sign");
        assert_eq!(sign(&app, id, "evallab", &sig).await, StatusCode::OK);
        assert_eq!(sign(&app, id, "evallab", &sig).await, StatusCode::CONFLICT);
    }
    // The derivative's own evidence rules every domain out: the floor falls, and with signed
    // results (a review) the tier falls back to the one its publisher chose.
    let c = classification(&app, "").await;
    assert_eq!(c["minimum_tier"], "T0", "{c}");
    assert_eq!(c["counted_results"], 3);
    assert_eq!(tier(&app, "alice/ft").await, Tier::T0);
    assert_eq!(events(&app, "alice/ft", "eval.signed").await.len(), 3);
}

#[tokio::test]
async fn a_limited_run_is_partial_and_never_counts_even_signed() {
    let (app, _, carol, lab_secret) = derivative().await;
    let log = lm_eval_log("wmdp_bio", 0.26, 1273, "100");
    let (s, limited) = import(&app, &carol, "alice/ft", "wmdp-bio", log).await;
    assert_eq!(s, StatusCode::CREATED, "{limited}");
    let partial = limited["record"]["partial"].as_array().expect("partial");
    assert!(!partial.is_empty());
    let mut ids = full_runs(&app, &carol).await;
    ids.remove(0);
    ids.push((
        limited["id"].as_str().expect("id").to_string(),
        limited["payload"].as_str().expect("p").to_string(),
    ));
    for (id, payload) in &ids {
        let sig = weir_signing::sign_result(payload, &lab_secret).expect("sign");
        assert_eq!(sign(&app, id, "evallab", &sig).await, StatusCode::OK);
    }
    // bio has only the signed limited run (its full run stays unsigned): not ruled out.
    let c = classification(&app, "").await;
    assert_eq!(c["minimum_tier"], "T3", "{c}");
    assert_eq!(c["counted_results"], 2);
    let reasons: Vec<&str> = c["ignored_results"]
        .as_array()
        .expect("ignored")
        .iter()
        .filter_map(|r| r["reason"].as_str())
        .collect();
    assert!(
        reasons.contains(&"partial") && reasons.contains(&"unsigned"),
        "{c}"
    );
}

#[tokio::test]
async fn results_count_only_on_the_revision_evaluated_and_while_accredited() {
    let (app, alice, carol, lab_secret) = derivative().await;
    for (id, payload) in full_runs(&app, &carol).await {
        let sig = weir_signing::sign_result(&payload, &lab_secret).expect("sign");
        assert_eq!(sign(&app, &id, "evallab", &sig).await, StatusCode::OK);
    }
    let evaluated = app.head_of("alice/ft", "main").await;
    app.commit("alice/ft", "main", &alice, &[("notes.txt", b"v2")])
        .await;
    let c = classification(&app, "").await;
    assert_eq!(c["minimum_tier"], "T3");
    assert_eq!(c["counted_results"], 0);
    let ignored = c["ignored_results"].as_array().expect("ignored");
    assert!(ignored.iter().any(|r| r["reason"] == "other_revision"));
    let at_old = format!("?revision={evaluated}");
    assert_eq!(classification(&app, &at_old).await["minimum_tier"], "T0");
    app.store
        .db
        .revoke_evaluator_logged("evallab", &crate::common::admin_event("revoke_evaluator"))
        .await
        .expect("revoke");
    let c = classification(&app, &at_old).await;
    assert_eq!(c["minimum_tier"], "T3");
    assert_eq!(
        c["ignored_results"][0]["reason"],
        "evaluator_not_accredited"
    );
}

#[tokio::test]
async fn hostile_logs_get_clear_errors_and_change_nothing() {
    let app = TestApp::new().await;
    let alice = app.user("alice", Scope::Write).await;
    app.repo("alice/m", false).await;
    app.commit(
        "alice/m",
        "main",
        &alice,
        &[("README.md", &card("1e20", ""))],
    )
    .await;
    let blobs = || walk(&app.dir.path().join("blobs").join("sha256"));
    let before = blobs();
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"PK\x03\x04truncated".to_vec(), "Zip"),
        (
            b"{\"results\": {\"wmdp_bio\": {\"acc,none\": 1e999}}}".to_vec(),
            "number out of range",
        ),
        (
            b"{\"results\": {\"wmdp_bio\": {\"acc,none\": 7}}}".to_vec(),
            "not a proportion",
        ),
        (b"{\"lm_eval_version\": \"0.4\"}".to_vec(), "results"),
        (b"<html>".to_vec(), "not JSON"),
    ];
    for (body, want) in cases {
        let (s, v) = import(&app, &alice, "alice/m", "wmdp-bio", body).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
        assert_eq!(v["error"], "invalid_eval_log");
        assert!(
            v["message"].as_str().expect("m").contains(want),
            "{v} (wanted {want})"
        );
    }
    let (s, _) = import(&app, &alice, "alice/m", "wmdp-bio", Vec::new()).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(blobs(), before, "no blob is left behind");
    assert!(
        app.json("/api/v1/models/alice/m/evaluations", None).await["results"]
            .as_array()
            .expect("results")
            .is_empty()
    );
    assert!(events(&app, "alice/m", "eval.imported").await.is_empty());
}

/// A bounty pool that pays for evaluations proposes a payout to whoever imported a result once
/// an accredited evaluator signs it (it then counts), by its suite; an unsigned one earns
/// nothing, and a second signature cannot earn twice.
#[tokio::test]
async fn a_signed_evaluation_earns_its_bounty() {
    let (app, _alice, carol, secret) = derivative().await;
    let op = app.user("op", Scope::Admin).await;
    let fred = app.user("fred", Scope::Write).await;
    let (s, v) = app
        .send_json(
            Method::POST,
            "/api/v1/funding/pools",
            Some(&op),
            json!({"name": "evals", "title": "Evaluation bounties", "purpose": "bounty", "rules": {
                "pays": [{"kind": "evaluation", "suite": "wmdp-bio", "amount": "40"}],
                "cap_per_report": "40", "cap_per_pool": "100"}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    app.send_json(
        Method::POST,
        "/api/v1/funding/pools/evals/pledges",
        Some(&fred),
        json!({"amount": "100"}),
    )
    .await;
    let runs = full_runs(&app, &carol).await;
    let payouts = app.json("/api/v1/funding/payouts", Some(&op)).await;
    assert_eq!(
        payouts["payouts"],
        json!([]),
        "unsigned results earn nothing"
    );
    for (id, payload) in &runs {
        let sig = weir_signing::sign_result(payload, &secret).expect("sign");
        assert_eq!(sign(&app, id, "evallab", &sig).await, StatusCode::OK);
    }
    let payouts = app.json("/api/v1/funding/payouts", Some(&op)).await;
    let list = payouts["payouts"].as_array().expect("payouts");
    assert_eq!(list.len(), 1, "only the wmdp-bio rule pays: {payouts}");
    assert_eq!(list[0]["beneficiary"], "carol");
    assert_eq!(list[0]["amount"], "40.00");
    assert_eq!(list[0]["source"], format!("evaluation:{}", runs[0].0));
}
