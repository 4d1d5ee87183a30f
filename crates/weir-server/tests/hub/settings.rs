//! `update_repo_settings` (`src/hub/settings.rs`): `gated` onto the tiers (raised by the owner,
//! lowered only under the tier rules, the refusal naming the rule), visibility by the owners,
//! every change an event.

use crate::common::TestApp;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use weir_core::Scope;

async fn put(app: &TestApp, token: &str, body: Value) -> (StatusCode, Value) {
    let r = app
        .req(Method::PUT, "/api/models/acme/m/settings", Some(token))
        .json(&body)
        .send()
        .await
        .expect("send");
    let s = r.status();
    (s, r.json().await.unwrap_or(Value::Null))
}

/// acme/m (T0) owned by alice (owner of org acme), bob a member with write, an operator.
async fn world() -> (TestApp, String, String, String) {
    let app = TestApp::new().await;
    let alice = app.user("alice", Scope::Write).await;
    let bob = app.user("bob", Scope::Write).await;
    let op = app.user("op", Scope::Admin).await;
    app.org("acme", &["bob"]).await;
    app.store
        .db
        .add_member(
            &weir_core::Name::parse("acme").expect("n"),
            &weir_core::Name::parse("alice").expect("n"),
            "owner",
        )
        .await
        .expect("owner");
    app.repo("acme/m", false).await;
    (app, alice, bob, op)
}

#[tokio::test]
async fn gated_raises_the_tier_and_lowering_follows_the_tier_rules() {
    let (app, alice, bob, op) = world().await;
    let (s, v) = put(&app, &alice, json!({"gated": "manual"})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["weir"]["tier"], "T2");
    assert_eq!(v["gated"], "manual");
    // Lowering needs an operator with a reason: the owner is told so.
    let (s, v) = put(&app, &alice, json!({"gated": false})).await;
    assert_eq!(
        (s, v["error"].as_str()),
        (StatusCode::FORBIDDEN, Some("tier_lowering"))
    );
    // A member with write access does not set the gate.
    let (s, _) = put(&app, &bob, json!({"gated": "auto"})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // Even an operator lowers only with a reason, which this route cannot carry.
    let (s, v) = put(&app, &op, json!({"gated": "auto"})).await;
    assert_eq!(
        (s, v["error"].as_str()),
        (StatusCode::FORBIDDEN, Some("tier_lowering"))
    );
    let (s, v) = put(&app, &alice, json!({"gated": "sometimes"})).await;
    assert_eq!(
        (s, v["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_field"))
    );
    let events = app
        .store
        .db
        .events(Some("acme/m"), 100)
        .await
        .expect("events");
    assert_eq!(
        events
            .iter()
            .filter(|(_, e)| e.action == "tier.set")
            .count(),
        1
    );
}

#[tokio::test]
async fn visibility_is_the_owners_and_a_private_repo_then_looks_missing() {
    let (app, alice, bob, _) = world().await;
    let carol = app.user("carol", Scope::Read).await;
    let (s, _) = put(&app, &bob, json!({"visibility": "private"})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, v) = put(&app, &alice, json!({"visibility": "private"})).await;
    assert_eq!((s, v["private"].as_bool()), (StatusCode::OK, Some(true)));
    let r = app.get("/api/models/acme/m", Some(&carol)).await;
    assert_eq!(r.headers()["x-error-code"], "RepoNotFound");
    // A refused tier change in the same request leaves the visibility as it was.
    let (s, _) = put(
        &app,
        &alice,
        json!({"visibility": "public", "gated": "bogus"}),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(
        app.get("/api/models/acme/m", Some(&carol)).await.status(),
        StatusCode::NOT_FOUND
    );
    let (s, v) = put(
        &app,
        &alice,
        json!({"visibility": "public", "private": true}),
    )
    .await;
    assert_eq!(
        (s, v["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_field"))
    );
    let (s, _) = put(&app, &alice, json!({"private": false})).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        app.get("/api/models/acme/m", Some(&carol)).await.status(),
        StatusCode::OK
    );
    let events = app
        .store
        .db
        .events(Some("acme/m"), 100)
        .await
        .expect("events");
    assert_eq!(
        events
            .iter()
            .filter(|(_, e)| e.action == "repo.visibility")
            .count(),
        2
    );
}
