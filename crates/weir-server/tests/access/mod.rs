//! Access controls over HTTP, one file per handler of `src/access/`: the helpers they share (a gated repo
//! owned by acme with an owner and an outsider, tiers, identity levels, the error triple).

mod gating;
mod hub_owner;
mod identity;
mod requests;
mod terms;
mod tiers;

use crate::common::TestApp;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use weir_core::{IdentityLevel, Name, RepoId, Scope, Tier};

pub async fn set_tier(app: &TestApp, repo: &str, tier: Tier) {
    let r = app
        .store
        .db
        .repo(&RepoId::parse(repo).expect("id"))
        .await
        .expect("db")
        .expect("repo");
    app.store.db.set_tier(&r, tier).await.expect("tier");
}

pub async fn set_level(app: &TestApp, user: &str, level: IdentityLevel, country: Option<&str>) {
    app.store
        .db
        .set_identity_logged(
            &Name::parse(user).expect("name"),
            level,
            country,
            None,
            &crate::common::admin_event("set_identity"),
        )
        .await
        .expect("identity");
}

/// acme/gated (owned by org acme, owner alice) with a weights file; carol is an outsider.
pub async fn setup(tier: Tier) -> (TestApp, String, String) {
    let app = TestApp::new().await;
    let alice = app.user("alice", Scope::Write).await;
    let carol = app.user("carol", Scope::Read).await;
    app.org("acme", &[]).await;
    app.store
        .db
        .add_member(
            &Name::parse("acme").expect("n"),
            &Name::parse("alice").expect("n"),
            "owner",
        )
        .await
        .expect("owner");
    app.repo("acme/gated", false).await;
    assert_eq!(
        app.commit("acme/gated", "main", &alice, &[("w.txt", b"weights\n")])
            .await
            .status(),
        StatusCode::OK
    );
    set_tier(&app, "acme/gated", tier).await;
    (app, alice, carol)
}

pub async fn dl(app: &TestApp, token: Option<&str>) -> crate::common::Response {
    app.get("/acme/gated/resolve/main/w.txt", token).await
}

pub async fn post(app: &TestApp, path: &str, token: &str, body: Value) -> crate::common::Response {
    app.req(Method::POST, path, Some(token))
        .json(&body)
        .send()
        .await
        .expect("send")
}

pub async fn reason(r: crate::common::Response) -> (StatusCode, String, String) {
    let status = r.status();
    let code = r
        .headers()
        .get("x-error-code")
        .map(|v| v.to_str().expect("ascii").to_string())
        .unwrap_or_default();
    let body: Value = r.json().await.unwrap_or(Value::Null);
    (
        status,
        code,
        body["error"].as_str().unwrap_or("").to_string(),
    )
}

/// Withdraws carol's terms acceptance (test-only helper through the public API surface).
pub async fn sqlx_free_terms_reset(app: &TestApp, repo: &weir_store::Repo) {
    app.store
        .db
        .withdraw_terms(repo, "carol")
        .await
        .expect("withdraw");
}
