//! `GET /api/models` (`src/hub/models.rs`): search, author, filters, sort, pages through the
//! `Link` header, each result with its tier; a private repo is absent to whoever may not see it.

use crate::common::TestApp;
use reqwest::StatusCode;
use serde_json::Value;
use weir_core::{Scope, Tier};

/// alice/chat (T0, transformers, text-generation, apache-2.0), alice/vision (T0, MIT),
/// acme/gated (T2, acme's), acme/secret (private, acme's: alice is a member, carol is not).
async fn catalog() -> (TestApp, String, String) {
    let app = TestApp::new().await;
    let alice = app.user("alice", Scope::Write).await;
    let carol = app.user("carol", Scope::Read).await;
    app.org("acme", &["alice"]).await;
    for (id, private, card) in [
        (
            "alice/chat",
            false,
            "---\nlicense: apache-2.0\ntags: [chat, safety]\nlibrary_name: transformers\npipeline_tag: text-generation\n---\n",
        ),
        (
            "alice/vision",
            false,
            "---\nlicense: mit\ntags: [vision]\n---\n",
        ),
        ("acme/gated", false, "---\nlicense: mit\n---\n"),
        (
            "acme/secret",
            true,
            "---\nlicense: mit\ntags: [chat]\n---\n",
        ),
    ] {
        app.repo(id, private).await;
        let r = app
            .commit(id, "main", &alice, &[("README.md", card.as_bytes())])
            .await;
        assert_eq!(r.status(), StatusCode::OK, "{id}");
    }
    crate::access::set_tier(&app, "acme/gated", Tier::T2).await;
    (app, alice, carol)
}

fn ids(v: &Value) -> Vec<&str> {
    v.as_array()
        .expect("a list")
        .iter()
        .filter_map(|m| m["id"].as_str())
        .collect()
}

#[tokio::test]
async fn a_private_repo_is_absent_to_whoever_may_not_see_it() {
    let (app, alice, carol) = catalog().await;
    let all = "/api/models?sort=id&direction=1";
    let anon = app.json(all, None).await;
    assert_eq!(ids(&anon), ["acme/gated", "alice/chat", "alice/vision"]);
    assert_eq!(ids(&app.json(all, Some(&carol)).await), ids(&anon));
    let member = app.json(all, Some(&alice)).await;
    assert_eq!(
        ids(&member),
        ["acme/gated", "acme/secret", "alice/chat", "alice/vision"]
    );
    // Searching for it by name finds nothing rather than a hint.
    let r = app.json("/api/models?search=secret", Some(&carol)).await;
    assert_eq!(r, Value::Array(vec![]));
}

#[tokio::test]
async fn each_result_has_the_hub_shape_and_its_tier() {
    let (app, _, _) = catalog().await;
    let v = app
        .json("/api/models?search=acme/gated&cardData=True", None)
        .await;
    insta::assert_json_snapshot!(v, {
        "[]._id" => "[id]",
        "[].sha" => "[commit]",
        "[].createdAt" => "[time]",
        "[].lastModified" => "[time]",
    }, @r#"
    [
      {
        "_id": "[id]",
        "author": "acme",
        "cardData": {
          "license": "mit"
        },
        "createdAt": "[time]",
        "disabled": false,
        "downloads": 0,
        "gated": "manual",
        "id": "acme/gated",
        "lastModified": "[time]",
        "library_name": null,
        "likes": 0,
        "modelId": "acme/gated",
        "pipeline_tag": null,
        "private": false,
        "sha": "[commit]",
        "tags": [],
        "trendingScore": 0,
        "weir": {
          "tier": "T2",
          "tierName": "vetted"
        }
      }
    ]
    "#);
}

#[tokio::test]
async fn search_author_and_filters_narrow_the_list() {
    let (app, alice, _) = catalog().await;
    let get = |q: &'static str| {
        let app = &app;
        let alice = alice.clone();
        async move {
            app.json(
                &format!("/api/models?sort=id&direction=1&{q}"),
                Some(&alice),
            )
            .await
        }
    };
    assert_eq!(ids(&get("search=CHAT").await), ["alice/chat"]);
    assert_eq!(
        ids(&get("author=acme").await),
        ["acme/gated", "acme/secret"]
    );
    assert_eq!(
        ids(&get("filter=chat").await),
        ["acme/secret", "alice/chat"]
    );
    assert_eq!(
        ids(&get("filter=chat&filter=transformers").await),
        ["alice/chat"]
    );
    assert_eq!(
        ids(&get("filter=license:mit").await),
        ["acme/gated", "acme/secret", "alice/vision"]
    );
    assert_eq!(ids(&get("filter=tier:T2").await), ["acme/gated"]);
    assert_eq!(ids(&get("gated=True").await), ["acme/gated"]);
    assert_eq!(
        ids(&get("pipeline_tag=text-generation").await),
        ["alice/chat"]
    );
}

#[tokio::test]
async fn pages_follow_the_link_header_on_the_public_url() {
    let (app, alice, _) = catalog().await;
    let mut url = "/api/models?sort=id&direction=1&limit=3".to_string();
    let mut seen = Vec::new();
    for _ in 0..5 {
        let r = app.get(&url, Some(&alice)).await;
        assert_eq!(r.status(), StatusCode::OK);
        let link = r
            .headers()
            .get("link")
            .map(|l| l.to_str().expect("ascii").to_string());
        let v: Value = r.json().await.expect("json");
        seen.extend(ids(&v).into_iter().map(str::to_string));
        let Some(link) = link else { break };
        let next = link
            .strip_prefix('<')
            .and_then(|l| l.strip_suffix(">; rel=\"next\""))
            .expect("a next link");
        assert!(next.starts_with(&app.url), "{next}");
        url = next.to_string();
    }
    assert_eq!(
        seen,
        ["acme/gated", "acme/secret", "alice/chat", "alice/vision"]
    );
}

#[tokio::test]
async fn downloads_count_recent_recipients_and_sort_the_list() {
    let (app, _, carol) = catalog().await;
    let r = app
        .get("/alice/vision/resolve/main/README.md", Some(&carol))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let v = app.json("/api/models?sort=downloads", None).await;
    assert_eq!(ids(&v)[0], "alice/vision");
    assert_eq!(v[0]["downloads"], 1);
    let info = app.json("/api/models/alice/vision", None).await;
    assert_eq!(
        info["downloads"], 1,
        "model info counts the same recipients"
    );
    // With `expand`, only the properties asked for (and the id).
    let v = app
        .json("/api/models?search=vision&expand=downloads", None)
        .await;
    let keys: Vec<&String> = v[0].as_object().expect("object").keys().collect();
    assert_eq!(keys, ["_id", "downloads", "id", "modelId"]);
}

#[tokio::test]
async fn bad_queries_get_clear_errors() {
    let (app, _, _) = catalog().await;
    let many = vec!["filter=x"; 101].join("&");
    for q in [
        "sort=stars",
        "limit=0",
        "limit=x",
        "cursor=-1",
        "gated=maybe",
        "num_parameters=lots",
        "num_parameters=min:lots",
        many.as_str(),
    ] {
        let r = app.get(&format!("/api/models?{q}"), None).await;
        assert_eq!(
            r.status(),
            StatusCode::BAD_REQUEST,
            "{}",
            &q[..q.len().min(40)]
        );
        let v: Value = r.json().await.expect("json");
        assert_eq!(v["error"], "invalid_query", "{q}");
    }
    // A total larger than a page is a page of at most 1000, and the Link header goes on.
    let r = app.get("/api/models?limit=5000", None).await;
    assert_eq!(r.status(), StatusCode::OK);
    let long = "x".repeat(300);
    let r = app.get(&format!("/api/models?search={long}"), None).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn pages_do_not_shift_when_models_arrive_between_them() {
    let (app, alice, _) = catalog().await;
    let r = app
        .get("/api/models?sort=id&direction=1&limit=2", Some(&alice))
        .await;
    let link = r.headers()["link"].to_str().expect("ascii").to_string();
    let first: Value = r.json().await.expect("json");
    assert_eq!(ids(&first), ["acme/gated", "acme/secret"]);
    // A model that sorts before the cursor arrives: the next page neither repeats nor skips.
    app.repo("acme/aaa", false).await;
    let next = link
        .trim_start_matches('<')
        .trim_end_matches(">; rel=\"next\"")
        .to_string();
    let second = app.json(&next, Some(&alice)).await;
    assert_eq!(ids(&second), ["alice/chat", "alice/vision"]);
}

#[tokio::test]
async fn filters_on_data_weir_does_not_hold_match_nothing() {
    let (app, _, _) = catalog().await;
    for q in ["apps=ollama", "inference=warm", "inference_provider=all"] {
        let v = app.json(&format!("/api/models?{q}"), None).await;
        assert_eq!(v, Value::Array(vec![]), "{q}");
    }
}

#[tokio::test]
async fn card_fields_filter_and_count_parameters() {
    let app = TestApp::new().await;
    let alice = app.user("alice", Scope::Write).await;
    for (id, card) in [
        (
            "alice/small",
            "---\nparameters: 350M\ndatasets: [wiki]\nlanguage: [fr]\n---\n",
        ),
        ("alice/large", "---\nparameters: 7e10\ndatasets: web\n---\n"),
    ] {
        app.repo(id, false).await;
        app.commit(id, "main", &alice, &[("README.md", card.as_bytes())])
            .await;
    }
    let get = |q: &'static str| {
        let app = &app;
        async move { app.json(&format!("/api/models?sort=id&{q}"), None).await }
    };
    assert_eq!(ids(&get("num_parameters=min:1B").await), ["alice/large"]);
    assert_eq!(ids(&get("num_parameters=max:1B").await), ["alice/small"]);
    assert_eq!(ids(&get("filter=dataset:wiki").await), ["alice/small"]);
    assert_eq!(ids(&get("filter=fr").await), ["alice/small"]);
}

/// One hostile card (an alias bomb, nesting deeper than JSON reads back, fields of the wrong
/// shape) neither breaks the listing for everyone nor reaches the Hub client in a shape its
/// ModelCardData raises on.
#[tokio::test]
async fn a_hostile_card_never_breaks_the_listing() {
    let app = TestApp::new().await;
    let alice = app.user("alice", Scope::Write).await;
    let mut bomb = String::from("---\na0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..8 {
        bomb.push_str(&format!(
            "a{i}: &a{i} [{}]\n",
            vec![format!("*a{}", i - 1); 10].join(", ")
        ));
    }
    bomb.push_str("---\n");
    let deep = format!("---\nx: {}1{}\n---\n", "[".repeat(126), "]".repeat(126));
    let wrong = "---\ntags: 5\nlicense: mit\nignore_metadata_errors: true\n---\n";
    for (id, card) in [
        ("alice/bomb", bomb.as_str()),
        ("alice/deep", deep.as_str()),
        ("alice/wrong", wrong),
    ] {
        app.repo(id, false).await;
        app.commit(id, "main", &alice, &[("README.md", card.as_bytes())])
            .await;
    }
    for _ in 0..2 {
        let v = app.json("/api/models?sort=id&cardData=true", None).await;
        assert_eq!(ids(&v), ["alice/wrong", "alice/deep", "alice/bomb"]);
        assert_eq!(v[0]["cardData"], serde_json::json!({"license": "mit"}));
    }
}
