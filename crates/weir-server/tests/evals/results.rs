//! Evaluation results (`src/evals/results.rs`): only signed, complete results on the exact revision
//! count; hostile logs change nothing.

use super::*;
use crate::common::TestApp;
use reqwest::{Method, StatusCode};
use serde_json::json;
use weir_core::{RepoId, Scope, Tier};

#[tokio::test]
async fn only_signed_complete_results_on_the_exact_revision_count() {
    let app = TestApp::new().await;
    let alice = app.user("alice", Scope::Write).await;
    let carol = app.user("carol", Scope::Read).await;
    let (lab_secret, lab_public) = weir_signing::generate_key();
    let (rogue_secret, _) = weir_signing::generate_key();
    app.store
        .db
        .add_evaluator_logged(
            "evallab",
            &lab_public,
            &crate::common::admin_event("add_evaluator"),
        )
        .await
        .expect("accredit");
    // A derivative of a T3 base inherits T3 until every evaluable domain is ruled out.
    app.org("acme", &[]).await;
    app.repo("acme/base", false).await;
    app.store
        .db
        .set_tier(
            &app.store
                .db
                .repo(&RepoId::parse("acme/base").expect("id"))
                .await
                .expect("db")
                .expect("repo"),
            Tier::T3,
        )
        .await
        .expect("tier");
    app.repo("alice/ft", false).await;
    app.commit(
        "alice/ft",
        "main",
        &alice,
        &[("README.md", &card("1e22", "base_model: acme/base\n"))],
    )
    .await;
    assert_eq!(tier(&app, "alice/ft").await, Tier::T3);
    let c = app
        .json("/api/v1/models/alice/ft/classification", None)
        .await;
    assert_eq!(c["deciding_rule"], "derivatives");

    // A limited run imports but is partial.
    let (s, limited) = import(
        &app,
        &carol,
        "alice/ft",
        "wmdp-bio",
        lm_eval_log("wmdp_bio", 0.26, 1273, "100"),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{limited}");
    assert!(
        !limited["record"]["partial"]
            .as_array()
            .expect("partial")
            .is_empty()
    );
    // Anonymous imports are refused; unknown suites name the known ones.
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
    let (s, v) = import(
        &app,
        &carol,
        "alice/ft",
        "mmlu",
        lm_eval_log("mmlu", 0.3, 10, "null"),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(v["next"].as_str().expect("next").contains("wmdp-bio"));

    // The raw log comes back byte for byte, to those who may download the model's files: the
    // derivative is T3 (inherited), so not even its publisher downloads it.
    let raw = format!(
        "/api/v1/evaluations/{}/raw",
        limited["id"].as_str().expect("id")
    );
    let r = app.get(&raw, Some(&carol)).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.text().await.expect("body").contains("tier_no_egress"));
    app.repo("alice/open", false).await;
    app.commit("alice/open", "main", &alice, &[("config.json", b"{}")])
        .await;
    let bytes = lm_eval_log("wmdp_bio", 0.26, 1273, "null");
    let (s, v) = import(&app, &carol, "alice/open", "wmdp-bio", bytes.clone()).await;
    assert_eq!(s, StatusCode::CREATED);
    let r = app
        .get(
            &format!("/api/v1/evaluations/{}/raw", v["id"].as_str().expect("id")),
            None,
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.bytes().await.expect("bytes").to_vec(), bytes);
    let r = app
        .get(&format!("/api/v1/evaluations/{}/raw", "0".repeat(64)), None)
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    let mut ids = Vec::new();
    for (suite, task, acc, n) in [
        ("wmdp-bio", "wmdp_bio", 0.26, 1273),
        ("wmdp-chem", "wmdp_chem", 0.27, 412),
        ("wmdp-cyber", "wmdp_cyber", 0.25, 1987),
    ] {
        let (s, v) = import(
            &app,
            &carol,
            "alice/ft",
            suite,
            lm_eval_log(task, acc, n, "null"),
        )
        .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        assert_eq!(v["signed"], false);
        ids.push((
            v["id"].as_str().expect("id").to_string(),
            v["payload"].as_str().expect("p").to_string(),
        ));
    }
    // Unsigned results do not lower anything.
    assert_eq!(
        app.json("/api/v1/models/alice/ft/classification", None)
            .await["minimum_tier"],
        "T3"
    );
    let sign = |id: String, evaluator: &str, signature: String| {
        let app = &app;
        let evaluator = evaluator.to_string();
        async move {
            app.req(
                Method::POST,
                &format!("/api/v1/evaluations/{id}/signature"),
                None,
            )
            .json(&json!({"evaluator": evaluator, "signature": signature}))
            .send()
            .await
            .expect("send")
        }
    };
    let (id0, p0) = ids[0].clone();
    let forged = weir_signing::sign_result(&p0, &rogue_secret).expect("sign");
    assert_eq!(
        sign(id0.clone(), "evallab", forged.clone()).await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        sign(id0.clone(), "nobody", forged).await.status(),
        StatusCode::FORBIDDEN
    );
    // The limited run is signed too: signed or not, a partial run never counts.
    ids.push((
        limited["id"].as_str().expect("id").to_string(),
        limited["payload"].as_str().expect("p").to_string(),
    ));
    for (id, payload) in &ids {
        let sig = weir_signing::sign_result(payload, &lab_secret).expect("sign");
        let r = sign(id.clone(), "evallab", sig.clone()).await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(
            sign(id.clone(), "evallab", sig).await.status(),
            StatusCode::CONFLICT
        );
    }
    // Re-evaluated: the derivative's own evidence rules every domain out. The computed floor
    // falls (the tier itself stays until an operator lowers it, with a reason).
    let c = app
        .json("/api/v1/models/alice/ft/classification", None)
        .await;
    assert_eq!(c["minimum_tier"], "T0", "{c}");
    assert_eq!(c["counted_results"], 3);
    assert_eq!(c["ignored_results"][0]["reason"], "partial");
    assert_eq!(events(&app, "alice/ft", "eval.signed").await.len(), 4);

    // A new revision: the results were about the old one and no longer count.
    let evaluated = app.head_of("alice/ft", "main").await;
    app.commit("alice/ft", "main", &alice, &[("notes.txt", b"v2")])
        .await;
    let c = app
        .json("/api/v1/models/alice/ft/classification", None)
        .await;
    assert_eq!(c["minimum_tier"], "T3");
    assert_eq!(c["counted_results"], 0);
    assert!(
        c["ignored_results"]
            .as_array()
            .expect("ignored")
            .iter()
            .any(|r| r["reason"] == "other_revision")
    );

    // On the evaluated revision they still count, until the evaluator's accreditation ends.
    let at_old = format!("/api/v1/models/alice/ft/classification?revision={evaluated}");
    assert_eq!(app.json(&at_old, None).await["minimum_tier"], "T0");
    app.store
        .db
        .revoke_evaluator_logged("evallab", &crate::common::admin_event("revoke_evaluator"))
        .await
        .expect("revoke");
    let c = app.json(&at_old, None).await;
    assert_eq!(c["minimum_tier"], "T3");
    assert_eq!(
        c["ignored_results"][1]["reason"],
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
