//! A publisher's page: its public record and the models the viewer may see; unknown names a 404
//! page, reserved ones the API's JSON 404.

use reqwest::StatusCode;
use weir_core::Scope;

use super::Browser;
use crate::common::TestApp;

#[tokio::test]
async fn the_page_shows_the_record_and_only_visible_models() {
    let app = TestApp::new().await;
    let alice = app.user("alice", Scope::Write).await;
    let carol = app.user("carol", Scope::Write).await;
    app.org_owned_by("acme", "alice").await;
    app.repo("acme/open", false).await;
    app.repo("acme/hidden", true).await;
    app.commit("acme/open", "main", &alice, &[("a.txt", b"a")])
        .await;
    let (status, page) = Browser::new(&app).text("/acme").await;
    assert_eq!(status, StatusCode::OK);
    for want in [
        "Accountability record",
        "Standing <strong>good</strong>",
        "/osv/all.json",
        "acme/open",
    ] {
        assert!(page.contains(want), "{want} in {page}");
    }
    assert!(!page.contains("acme/hidden"));
    let outsider = app
        .get("/acme", Some(&carol))
        .await
        .text()
        .await
        .expect("t");
    assert!(!outsider.contains("acme/hidden"));
    let member = app
        .get("/acme", Some(&alice))
        .await
        .text()
        .await
        .expect("t");
    assert!(member.contains("acme/hidden"));
    let r = app.get("/nobody-here", None).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(r.text().await.expect("t").contains("publisher_not_found"));
    let r = app.get("/api", None).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let v: serde_json::Value = r.json().await.expect("json");
    assert_eq!(v["error"], "not_found");
    // The model page links its publisher.
    let (_, model) = Browser::new(&app).text("/acme/open").await;
    assert!(model.contains("href=\"/acme\""));
}
