//! Delivery holds (`src/incidents/holds.rs`) apply to every byte path.

use super::*;
use crate::common::TestApp;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use weir_core::Scope;

/// F14: every gated route meets the same revision-aware check: the hold of a confirmed
/// incident stops auth-check and the raw evaluation log of the held revision too. F20: the
/// denial points at a public notice the caller can read.
#[tokio::test]
async fn holds_apply_to_auth_check_and_raw_logs() {
    let app = TestApp::new().await;
    let alice = app.user("alice", Scope::Write).await;
    let carol = app.user("carol", Scope::Read).await;
    let op = app.user("op", Scope::Admin).await;
    app.repo("alice/m", false).await;
    app.commit("alice/m", "main", &alice, &[("w.bin", b"weights")])
        .await;
    let v1 = app.head_of("alice/m", "main").await;
    let log = json!({
        "results": {"wmdp_bio": {"alias": "wmdp_bio", "acc,none": 0.25, "acc_stderr,none": "N/A"}},
        "n-samples": {"wmdp_bio": {"original": 1273, "effective": 1273}},
        "config": {"model": "hf", "model_args": "pretrained=x", "limit": null},
        "lm_eval_version": "0.4.13",
    });
    let r = app
        .req(
            Method::POST,
            &format!("/api/v1/models/alice/m/evaluations?suite=wmdp-bio&filename=results.json&revision={v1}"),
            Some(&carol),
        )
        .body(log.to_string())
        .send()
        .await
        .expect("import");
    assert_eq!(r.status(), StatusCode::CREATED);
    let result_id = r.json::<Value>().await.expect("json")["id"]
        .as_str()
        .expect("id")
        .to_string();
    let raw = format!("/api/v1/evaluations/{result_id}/raw");
    assert_eq!(app.get(&raw, Some(&carol)).await.status(), StatusCode::OK);
    assert_eq!(
        app.get("/api/models/alice/m/auth-check", Some(&carol))
            .await
            .status(),
        StatusCode::OK
    );
    // A confirmed incident with a hold on v1.
    let (_, v) = incident_post(&app, "/api/v1/incidents", Some(&carol), None,
        json!({"repo": "alice/m", "kind": "incident", "class": "cyber", "summary": "s", "revisions": [v1]})).await;
    let id = v["id"].as_str().expect("id").to_string();
    let path = format!("/api/v1/incidents/{id}/transition");
    incident_post(
        &app,
        &path,
        Some(&op),
        None,
        json!({"to": "triaged", "severity": "high", "reason": "r"}),
    )
    .await;
    let (s, _) = incident_post(
        &app,
        &path,
        Some(&op),
        None,
        json!({"to": "confirmed", "reason": "r", "hold": true}),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    for route in [raw.as_str(), "/api/models/alice/m/auth-check"] {
        let r = app.get(route, Some(&carol)).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{route}");
        let v: Value = r.json().await.expect("json");
        assert_eq!(v["error"], "incident_hold", "{route}: {v}");
        assert!(
            v["next"]
                .as_str()
                .is_some_and(|n| n.contains("/api/v1/models/alice/m/holds")),
            "{v}"
        );
    }
    // The notice is public and names no undisclosed incident.
    let notice = app.json("/api/v1/models/alice/m/holds", None).await;
    assert_eq!(notice["holds"][0]["revisions"][0], v1.as_str());
    assert_eq!(notice["holds"][0]["incident"], Value::Null);
}
