//! `GET /api/v1/tokens`, `DELETE /api/v1/tokens/{id}` (`src/tokens.rs`): your own tokens, never
//! their secrets; another user's token is missing to you; operators manage anyone's; a revoked
//! token stops working at once, and its revocation is an event.

use crate::common::TestApp;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use weir_core::Scope;

#[tokio::test]
async fn tokens_are_listed_without_secrets_and_revoked_at_once() {
    let app = TestApp::new().await;
    let alice = app.user("alice", Scope::Write).await;
    let bob = app.user("bob", Scope::Write).await;
    let op = app.user("op", Scope::Admin).await;
    let mine = app.json("/api/v1/tokens", Some(&alice)).await;
    assert_eq!(mine["user"], "alice");
    let list = mine["tokens"].as_array().expect("list");
    assert_eq!(list.len(), 1);
    assert!(
        !mine.to_string().contains(&alice),
        "a token's secret was listed"
    );
    let id = list[0]["id"].as_i64().expect("id");
    // bob neither lists alice's tokens nor learns hers exist.
    let r = app.get("/api/v1/tokens?user=alice", Some(&bob)).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let del = |token: String| {
        let app = &app;
        async move {
            let r = app
                .req(
                    Method::DELETE,
                    &format!("/api/v1/tokens/{id}"),
                    Some(&token),
                )
                .send()
                .await
                .expect("send");
            let s = r.status();
            (s, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let (s, v) = del(bob.clone()).await;
    assert_eq!(
        (s, v["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("token_not_found"))
    );
    let r = app
        .req(Method::DELETE, "/api/v1/tokens/999999", Some(&bob))
        .send()
        .await
        .expect("send");
    assert_eq!(
        r.status(),
        StatusCode::NOT_FOUND,
        "missing and foreign look alike"
    );
    // An operator lists and revokes it; it stops working at once.
    let theirs = app.json("/api/v1/tokens?user=alice", Some(&op)).await;
    assert_eq!(theirs["tokens"][0]["id"], id);
    let (s, v) = del(op.clone()).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert!(v["revoked_at"].is_string());
    let r = app.get("/api/v1/tokens", Some(&alice)).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let events = app.store.db.events(None, 100).await.expect("events");
    let revoked: Vec<_> = events
        .iter()
        .filter(|(_, e)| e.action == "token.revoked")
        .collect();
    assert_eq!(revoked.len(), 1);
    assert_eq!(revoked[0].1.subject.as_deref(), Some("alice"));
    assert!(app.get("/api/v1/tokens", None).await.status() == StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn you_revoke_your_own_token() {
    let app = TestApp::new().await;
    let alice = app.user("alice", Scope::Read).await;
    let id = app.json("/api/v1/tokens", Some(&alice)).await["tokens"][0]["id"]
        .as_i64()
        .expect("id");
    let r = app
        .req(
            Method::DELETE,
            &format!("/api/v1/tokens/{id}"),
            Some(&alice),
        )
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        app.get("/api/v1/tokens", Some(&alice)).await.status(),
        StatusCode::UNAUTHORIZED
    );
}
