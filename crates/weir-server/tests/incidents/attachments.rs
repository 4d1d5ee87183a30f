//! Incident attachments (`src/incidents/attachments.rs`): bounded for anonymous reporters.

use super::*;
use crate::common::TestApp;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use weir_core::Scope;

/// F11: anonymous callers cannot store unbounded data: aliases, attachments per report (count
/// and total) and per address, reports per address per day are all bounded.
#[tokio::test]
async fn anonymous_reports_and_attachments_are_bounded() {
    let app = TestApp::new().await;
    let alice = app.user("alice", Scope::Write).await;
    app.repo("alice/m", false).await;
    app.commit("alice/m", "main", &alice, &[("w.bin", b"weights")])
        .await;
    // 300,000 aliases: the body alone is over the reports' 1 MiB bound.
    let aliases: Vec<String> = (0..300_000).map(|i| format!("AIID-{i}")).collect();
    let (s, v) = incident_post(
        &app,
        "/api/v1/incidents",
        None,
        None,
        a_report(json!({"aliases": aliases})),
    )
    .await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE, "{v}");
    // 17 aliases: over the count.
    let aliases: Vec<String> = (0..17).map(|i| format!("AIID-{i}")).collect();
    let (s, v) = incident_post(
        &app,
        "/api/v1/incidents",
        None,
        None,
        a_report(json!({"aliases": aliases})),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(v["error"], "too_many_aliases");
    // An anonymous report, then attachments: a large one is refused, nothing kept.
    let (s, v) = incident_post(&app, "/api/v1/incidents", None, None, a_report(json!({}))).await;
    assert_eq!(s, StatusCode::CREATED);
    let id = v["id"].as_str().expect("id").to_string();
    let token = v["followup_token"].as_str().expect("token").to_string();
    let attach = |name: String, bytes: Vec<u8>| {
        let app = &app;
        let id = id.clone();
        let token = token.clone();
        async move {
            app.req(
                Method::POST,
                &format!("/api/v1/incidents/{id}/attachments?name={name}"),
                None,
            )
            .header("x-weir-followup", token)
            .body(bytes)
            .send()
            .await
            .expect("send")
        }
    };
    let blobs_before = std::fs::read_dir(app.dir.path().join("blobs/sha256"))
        .map(|d| d.count())
        .unwrap_or(0);
    let big = vec![7u8; (weir_server::limits::MAX_ANON_ATTACHMENT + 1) as usize];
    let r = attach("big.bin".into(), big).await;
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        std::fs::read_dir(app.dir.path().join("blobs/sha256"))
            .map(|d| d.count())
            .unwrap_or(0),
        blobs_before,
        "a refused attachment leaves nothing"
    );
    for i in 0..weir_server::limits::MAX_ATTACHMENTS {
        let r = attach(format!("f{i}.txt"), format!("note {i}").into_bytes()).await;
        assert_eq!(r.status(), StatusCode::CREATED, "attachment {i}");
    }
    let r = attach("one-more.txt".into(), b"x".to_vec()).await;
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["error"], "too_many_attachments");
    // Reports per address per day (this one counted above).
    let mut last = StatusCode::CREATED;
    for _ in 0..weir_server::limits::ANON_REPORTS.max {
        let (s, _) =
            incident_post(&app, "/api/v1/incidents", None, None, a_report(json!({}))).await;
        last = s;
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);
    // Counted in the database: another replica of the registry refuses the address too.
    let other = app.replica().await;
    let (s, _) = incident_post(&other, "/api/v1/incidents", None, None, a_report(json!({}))).await;
    assert_eq!(
        s,
        StatusCode::TOO_MANY_REQUESTS,
        "the limit holds across replicas"
    );
    // A signed-in account still reports.
    let (s, _) = incident_post(
        &app,
        "/api/v1/incidents",
        Some(&alice),
        None,
        a_report(json!({})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
}
