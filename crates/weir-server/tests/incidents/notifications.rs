//! Notifications and the webhook (`src/incidents/notifications.rs`).

use crate::common::TestApp;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use weir_core::Scope;

#[tokio::test]
async fn webhooks_may_not_point_inside_the_registry_network_unless_allowed() {
    let app = TestApp::with(|c| c.allow_private_webhooks = false).await;
    let bob = app.user("bob", Scope::Read).await;
    for url in [
        "http://127.0.0.1:9/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]:8080/",
        "http://localhost:8080/x",
        // F15: the gaps of the first filter, each a way back into the registry's network.
        "http://[64:ff9b::7f00:1]/hook",
        "http://[::127.0.0.1]/hook",
        "http://[2002:7f00:1::1]/hook",
        "http://[fec0::1]/hook",
        "http://198.18.0.1/hook",
        "http://0.0.0.0:8080/hook",
        "http://0.1.2.3/hook",
        "http://240.0.0.1/hook",
        "http://192.0.0.170/hook",
    ] {
        let r = app
            .req(Method::PUT, "/api/v1/notifications/webhook", Some(&bob))
            .json(&json!({ "url": url }))
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{url}");
        let v: Value = r.json().await.expect("json");
        assert_eq!(v["error"], "webhook_private_address", "{url}: {v}");
    }
    let r = app
        .req(Method::PUT, "/api/v1/notifications/webhook", Some(&bob))
        .json(&json!({ "url": "ftp://example.org/" }))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        app.json("/api/v1/notifications/webhook", Some(&bob)).await,
        Value::Null
    );
}
