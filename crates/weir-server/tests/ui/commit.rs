//! A commit's page: the files it changed, with diffs of text files for open models only.

use reqwest::StatusCode;
use weir_core::{RepoId, Revision, Scope, Tier};

use super::{Browser, unescape};
use crate::common::TestApp;

async fn head(app: &TestApp, id: &str) -> String {
    let repo = app
        .store
        .db
        .repo(&RepoId::parse(id).expect("id"))
        .await
        .expect("db")
        .expect("repo");
    app.store
        .db
        .resolve(&repo, &Revision::parse("main").expect("rev"))
        .await
        .expect("db")
        .expect("head")
        .to_string()
}

#[tokio::test]
async fn open_models_show_diffs_and_gated_ones_only_names() {
    let app = TestApp::new().await;
    let alice = app.user("alice", Scope::Write).await;
    app.org("acme", &["alice"]).await;
    for id in ["acme/open", "acme/gated"] {
        app.repo(id, false).await;
        app.commit(id, "main", &alice, &[("config.json", b"{\"layers\": 2}\n")])
            .await;
        app.commit(
            id,
            "main",
            &alice,
            &[(
                "config.json",
                b"{\"layers\": 4, \"x\": \"<script>alert(1)</script>\"}\n",
            )],
        )
        .await;
    }
    crate::access::set_tier(&app, "acme/gated", Tier::T2).await;
    let mut b = Browser::new(&app);
    let sha = head(&app, "acme/open").await;
    let (status, page) = b.text(&format!("/acme/open/commit/{sha}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!page.contains("<script>alert"));
    let page = unescape(&page);
    assert!(page.contains("-{\"layers\": 2}"), "{page}");
    assert!(
        page.contains("+{\"layers\": 4, \"x\": \"<script>alert(1)</script>\"}"),
        "{page}"
    );
    assert!(page.contains("<span class=\"tag\">changed</span>"));
    // The model page links its commits here.
    let (_, model) = b.text("/acme/open").await;
    assert!(model.contains(&format!("href=\"/acme/open/commit/{sha}\"")));
    let sha = head(&app, "acme/gated").await;
    let (status, page) = b.text(&format!("/acme/gated/commit/{sha}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("<code>config.json</code>"));
    assert!(
        !page.contains("layers"),
        "a gated file's content is on the commit page"
    );
    let (status, page) = b
        .text(&format!("/acme/open/commit/{}", "0".repeat(40)))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(page.contains("revision_not_found"));
}

#[tokio::test]
async fn a_held_parents_files_never_show_in_the_fixs_diff() {
    let app = TestApp::new().await;
    let alice = app.user("alice", Scope::Write).await;
    let carol = app.user("carol", Scope::Write).await;
    let op = app.user("op", Scope::Admin).await;
    app.org("acme", &["alice"]).await;
    app.repo("acme/open", false).await;
    app.commit(
        "acme/open",
        "main",
        &alice,
        &[("bad.txt", b"HELD-CONTENT\n")],
    )
    .await;
    let held = head(&app, "acme/open").await;
    crate::incidents::confirmed_hold(&app, "acme/open", &held, &carol, &op).await;
    app.commit("acme/open", "main", &alice, &[("bad.txt", b"fixed\n")])
        .await;
    let fix = head(&app, "acme/open").await;
    let (status, page) = Browser::new(&app)
        .text(&format!("/acme/open/commit/{fix}"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("<code>bad.txt</code>"));
    assert!(!page.contains("HELD-CONTENT"), "{page}");
}

#[tokio::test]
async fn a_huge_commit_is_listed_in_bounds() {
    let app = TestApp::new().await;
    let alice = app.user("alice", Scope::Write).await;
    app.org("acme", &["alice"]).await;
    app.repo("acme/open", false).await;
    let a = "a\n".repeat(100_000);
    let b = "b\n".repeat(100_000);
    app.commit("acme/open", "main", &alice, &[("x.txt", a.as_bytes())])
        .await;
    app.commit("acme/open", "main", &alice, &[("x.txt", b.as_bytes())])
        .await;
    let sha = head(&app, "acme/open").await;
    let (status, page) = Browser::new(&app)
        .text(&format!("/acme/open/commit/{sha}"))
        .await;
    assert_eq!(status, StatusCode::OK);
    // It answers (the diff gives up after its time budget instead of spinning) and stays small.
    assert!(page.len() < 100_000, "{} bytes", page.len());
}
