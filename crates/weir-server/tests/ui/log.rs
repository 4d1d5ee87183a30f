//! The log explorer: the checkpoint and entries, search by repo that never finds a private repo
//! (its entries are sealed), an entry's page with its proof, missing entries a clear 404.

use reqwest::StatusCode;
use weir_core::Scope;

use super::{Browser, unescape};
use crate::common::TestApp;

async fn logged(app: &TestApp) -> u64 {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let head = app.store.db.log_state().await.expect("db");
        // Both gating events (and the repos' creation) are in, and signed.
        if head.size >= 2 && head.checkpoint.is_some() {
            let n = app
                .store
                .db
                .log_entries(0, head.size)
                .await
                .expect("entries");
            let gating = n
                .iter()
                .filter(|e| String::from_utf8_lossy(e).contains("gating.set"))
                .count();
            if gating == 2 {
                return head.size;
            }
        }
        assert!(std::time::Instant::now() < deadline, "nothing was logged");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn entries_are_listed_and_private_repos_stay_sealed() {
    let app = TestApp::new().await;
    let alice = app.user("alice", Scope::Write).await;
    app.org_owned_by("acme", "alice").await;
    app.repo("acme/secret", true).await;
    app.repo("acme/open", false).await;
    for id in ["acme/secret", "acme/open"] {
        app.commit(id, "main", &alice, &[("a.txt", b"a")]).await;
        let r = app
            .req(
                reqwest::Method::PUT,
                &format!("/api/v1/repos/{id}/gating"),
                Some(&alice),
            )
            .json(&serde_json::json!({"required_fields": ["x"]}))
            .send()
            .await
            .expect("gating");
        assert_eq!(r.status(), StatusCode::OK);
    }
    let size = logged(&app).await;
    let mut b = Browser::new(&app);
    let (status, page) = b.text("/log").await;
    assert_eq!(status, StatusCode::OK);
    let page = unescape(&page);
    assert!(
        page.contains(&format!("size <strong>{size}</strong>")),
        "{page}"
    );
    assert!(page.contains("gating.set"));
    assert!(page.contains("acme/open"));
    assert!(page.contains("(sealed)"));
    assert!(
        !page.contains("acme/secret"),
        "a private repo is named in the log page"
    );
    let (_, found) = b.text("/log?repo=acme/secret").await;
    assert!(
        !found.contains("gating.set"),
        "a sealed entry matched by name"
    );
    let (_, found) = b.text("/log?repo=acme/open").await;
    assert!(found.contains("gating.set"));
    // Its owner gets the same page: the log is public, the same for everyone.
    let mine = app.get("/log?repo=acme/secret", Some(&alice)).await;
    assert!(!mine.text().await.expect("t").contains("gating.set"));
    let (status, entry) = b.text("/log/entry/0").await;
    assert_eq!(status, StatusCode::OK);
    let entry = unescape(&entry);
    assert!(
        entry.contains("c2sp.org/tlog-proof@v1\nindex 0\n"),
        "{entry}"
    );
    assert!(entry.contains("src=\"/static/logverify.js\""));
    assert!(entry.contains("weir log prove 0"));
    let (status, missing) = b.text(&format!("/log/entry/{}", size + 1000)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(missing.contains("not_in_log"));
    let js = app.get("/static/logverify.js", None).await;
    assert_eq!(js.status(), StatusCode::OK);
    assert_eq!(
        js.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
}
