//! A repo's history (`src/hub/history.rs`): commits a page at a time, paths info with the last
//! commit of each path, the tree with `expand`; a private repo's history is missing to others.

use crate::common::TestApp;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use weir_core::Scope;

/// alice/m with three commits on main: config.json, then sub/a.txt, then config.json again.
async fn three_commits() -> (TestApp, String) {
    let app = TestApp::new().await;
    let alice = app.user("alice", Scope::Write).await;
    app.repo("alice/m", false).await;
    for files in [
        &[("config.json", b"{}".as_slice())][..],
        &[("sub/a.txt", b"a".as_slice())][..],
        &[("config.json", b"{\"v\":2}".as_slice())][..],
    ] {
        let r = app.commit("alice/m", "main", &alice, files).await;
        assert_eq!(r.status(), StatusCode::OK);
    }
    (app, alice)
}

#[tokio::test]
async fn commits_come_newest_first_with_the_hub_fields() {
    let (app, _) = three_commits().await;
    let v = app
        .json("/api/models/alice/m/commits/main?expand[]=formatted", None)
        .await;
    let list = v.as_array().expect("list");
    // Three commits and the repo's first (the .gitattributes).
    assert_eq!(list.len(), 4, "{v}");
    assert_eq!(list[0]["id"], app.head_of("alice/m", "main").await.as_str());
    insta::assert_json_snapshot!(list[3], {
        ".id" => "[commit]",
        ".date" => "[time]",
    }, @r#"
    {
      "authors": [
        {
          "user": "t"
        }
      ],
      "date": "[time]",
      "formatted": {
        "message": "",
        "title": "initial commit"
      },
      "id": "[commit]",
      "message": "",
      "title": "initial commit"
    }
    "#);
    let ids: Vec<&str> = list.iter().filter_map(|c| c["id"].as_str()).collect();
    let mut unique = ids.clone();
    unique.dedup();
    assert_eq!(ids, unique);
}

#[tokio::test]
async fn a_long_history_pages_through_the_link_header() {
    let app = TestApp::new().await;
    let alice = app.user("alice", Scope::Write).await;
    app.repo("alice/long", false).await;
    for i in 0..weir_registry::history::PAGE + 5 {
        let body = format!("{i}");
        app.commit("alice/long", "main", &alice, &[("n.txt", body.as_bytes())])
            .await;
    }
    let r = app.get("/api/models/alice/long/commits/main", None).await;
    let link = r.headers()["link"].to_str().expect("ascii").to_string();
    assert!(link.starts_with(&format!(
        "<{}/api/models/alice/long/commits/main?p=1",
        app.url
    )));
    let first: Value = r.json().await.expect("json");
    let next = link
        .trim_start_matches('<')
        .trim_end_matches(">; rel=\"next\"")
        .to_string();
    let r = app.get(&next, None).await;
    assert!(r.headers().get("link").is_none());
    let second: Value = r.json().await.expect("json");
    assert_eq!(
        first.as_array().expect("a").len() + second.as_array().expect("b").len(),
        weir_registry::history::PAGE + 6
    );
}

#[tokio::test]
async fn paths_info_names_what_exists_with_its_last_commit() {
    let (app, _) = three_commits().await;
    let history = app.json("/api/models/alice/m/commits/main", None).await;
    let (third, second) = (history[0]["id"].clone(), history[1]["id"].clone());
    let r = app
        .req(Method::POST, "/api/models/alice/m/paths-info/main", None)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("paths=config.json&paths=sub&paths=missing.txt&paths=..%2Fx&expand=True")
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.expect("json");
    let entries = v.as_array().expect("list");
    assert_eq!(entries.len(), 2, "{v}");
    assert_eq!(entries[0]["type"], "file");
    assert_eq!(entries[0]["lastCommit"]["id"], third);
    assert_eq!(entries[1]["type"], "directory");
    assert_eq!(entries[1]["lastCommit"]["id"], second);
    // The tree with expand gives the same last commits.
    let tree = app
        .json("/api/models/alice/m/tree/main?expand=true", None)
        .await;
    let sub = tree
        .as_array()
        .expect("tree")
        .iter()
        .find(|e| e["path"] == "sub")
        .expect("sub");
    assert_eq!(sub["lastCommit"]["id"], second);
}

#[tokio::test]
async fn a_private_repos_history_is_missing_to_others() {
    let app = TestApp::new().await;
    let alice = app.user("alice", Scope::Write).await;
    let carol = app.user("carol", Scope::Read).await;
    app.repo("alice/secret", true).await;
    app.commit("alice/secret", "main", &alice, &[("a", b"a")])
        .await;
    for token in [None, Some(carol.as_str())] {
        let r = app
            .get("/api/models/alice/secret/commits/main", token)
            .await;
        let missing = app
            .get("/api/models/alice/nothing/commits/main", token)
            .await;
        assert_eq!(r.status(), missing.status());
        assert_eq!(r.headers()["x-error-code"], "RepoNotFound");
        let r = app
            .req(
                Method::POST,
                "/api/models/alice/secret/paths-info/main",
                token,
            )
            .body("paths=a")
            .send()
            .await
            .expect("send");
        assert_eq!(r.headers()["x-error-code"], "RepoNotFound");
    }
    assert_eq!(
        app.get("/api/models/alice/secret/commits/main", Some(&alice))
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn bad_history_requests_get_clear_errors() {
    let (app, _) = three_commits().await;
    let r = app.get("/api/models/alice/m/commits/main?p=x", None).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = app.get("/api/models/alice/m/commits/nope", None).await;
    assert_eq!(r.headers()["x-error-code"], "RevisionNotFound");
    let many: Vec<String> = (0..1001).map(|i| format!("paths=f{i}")).collect();
    let r = app
        .req(Method::POST, "/api/models/alice/m/paths-info/main", None)
        .body(many.join("&"))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}
