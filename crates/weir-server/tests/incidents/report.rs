//! Incident reports (`src/incidents/report.rs`): hostile input gets clear errors and stays inert.

use super::*;
use crate::common::TestApp;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use weir_core::Scope;

#[tokio::test]
async fn hostile_reports_get_clear_errors_and_text_stays_inert() {
    let app = TestApp::new().await;
    let alice = app.user("alice", Scope::Write).await;
    app.repo("alice/m", false).await;
    app.commit("alice/m", "main", &alice, &[("config.json", b"{}")])
        .await;
    let cases = [
        (json!({"class": "nuclear"}), "invalid_class"),
        (json!({"kind": "rumour"}), "invalid_kind"),
        (json!({"summary": "x".repeat(301)}), "field_too_long"),
        (json!({"summary": "two\nlines"}), "invalid_text"),
        (
            json!({"details": {"start_date": "31/12/2026"}}),
            "invalid_date",
        ),
        (
            json!({"details": {"harm": "x".repeat(70_000)}}),
            "field_too_long",
        ),
        (json!({"details": {"payload": "x"}}), "unknown_field"),
        (json!({"details": {"harm": 5}}), "invalid_field"),
        (json!({"aliases": ["<b>CVE</b>"]}), "invalid_alias"),
        (json!({"domain": "astrology"}), "invalid_domain"),
        (
            json!({"revisions": ["no-such-branch"]}),
            "revision_not_found",
        ),
    ];
    for (patch, code) in cases {
        let mut body = report("alice/m");
        for (k, v) in patch.as_object().expect("obj") {
            body[k] = v.clone();
        }
        let (s, v) = post(&app, "/api/v1/incidents", None, body).await;
        assert!(s.is_client_error(), "{code}: {s} {v}");
        assert_eq!(v["error"], code, "{v}");
    }
    let (s, v) = post(
        &app,
        "/api/v1/incidents",
        None,
        json!({"repo": "alice/m", "x": 1}),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert!(
        app.store.db.incidents(None).await.expect("db").is_empty(),
        "nothing stored"
    );

    // Anonymous report: a follow-up token, shown once; the text comes back exactly as sent,
    // as JSON strings.
    let (s, v) = post(&app, "/api/v1/incidents", None, report("alice/m")).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let id = v["id"].as_str().expect("id").to_string();
    assert!(id.starts_with("x_WEIR-20") && id.ends_with("-0001"), "{id}");
    let token = v["followup_token"].as_str().expect("token").to_string();
    assert_eq!(v["summary"], report("alice/m")["summary"]);
    let path = format!("/api/v1/incidents/{id}");
    assert_eq!(app.get(&path, None).await.status(), StatusCode::NOT_FOUND);
    let forged = app
        .req(Method::GET, &path, None)
        .header("x-weir-followup", format!("{token}x"))
        .send()
        .await
        .expect("send");
    assert_eq!(forged.status(), StatusCode::NOT_FOUND);
    let mine = app
        .req(Method::GET, &path, None)
        .header("x-weir-followup", &token)
        .send()
        .await
        .expect("send");
    assert_eq!(mine.status(), StatusCode::OK);
    let v: Value = mine.json().await.expect("json");
    assert_eq!(v["your_role"], "reporter");
    assert_eq!(v["details"]["harm"], report("alice/m")["details"]["harm"]);
    // Attachments are stored and only ever served as downloads.
    let r = app
        .req(
            Method::POST,
            &format!("{path}/attachments?name=poc.html"),
            None,
        )
        .header("x-weir-followup", &token)
        .body("<html><script>alert(1)</script></html>")
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::CREATED);
    let sha = r.json::<Value>().await.expect("json")["sha256"]
        .as_str()
        .expect("sha")
        .to_string();
    let r = app
        .req(Method::GET, &format!("{path}/attachments/{sha}"), None)
        .header("x-weir-followup", &token)
        .send()
        .await
        .expect("send");
    assert_eq!(r.headers()["content-type"], "application/octet-stream");
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    assert!(
        r.headers()["content-disposition"]
            .to_str()
            .expect("cd")
            .starts_with("attachment")
    );
    // The reporter can withdraw; the record never reaches the feed.
    let (s, v) = app_transition(
        &app,
        &id,
        None,
        Some(&token),
        json!({"to": "withdrawn", "reason": "duplicate"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(app.json("/osv/all.json", None).await, json!([]));
}
