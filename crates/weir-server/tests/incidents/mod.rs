//! Incidents over HTTP, one file per handler of `src/incidents/`: the helpers they share.

mod attachments;
mod holds;
mod notifications;
mod osv;
mod report;
mod transition;

use crate::common::TestApp;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

pub async fn post(
    app: &TestApp,
    path: &str,
    token: Option<&str>,
    body: Value,
) -> (StatusCode, Value) {
    let r = app
        .req(Method::POST, path, token)
        .json(&body)
        .send()
        .await
        .expect("send");
    let s = r.status();
    (s, r.json().await.unwrap_or(Value::Null))
}

pub fn report(repo: &str) -> Value {
    json!({
        "repo": repo,
        "kind": "incident",
        "class": "cyber",
        "summary": "Model writes <script>alert('x')</script> exploit chains",
        "details": {
            "start_date": "2026-11-01",
            "harm": "<img src=x onerror=alert(1)> servers compromised",
            "chain_of_events": "step 1\nstep 2",
            "near_misses": "two",
        },
        "domain": "cyber",
        "aliases": ["AVID-2026-R0001"],
    })
}

/// A receiver for webhooks: records (signature header, body) pairs.
pub async fn webhook_sink() -> (
    String,
    std::sync::Arc<tokio::sync::Mutex<Vec<(String, String)>>>,
) {
    use axum::routing::post as axum_post;
    let got = std::sync::Arc::new(tokio::sync::Mutex::new(Vec::new()));
    let g = got.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum_post(move |headers: axum::http::HeaderMap, body: String| {
            let g = g.clone();
            async move {
                let sig = headers
                    .get("x-weir-signature-256")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string();
                g.lock().await.push((sig, body));
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, got)
}

pub async fn app_transition(
    app: &TestApp,
    id: &str,
    token: Option<&str>,
    followup: Option<&str>,
    body: Value,
) -> (StatusCode, Value) {
    let mut rb = app
        .req(
            Method::POST,
            &format!("/api/v1/incidents/{id}/transition"),
            token,
        )
        .json(&body);
    if let Some(f) = followup {
        rb = rb.header("x-weir-followup", f);
    }
    let r = rb.send().await.expect("send");
    let s = r.status();
    (s, r.json().await.unwrap_or(Value::Null))
}

pub async fn events_now(app: &TestApp) -> Vec<(String, String)> {
    app.store
        .db
        .events(None, 1000)
        .await
        .expect("events")
        .into_iter()
        .map(|(_, e)| {
            (
                e.action,
                e.details["public"]["to"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

pub fn lm_eval_log(task: &str, n: i64) -> Vec<u8> {
    json!({
        "results": {task: {"acc,none": 0.26, "acc_stderr,none": 0.01}},
        "n-samples": {task: {"original": n, "effective": n}},
        "config": {"model": "hf", "limit": null},
        "lm_eval_version": "0.4.13",
    })
    .to_string()
    .into_bytes()
}

pub async fn incident_post(
    app: &TestApp,
    path: &str,
    token: Option<&str>,
    followup: Option<&str>,
    body: Value,
) -> (StatusCode, Value) {
    let mut rb = app.req(Method::POST, path, token).json(&body);
    if let Some(f) = followup {
        rb = rb.header("x-weir-followup", f);
    }
    let r = rb.send().await.expect("send");
    let s = r.status();
    (s, r.json().await.unwrap_or(Value::Null))
}

/// A confirmed incident holding deliveries of `revision` of `repo`: reported by `reporter`,
/// triaged and confirmed with a hold by the operator `op`. Returns the incident id.
pub async fn confirmed_hold(
    app: &TestApp,
    repo: &str,
    revision: &str,
    reporter: &str,
    op: &str,
) -> String {
    let (_, v) = incident_post(
        app,
        "/api/v1/incidents",
        Some(reporter),
        None,
        serde_json::json!({"repo": repo, "kind": "incident", "class": "cyber", "summary": "s", "revisions": [revision]}),
    )
    .await;
    let id = v["id"].as_str().expect("id").to_string();
    let path = format!("/api/v1/incidents/{id}/transition");
    incident_post(
        app,
        &path,
        Some(op),
        None,
        serde_json::json!({"to": "triaged", "severity": "high", "reason": "r"}),
    )
    .await;
    let (s, v) = incident_post(
        app,
        &path,
        Some(op),
        None,
        serde_json::json!({"to": "confirmed", "reason": "r", "hold": true}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    id
}

pub fn a_report(extra: Value) -> Value {
    let mut v = json!({
        "repo": "alice/m", "kind": "incident", "class": "cyber",
        "summary": "writes exploit chains", "domain": "cyber",
    });
    if let (Some(m), Value::Object(e)) = (v.as_object_mut(), extra) {
        m.extend(e);
    }
    v
}
