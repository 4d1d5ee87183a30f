//! `GET /api/v1/events` (`src/events.rs`): operators only; filters, pages, NDJSON and CSV (with
//! no field a spreadsheet would run as a formula).

use crate::common::TestApp;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use weir_core::Scope;

/// Three tier changes on two repos by alice, and one by the operator.
async fn world() -> (TestApp, String, String) {
    let app = TestApp::new().await;
    let alice = app.user("alice", Scope::Write).await;
    let op = app.user("op", Scope::Admin).await;
    for repo in ["alice/a", "alice/b"] {
        app.repo(repo, false).await;
    }
    for (repo, tier, token, ua) in [
        ("alice/a", "T1", &alice, "=HYPERLINK(\"http://x\")"),
        ("alice/a", "T2", &alice, "weir-test"),
        ("alice/b", "T1", &alice, "weir-test"),
        ("alice/b", "T3", &op, "weir-test"),
    ] {
        let r = app
            .req(
                Method::PUT,
                &format!("/api/v1/repos/{repo}/tier"),
                Some(token),
            )
            .header("user-agent", ua)
            .json(&serde_json::json!({"tier": tier}))
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), StatusCode::OK, "{repo} {tier}");
    }
    (app, alice, op)
}

fn actions(v: &Value) -> Vec<(String, String)> {
    v["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| {
            (
                e["repo"].as_str().unwrap_or("").to_string(),
                e["reason"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn only_operators_read_the_events() {
    let (app, alice, _) = world().await;
    let r = app.get("/api/v1/events", Some(&alice)).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = app.get("/api/v1/events", None).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn events_filter_by_repo_actor_action_and_time() {
    let (app, _, op) = world().await;
    let get = |q: &'static str| {
        let app = &app;
        let op = op.clone();
        async move {
            app.json(&format!("/api/v1/events?action=tier.set&{q}"), Some(&op))
                .await
        }
    };
    let v = get("repo=alice/a").await;
    assert_eq!(
        actions(&v),
        [
            ("alice/a".into(), "T2".into()),
            ("alice/a".into(), "T1".into())
        ]
    );
    let v = get("actor=op").await;
    assert_eq!(actions(&v), [("alice/b".into(), "T3".into())]);
    assert_eq!(
        get("since=2999-01-01").await["events"],
        serde_json::json!([])
    );
    assert_eq!(
        get("until=1970-01-02").await["events"],
        serde_json::json!([])
    );
    let v = get("since=2000-01-01T00:00:00Z").await;
    assert_eq!(v["events"].as_array().expect("list").len(), 4);
}

#[tokio::test]
async fn events_page_through_the_link_header() {
    let (app, _, op) = world().await;
    let mut url = "/api/v1/events?action=tier.set&limit=3".to_string();
    let mut seen = Vec::new();
    for _ in 0..4 {
        let r = app.get(&url, Some(&op)).await;
        let link = r
            .headers()
            .get("link")
            .map(|l| l.to_str().expect("ascii").to_string());
        let v: Value = r.json().await.expect("json");
        seen.extend(actions(&v));
        let Some(link) = link else { break };
        assert!(
            link.starts_with(&format!("<{}/api/v1/events?", app.url)),
            "{link}"
        );
        url = link
            .trim_start_matches('<')
            .trim_end_matches(">; rel=\"next\"")
            .to_string();
    }
    assert_eq!(seen.len(), 4, "{seen:?}");
}

#[tokio::test]
async fn ndjson_and_csv_exports_carry_the_same_rows() {
    let (app, _, op) = world().await;
    let r = app
        .get("/api/v1/events?action=tier.set&format=ndjson", Some(&op))
        .await;
    assert_eq!(r.headers()["content-type"], "application/x-ndjson");
    let text = r.text().await.expect("text");
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(lines.len(), 4);
    let r = app
        .get("/api/v1/events?action=tier.set&format=csv", Some(&op))
        .await;
    assert!(
        r.headers()["content-type"]
            .to_str()
            .expect("ascii")
            .starts_with("text/csv")
    );
    let csv = r.text().await.expect("text");
    let rows: Vec<&str> = csv.lines().collect();
    assert!(rows[0].starts_with("id,at,actor,action,repo"));
    assert_eq!(rows.len(), 5);
    // The user agent that looks like a formula is quoted as text.
    assert!(csv.contains("\"'=HYPERLINK(\"\"http://x\"\")\""), "{csv}");
}

#[tokio::test]
async fn bad_event_queries_get_clear_errors() {
    let (app, _, op) = world().await;
    for q in [
        "since=yesterday",
        "limit=0",
        "limit=100000",
        "format=xml",
        "cursor=abc",
    ] {
        let r = app.get(&format!("/api/v1/events?{q}"), Some(&op)).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{q}");
    }
}

#[tokio::test]
async fn a_moved_repos_events_are_found_under_any_of_its_names() {
    let app = TestApp::new().await;
    let alice = app.user("alice", Scope::Write).await;
    let op = app.user("op", Scope::Admin).await;
    app.repo("alice/old", false).await;
    assert!(
        app.send_json(
            Method::PUT,
            "/api/v1/repos/alice/old/tier",
            Some(&alice),
            serde_json::json!({"tier": "T1"})
        )
        .await
        .0
        .is_success()
    );
    assert_eq!(
        app.send_json(
            Method::POST,
            "/api/repos/move",
            Some(&alice),
            serde_json::json!({"fromRepo": "alice/old", "toRepo": "alice/new"})
        )
        .await
        .0,
        StatusCode::OK
    );
    for name in ["alice/new", "alice/old"] {
        let v: serde_json::Value = app
            .get(&format!("/api/v1/events?repo={name}"), Some(&op))
            .await
            .json()
            .await
            .expect("json");
        let actions: Vec<&str> = v["events"]
            .as_array()
            .or(v.as_array())
            .map(|a| a.iter().filter_map(|e| e["action"].as_str()).collect())
            .unwrap_or_default();
        assert!(
            actions.contains(&"tier.set") && actions.contains(&"repo.moved"),
            "{name}: {v}"
        );
    }
}
