//! Publisher standing and sign-offs (`src/publishers.rs`) gating releases.

use crate::common::TestApp;
use crate::incidents::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use weir_core::Scope;

#[tokio::test]
async fn standing_gates_releases_probation_needs_evaluations_and_a_signoff_suspended_never() {
    let app = TestApp::new().await;
    let alice = app.user("alice", Scope::Write).await;
    let op = app.user("op", Scope::Admin).await;
    let op2 = app.user("op2", Scope::Admin).await;
    let (secret, public) = weir_signing::generate_key();
    app.store
        .db
        .add_evaluator_logged("lab", &public, &crate::common::admin_event("add_evaluator"))
        .await
        .expect("accredit");
    app.repo("alice/m", false).await;
    app.commit("alice/m", "main", &alice, &[("w.bin", b"weights")])
        .await;
    let release = |rev: &'static str| {
        let app = &app;
        let alice = alice.clone();
        async move {
            let r = app
                .req(Method::POST, "/api/v1/repos/alice/m/releases", Some(&alice))
                .json(&json!({"revision": rev}))
                .send()
                .await
                .expect("send");
            let s = r.status();
            (s, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    // A high-severity confirmed incident puts alice on probation.
    let (_, v) = post(&app, "/api/v1/incidents", Some(&op), report("alice/m")).await;
    let id = v["id"].as_str().expect("id").to_string();
    for b in [
        json!({"to": "triaged", "severity": "high", "reason": "t"}),
        json!({"to": "confirmed", "reason": "c"}),
    ] {
        let (s, v) = app_transition(&app, &id, Some(&op2), None, b).await;
        assert_eq!(s, StatusCode::OK, "{v}");
    }
    let (s, v) = release("main").await;
    assert_eq!(
        (s, v["error"].as_str()),
        (StatusCode::CONFLICT, Some("evaluations_required")),
        "{v}"
    );
    // Accredited evaluations of every evaluable domain on this revision…
    for (suite, task, n) in [
        ("wmdp-bio", "wmdp_bio", 1273),
        ("wmdp-chem", "wmdp_chem", 408),
        ("wmdp-cyber", "wmdp_cyber", 1987),
    ] {
        let r = app
            .req(
                Method::POST,
                &format!("/api/v1/models/alice/m/evaluations?suite={suite}"),
                Some(&alice),
            )
            .body(lm_eval_log(task, n))
            .send()
            .await
            .expect("send");
        let v: Value = r.json().await.expect("json");
        let sig = weir_signing::sign_result(v["payload"].as_str().expect("payload"), &secret)
            .expect("sign");
        let (s, _) = post(
            &app,
            &format!(
                "/api/v1/evaluations/{}/signature",
                v["id"].as_str().expect("id")
            ),
            None,
            json!({"evaluator": "lab", "signature": sig}),
        )
        .await;
        assert_eq!(s, StatusCode::OK);
    }
    // …are not enough on probation: an operator signs off too (not the publisher).
    let (s, v) = release("main").await;
    assert_eq!(
        (s, v["error"].as_str()),
        (StatusCode::CONFLICT, Some("signoff_required")),
        "{v}"
    );
    let (s, _) = post(
        &app,
        "/api/v1/repos/alice/m/releases/main/signoff",
        Some(&alice),
        json!({"reason": "mine"}),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = post(
        &app,
        "/api/v1/repos/alice/m/releases/main/signoff",
        Some(&op),
        json!({"reason": "evaluations reviewed"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (s, v) = release("main").await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let rec = app.json("/api/v1/publishers/alice/record", None).await;
    assert_eq!(rec["releases"]["with_pre_release_evaluations"], 1, "{rec}");
    assert_eq!(rec["incidents"]["median_hours_to_triage"], 0.0);

    // A critical confirmed incident suspends: no release at all.
    let (_, v) = post(&app, "/api/v1/incidents", Some(&op), report("alice/m")).await;
    let id = v["id"].as_str().expect("id").to_string();
    for b in [
        json!({"to": "triaged", "severity": "critical", "reason": "t"}),
        json!({"to": "confirmed", "reason": "c"}),
    ] {
        app_transition(&app, &id, Some(&op2), None, b).await;
    }
    app.commit("alice/m", "main", &alice, &[("w.bin", b"weights v2")])
        .await;
    let (s, v) = release("main").await;
    assert_eq!(
        (s, v["error"].as_str()),
        (StatusCode::CONFLICT, Some("publisher_suspended")),
        "{v}"
    );
    assert!(
        v["message"]
            .as_str()
            .expect("m")
            .contains("suspend_critical_incidents")
    );
    let rec = app.json("/api/v1/publishers/alice/record", None).await;
    assert_eq!(rec["standing"], "suspended");
    assert_eq!(
        rec["incidents"]["confirmed_by_kind_and_severity"]["incident"],
        json!({"critical": 1, "high": 1})
    );
}
