//! Likes (`src/hub/likes.rs`): once per account, counted in model info and the listing, listed
//! per repo and per user, and a private repo's likes invisible to whoever may not see it.

use crate::common::TestApp;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use weir_core::Scope;

#[tokio::test]
async fn likes_count_once_and_are_listed_per_repo_and_per_user() {
    let app = TestApp::new().await;
    let alice = app.user("alice", Scope::Write).await;
    let bob = app.user("bob", Scope::Read).await;
    app.repo("alice/m", false).await;
    let like = |method: Method, token: Option<String>| {
        let app = &app;
        async move {
            app.req(method, "/api/models/alice/m/like", token.as_deref())
                .send()
                .await
                .expect("send")
                .status()
        }
    };
    assert_eq!(like(Method::POST, None).await, StatusCode::UNAUTHORIZED);
    for _ in 0..2 {
        assert_eq!(like(Method::POST, Some(bob.clone())).await, StatusCode::OK);
    }
    assert_eq!(
        like(Method::POST, Some(alice.clone())).await,
        StatusCode::OK
    );
    assert_eq!(app.json("/api/models/alice/m", None).await["likes"], 2);
    let listed = app.json("/api/models?sort=likes", None).await;
    assert_eq!(listed[0]["likes"], 2);
    let likers = app.json("/api/models/alice/m/likers", None).await;
    let names: Vec<&str> = likers
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|l| l["user"].as_str())
        .collect();
    assert_eq!(names.len(), 2);
    assert!(names.contains(&"bob") && names.contains(&"alice"));
    assert_eq!(
        like(Method::DELETE, Some(bob.clone())).await,
        StatusCode::OK
    );
    assert_eq!(app.json("/api/models/alice/m", None).await["likes"], 1);
    let mine = app.json("/api/users/alice/likes", None).await;
    assert_eq!(
        mine[0]["repo"],
        serde_json::json!({"name": "alice/m", "type": "model"})
    );
    let r = app.get("/api/users/nobody/likes", None).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_private_repos_likes_stay_private() {
    let app = TestApp::new().await;
    let alice = app.user("alice", Scope::Write).await;
    let carol = app.user("carol", Scope::Read).await;
    app.repo("alice/secret", true).await;
    let r = app
        .req(Method::POST, "/api/models/alice/secret/like", Some(&alice))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::OK);
    // carol cannot like it, list its likers, or see it among alice's likes.
    let r = app
        .req(Method::POST, "/api/models/alice/secret/like", Some(&carol))
        .send()
        .await
        .expect("send");
    assert_eq!(r.headers()["x-error-code"], "RepoNotFound");
    let r = app
        .get("/api/models/alice/secret/likers", Some(&carol))
        .await;
    assert_eq!(r.headers()["x-error-code"], "RepoNotFound");
    let theirs = app.json("/api/users/alice/likes", Some(&carol)).await;
    assert_eq!(theirs, Value::Array(vec![]));
    let own = app.json("/api/users/alice/likes", Some(&alice)).await;
    assert_eq!(own.as_array().expect("list").len(), 1);
}
