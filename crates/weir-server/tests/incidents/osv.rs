//! The OSV feed (`src/incidents/osv.rs`): embargoes, overdue records, only disclosed records shown.

use super::*;
use crate::common::TestApp;
use reqwest::StatusCode;
use serde_json::json;
use weir_core::Scope;

#[tokio::test]
async fn embargo_overdue_and_undisclosed_records_stay_private() {
    let app = TestApp::new().await;
    let alice = app.user("alice", Scope::Write).await;
    let op = app.user("op", Scope::Admin).await;
    app.repo("alice/m", false).await;
    app.commit("alice/m", "main", &alice, &[("config.json", b"{}")])
        .await;
    let mut body = report("alice/m");
    body["class"] = json!("minor");
    body["kind"] = json!("vulnerability");
    let (_, v) = post(&app, "/api/v1/incidents", Some(&alice), body).await;
    let id = v["id"].as_str().expect("id").to_string();
    let steps = [
        json!({"to": "triaged", "severity": "low", "reason": "t"}),
        json!({"to": "confirmed", "reason": "c", "embargo_until": "2099-01-01"}),
    ];
    for b in steps {
        let (s, v) = app_transition(&app, &id, Some(&op), None, b).await;
        assert_eq!(s, StatusCode::OK, "{v}");
    }
    let (s, v) = app_transition(
        &app,
        &id,
        Some(&op),
        None,
        json!({"to": "disclosed", "reason": "early"}),
    )
    .await;
    assert_eq!(
        (s, v["error"].as_str()),
        (StatusCode::CONFLICT, Some("embargoed"))
    );
    assert!(v["message"].as_str().expect("m").contains("2099-01-01"));
    assert_eq!(
        app.get(&format!("/osv/{id}.json"), None).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(app.json("/osv/all.json", None).await, json!([]));
    // Invalid embargo dates are refused; only operators set embargoes.
    let (s, v) = app_transition(&app, &id, Some(&op), None, json!({"to": "mitigated", "reason": "m", "fixed_revision": "main", "embargo_until": "soon"})).await;
    assert_eq!(
        (s, v["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_date")),
        "{v}"
    );
    // A class with a regulatory clock shows up as overdue only when late: a fresh cyber report
    // is not overdue.
    let (_, v) = post(&app, "/api/v1/incidents", None, report("alice/m")).await;
    assert_eq!(v["overdue"], false);
    let overdue = app.json("/api/v1/incidents?overdue=true", Some(&op)).await;
    assert_eq!(overdue["incidents"], json!([]));
    let all = app.json("/api/v1/incidents", Some(&op)).await;
    assert_eq!(all["incidents"].as_array().expect("list").len(), 2);
    assert_eq!(
        app.json("/api/v1/incidents", None).await["incidents"],
        json!([])
    );
}
