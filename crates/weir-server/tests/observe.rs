//! Observability (`src/observe.rs`): `/metrics` counts a known sequence of requests exactly,
//! by route template, method and status, with bytes in and out and download decisions; it is
//! the operators' unless made public; no repo, account or token is ever in it. `/healthz`,
//! `/readyz` (database, blobs, sequencer lag) and request ids.

use reqwest::{Method, StatusCode};
use weir_core::{Scope, Tier};

use crate::common::TestApp;

/// The value of the sample `name{labels}` (labels in the exporter's order), if present.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

async fn scrape(app: &TestApp, token: &str) -> String {
    let r = app.get("/metrics", Some(token)).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    r.text().await.expect("text")
}

#[tokio::test]
async fn metrics_count_a_known_sequence_exactly_and_name_no_repo_or_account() {
    let app = TestApp::new().await;
    let op = app.user("op", Scope::Admin).await;
    let alice = app.user("alice", Scope::Write).await;
    let carol = app.user("carol", Scope::Read).await;
    app.repo("alice/open", false).await;
    app.repo("alice/secret-plans", true).await;
    app.repo("alice/gated", false).await;
    for repo in ["alice/open", "alice/gated"] {
        assert!(
            app.commit(repo, "main", &alice, &[("w.bin", b"0123456789")])
                .await
                .status()
                .is_success()
        );
    }
    crate::access::set_tier(&app, "alice/gated", Tier::T2).await;

    // Only operators read it, unless the operator makes it public.
    assert_eq!(
        app.get("/metrics", None).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.get("/metrics", Some(&carol)).await.status(),
        StatusCode::FORBIDDEN
    );
    let before = scrape(&app, &op).await;
    let count = |text: &str, series: &str| sample(text, series).unwrap_or(0.0);

    for _ in 0..3 {
        assert_eq!(app.get("/api/models", None).await.status(), StatusCode::OK);
    }
    for _ in 0..2 {
        assert_eq!(
            app.get("/api/models/alice/secret-plans", Some(&carol))
                .await
                .status(),
            StatusCode::NOT_FOUND
        );
    }
    let r = app.get("/alice/open/resolve/main/w.bin", None).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.bytes().await.expect("bytes").len(), 10);
    let r = app
        .get("/alice/gated/resolve/main/w.bin", Some(&carol))
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        app.get("/no/such/route/at/all/x", None).await.status(),
        StatusCode::NOT_FOUND
    );

    let after = scrape(&app, &op).await;
    let delta = |series: &str| count(&after, series) - count(&before, series);
    assert_eq!(
        delta("weir_http_requests_total{route=\"/api/models\",method=\"GET\",status=\"200\"}"),
        3.0,
        "{after}"
    );
    assert_eq!(
        delta(
            "weir_http_requests_total{route=\"/api/models/{ns}/{name}\",method=\"GET\",status=\"404\"}"
        ),
        2.0,
        "{after}"
    );
    assert_eq!(
        delta("weir_download_decisions_total{allow=\"true\",reason=\"open_tier\"}"),
        1.0,
        "{after}"
    );
    assert_eq!(
        delta("weir_download_decisions_total{allow=\"false\",reason=\"request_required\"}")
            + delta("weir_download_decisions_total{allow=\"false\",reason=\"identity_level\"}"),
        1.0,
        "{after}"
    );
    assert!(
        delta("weir_http_response_bytes_total{route=\"/{ns}/{name}/resolve/{rev}/{*path}\"}")
            >= 10.0,
        "{after}"
    );
    assert_eq!(
        delta("weir_http_requests_total{route=\"unmatched\",method=\"GET\",status=\"404\"}"),
        1.0,
        "{after}"
    );
    assert!(after.contains("weir_http_request_duration_seconds_bucket{route=\"/api/models\",method=\"GET\",le=\"0.001\"}"), "{after}");
    assert!(after.contains("weir_log_size "), "{after}");
    assert!(after.contains("weir_access_requests_pending 0"), "{after}");
    // An error rewritten into the envelope (a 405 here) keeps its route.
    let r = app
        .req(Method::DELETE, "/api/models", None)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    let later = scrape(&app, &op).await;
    assert_eq!(
        count(
            &later,
            "weir_http_requests_total{route=\"/api/models\",method=\"DELETE\",status=\"405\"}"
        ),
        1.0,
        "{later}"
    );
    // Invented methods are one label, however many there are.
    for i in 0..20 {
        let m = Method::from_bytes(format!("X{i:04}").as_bytes()).expect("method");
        let _ = app.req(m, "/api/models", None).send().await.expect("send");
    }
    let after = scrape(&app, &op).await;
    assert!(!after.contains("X0001"), "{after}");
    assert!(after.contains("method=\"OTHER\""), "{after}");
    // Counting the body keeps its length: JSON and pages still say how long they are.
    let r = app.get("/api/models", None).await;
    assert!(
        r.headers().contains_key("content-length"),
        "{:?}",
        r.headers()
    );
    let r = app.get("/", None).await;
    assert!(
        r.headers().contains_key("content-length"),
        "{:?}",
        r.headers()
    );
    // Labels are templates: no repo, account or token is in the text.
    for secret in ["secret-plans", "alice", "carol", &op, &alice] {
        assert!(!after.contains(secret), "{secret} in /metrics: {after}");
    }
}

#[tokio::test]
async fn metrics_may_be_made_public() {
    let app = TestApp::with(|c| c.metrics_public = true).await;
    let r = app.get("/metrics", None).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.expect("t").contains("weir_log_size"));
}

#[tokio::test]
async fn probes_and_request_ids() {
    let app = TestApp::new().await;
    let r = app.get("/healthz", None).await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = app.get("/readyz", None).await;
    assert_eq!(r.status(), StatusCode::OK);
    let v: serde_json::Value = r.json().await.expect("json");
    assert_eq!(v["status"], "ready", "{v}");
    assert_eq!(v["checks"]["database"], "ok");
    assert_eq!(v["checks"]["blobs"], "ok");
    // An id comes back: the one sent (when it is short and printable), or a new one.
    let r = app
        .req(Method::GET, "/healthz", None)
        .header("x-request-id", "abc-123")
        .send()
        .await
        .expect("send");
    assert_eq!(r.headers()["x-request-id"], "abc-123");
    let r = app
        .req(Method::GET, "/healthz", None)
        .header("x-request-id", "x".repeat(200))
        .send()
        .await
        .expect("send");
    let id = r.headers()["x-request-id"]
        .to_str()
        .expect("id")
        .to_string();
    assert_eq!(id.len(), 24, "{id}");
    let r = app.get("/api/models", None).await;
    assert_eq!(r.headers()["x-request-id"].len(), 24);
    // The blob store gone: not ready, and it says which check failed.
    std::fs::remove_dir_all(app.dir.path().join("blobs").join("tmp")).expect("rm");
    let r = app.get("/readyz", None).await;
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    let v: serde_json::Value = r.json().await.expect("json");
    assert_eq!(v["status"], "unready", "{v}");
    assert_eq!(v["checks"]["blobs"], "the blob directory is missing", "{v}");
    assert_eq!(v["checks"]["database"], "ok", "{v}");
}
