//! The review queue: an org owner sees its repos' pending requests with the requester's level and
//! country and decides them; nobody else sees them or can decide them by posting the form.

use reqwest::StatusCode;
use weir_core::{IdentityLevel, RepoId, Scope};

use super::{Browser, PASSWORD, gated, person};

async fn file_request(app: &crate::common::TestApp, carol: &str) {
    let r = crate::access::post(
        app,
        "/api/v1/repos/acme/gated/access/requests",
        carol,
        serde_json::json!({"purpose": "evaluate <b>refusals</b>"}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn an_owner_approves_from_the_queue_and_the_requester_can_download() {
    let (app, _, carol) = gated().await;
    crate::access::set_level(&app, "carol", IdentityLevel::Identified, Some("DE")).await;
    file_request(&app, &carol).await;
    let mut alice = Browser::new(&app);
    alice.sign_in("alice", PASSWORD).await;
    let (status, page) = alice.text("/review").await;
    assert_eq!(status, StatusCode::OK);
    let page = super::unescape(&page);
    for want in [
        "<strong>carol</strong> asks for",
        "Identity level <strong>identified</strong>, country DE",
        "An approval would serve them.",
        "evaluate <b>refusals</b>",
    ] {
        assert!(page.contains(want), "{want} in {page}");
    }
    // Rejecting needs a reason the requester sees.
    let r = alice
        .submit(
            "/review",
            "/review/access/acme/gated/carol",
            &[("action", "reject")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.expect("t").contains("reason_required"));
    let r = alice
        .submit(
            "/review",
            "/review/access/acme/gated/carol",
            &[("action", "approve"), ("expires_days", "30")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, page) = alice.text("/review").await;
    assert!(page.contains("Nothing is waiting"));
    assert_eq!(
        crate::access::dl(&app, Some(&carol)).await.status(),
        StatusCode::OK
    );
    let mut c = Browser::new(&app);
    c.sign_in("carol", PASSWORD).await;
    let (_, page) = c.text("/acme/gated").await;
    assert!(
        super::unescape(&page).contains("snapshot_download(\"acme/gated\")"),
        "{page}"
    );
    let (_, page) = c.text("/settings").await;
    assert!(page.contains("approved"));
}

#[tokio::test]
async fn outsiders_neither_see_nor_decide_requests() {
    let (app, _, carol) = gated().await;
    crate::access::set_level(&app, "carol", IdentityLevel::Identified, None).await;
    file_request(&app, &carol).await;
    person(&app, "oscar", Scope::Write).await;
    let mut o = Browser::new(&app);
    o.sign_in("oscar", PASSWORD).await;
    let (_, page) = o.text("/review").await;
    assert!(page.contains("Nothing is waiting"), "{page}");
    assert!(!page.contains("carol"));
    let r = o
        .submit(
            "/review",
            "/review/access/acme/gated/carol",
            &[("action", "approve")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // The requester cannot approve themselves either.
    let mut c = Browser::new(&app);
    c.sign_in("carol", PASSWORD).await;
    let r = c
        .submit(
            "/acme/gated",
            "/review/access/acme/gated/carol",
            &[("action", "approve")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let repo = app
        .store
        .db
        .repo(&RepoId::parse("acme/gated").expect("id"))
        .await
        .expect("db")
        .expect("repo");
    let req = app
        .store
        .db
        .access_request(&repo, "carol")
        .await
        .expect("db")
        .expect("r");
    assert_eq!(req.state.as_str(), "pending");
    // Signed out, the queue asks to sign in.
    let r = Browser::new(&app).get("/review").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
}
