//! The state cache (`weir_store::cache`) and the small-blob cache never serve what is no
//! longer true: what one request changes, the next request sees, with every cache warm; what
//! another process changes (the admin CLI, another replica) is seen within the poll interval;
//! and a small file served from memory answers exactly like one streamed from disk.

use crate::common::TestApp;
use reqwest::{Method, StatusCode};
use serde_json::json;
use weir_core::{Scope, Tier};

/// A public T0 repo `alice/m` with a `config.json`, every cache warmed by anonymous reads (the
/// test app re-reads the state version only after its own writes, never by time).
async fn warm(app: &TestApp) -> String {
    let alice = app.user("alice", Scope::Write).await;
    app.repo("alice/m", false).await;
    let r = app
        .commit("alice/m", "main", &alice, &[("config.json", b"{\"a\": 1}")])
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    for _ in 0..2 {
        let r = app.get("/alice/m/resolve/main/config.json", None).await;
        assert_eq!(r.status(), StatusCode::OK);
        let r = app.get("/api/models/alice/m", None).await;
        assert_eq!(r.status(), StatusCode::OK);
    }
    alice
}

#[tokio::test]
async fn a_repo_made_private_is_missing_to_the_next_request() {
    let app = TestApp::new().await;
    let alice = warm(&app).await;
    let r = app
        .req(Method::PUT, "/api/models/alice/m/settings", Some(&alice))
        .json(&json!({"private": true}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::OK);
    for path in ["/alice/m/resolve/main/config.json", "/api/models/alice/m"] {
        let r = app.get(path, None).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{path} after private");
    }
    // The owner still sees it.
    let r = app
        .get("/alice/m/resolve/main/config.json", Some(&alice))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_tier_raised_here_is_enforced_on_the_next_request() {
    let app = TestApp::new().await;
    warm(&app).await;
    let bob = app.user("bob", Scope::Read).await;
    let r = app
        .get("/alice/m/resolve/main/config.json", Some(&bob))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    app.set_tier("alice/m", Tier::T2).await;
    let r = app.get("/alice/m/resolve/main/config.json", None).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = app
        .get("/alice/m/resolve/main/config.json", Some(&bob))
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let info = app.json("/api/models/alice/m", None).await;
    assert_eq!(info["weir"]["tier"], "T2");
    assert_eq!(info["gated"], "manual");
}

#[tokio::test]
async fn a_tier_raised_by_another_process_is_enforced_within_the_poll_interval() {
    let app = TestApp::new().await;
    warm(&app).await;
    app.store.db.set_state_poll(weir_store::cache::POLL);
    // The admin CLI: its own connection pool and cache on the same data dir.
    let cli = app
        .store
        .open_another(app.dir.path())
        .await
        .expect("second store");
    let id = weir_core::RepoId::parse("alice/m").expect("id");
    let repo = cli.db.repo(&id).await.expect("db").expect("repo");
    cli.db.set_tier(&repo, Tier::T2).await.expect("tier");
    tokio::time::sleep(weir_store::cache::POLL * 3).await;
    let r = app.get("/alice/m/resolve/main/config.json", None).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let info = app.json("/api/models/alice/m", None).await;
    assert_eq!(info["weir"]["tier"], "T2");
}

#[tokio::test]
async fn a_hold_is_enforced_on_the_next_request() {
    let app = TestApp::new().await;
    warm(&app).await;
    let reporter = app.user("rep", Scope::Write).await;
    let op = app.user("op", Scope::Admin).await;
    let head = app.head_of("alice/m", "main").await;
    crate::incidents::confirmed_hold(&app, "alice/m", &head, &reporter, &op).await;
    let r = app.get("/alice/m/resolve/main/config.json", None).await;
    assert_eq!(
        r.status(),
        StatusCode::FORBIDDEN,
        "a held revision was served"
    );
}

#[tokio::test]
async fn likes_and_downloads_count_at_once() {
    let app = TestApp::new().await;
    warm(&app).await;
    let bob = app.user("bob", Scope::Write).await;
    let r = app
        .req(Method::POST, "/api/models/alice/m/like", Some(&bob))
        .send()
        .await
        .expect("send");
    assert!(r.status().is_success());
    let r = app
        .get("/alice/m/resolve/main/config.json", Some(&bob))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let info = app.json("/api/models/alice/m", None).await;
    assert_eq!(
        (info["likes"].as_i64(), info["downloads"].as_i64()),
        (Some(1), Some(1))
    );
}

#[tokio::test]
async fn a_small_file_from_memory_answers_like_one_from_disk() {
    let app = TestApp::new().await;
    let alice = warm(&app).await;
    let body = b"{\"a\": 1}";
    let plain = app.get("/alice/m/resolve/main/config.json", None).await;
    let h = plain.headers().clone();
    assert_eq!(plain.bytes().await.expect("body").as_ref(), body);
    // A conditional request goes the streaming way; both give the same headers.
    let ranged = app
        .req(Method::GET, "/alice/m/resolve/main/config.json", None)
        .header("range", "bytes=0-")
        .send()
        .await
        .expect("send");
    assert_eq!(ranged.status(), StatusCode::PARTIAL_CONTENT);
    for name in [
        "content-type",
        "accept-ranges",
        "last-modified",
        "etag",
        "x-repo-commit",
        "x-linked-etag",
        "x-linked-size",
        "content-disposition",
    ] {
        assert_eq!(
            h.get(name),
            ranged.headers().get(name),
            "{name} differs between the two ways of serving"
        );
    }
    assert_eq!(h["content-length"], body.len().to_string().as_str());
    let lm = h["last-modified"].to_str().expect("date").to_string();
    let r = app
        .req(Method::GET, "/alice/m/resolve/main/config.json", None)
        .header("if-modified-since", &lm)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
    let r = app
        .req(Method::HEAD, "/alice/m/resolve/main/config.json", None)
        .send()
        .await
        .expect("send");
    assert_eq!(
        r.headers()["content-length"],
        body.len().to_string().as_str()
    );
    assert!(r.bytes().await.expect("body").is_empty());
    // A new commit of the same path serves the new bytes (addresses, not paths, are cached).
    let r = app
        .commit("alice/m", "main", &alice, &[("config.json", b"{\"a\": 2}")])
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = app.get("/alice/m/resolve/main/config.json", None).await;
    assert_eq!(r.bytes().await.expect("body").as_ref(), b"{\"a\": 2}");
}
