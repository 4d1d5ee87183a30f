//! The route × caller matrix: every route of the router (from its own table, so a new route is
//! in here without anyone adding it) is called by an anonymous caller, an account with a read
//! token, an outsider with a write token, a member and an owner of the publishing org, and an
//! operator, against a private repo and against a repo that does not exist. Nobody gets a
//! server error; whoever cannot see the private repo gets exactly the answer a missing repo
//! gets (status, body, header names); nobody outside the org gets a success from it.

use reqwest::{Method, StatusCode};
use weir_core::{Name, Scope};

use crate::common::TestApp;

/// Fills a route template: `{ns}/{name}` with the repo, the other parameters with plausible
/// values.
fn fill(template: &str, repo: &str) -> String {
    let mut p = template.replace("{ns}/{name}", repo);
    for (param, value) in [
        ("{rev}", "main"),
        ("{*path}", "config.json"),
        ("{branch}", "b1"),
        ("{id}", "1"),
        ("{oid}", &"0".repeat(64)),
        ("{sha}", &"0".repeat(64)),
        ("{token}", &"0".repeat(64)),
        ("{file}", "x_WEIR-2026-0001.json"),
        ("{user}", "carol"),
        ("{name}", "acme"),
        ("{*rest}", "1"),
    ] {
        p = p.replace(param, value);
    }
    p
}

#[derive(Debug, PartialEq)]
struct Answer {
    status: StatusCode,
    body: String,
    headers: Vec<String>,
}

async fn call(app: &TestApp, method: &str, path: &str, token: Option<&str>) -> Answer {
    let m = Method::from_bytes(method.as_bytes()).expect("method");
    let mut rb = app.req(m.clone(), path, token);
    if m == Method::POST || m == Method::PUT {
        rb = rb.header("content-type", "application/json").body("{}");
    }
    let r = rb.send().await.expect("send");
    let status = r.status();
    let mut headers: Vec<String> = r
        .headers()
        .keys()
        .map(|k| k.as_str().to_string())
        .filter(|k| k != "date")
        .collect();
    headers.sort();
    let body = r.text().await.unwrap_or_default();
    Answer {
        status,
        body,
        headers,
    }
}

#[tokio::test]
async fn every_route_answers_private_exactly_like_missing() {
    let app = TestApp::new().await;
    let alice = app.user("alice", Scope::Write).await;
    let mel = app.user("mel", Scope::Write).await;
    let carol = app.user("carol", Scope::Read).await;
    let outsider = app.user("oscar", Scope::Write).await;
    let op = app.user("op", Scope::Admin).await;
    app.org("acme", &[]).await;
    let acme = Name::parse("acme").expect("n");
    app.store
        .db
        .add_member(&acme, &Name::parse("alice").expect("n"), "owner")
        .await
        .expect("owner");
    app.store
        .db
        .add_member(&acme, &Name::parse("mel").expect("n"), "member")
        .await
        .expect("member");
    app.repo("acme/private", true).await;
    assert!(
        app.commit("acme/private", "main", &alice, &[("config.json", b"{}")])
            .await
            .status()
            .is_success()
    );
    // A public T3 repo: its bytes never leave by download, whoever asks.
    app.repo("acme/restricted", false).await;
    assert!(
        app.commit("acme/restricted", "main", &alice, &[("config.json", b"{}")])
            .await
            .status()
            .is_success()
    );
    crate::access::set_tier(&app, "acme/restricted", weir_core::Tier::T3).await;
    let callers: Vec<(&str, Option<String>, bool)> = vec![
        ("anonymous", None, false),
        ("account", Some(carol), false),
        ("outsider", Some(outsider), false),
        ("member", Some(mel), true),
        ("owner", Some(alice), true),
        ("operator", Some(op), true),
    ];
    let table = weir_server::routes::table();
    let mut calls = 0;
    for route in &table {
        let repo_route = route.path.contains("{ns}/{name}");
        for method in route.methods {
            for (who, token, sees) in &callers {
                let private = call(
                    &app,
                    method,
                    &fill(route.path, "acme/private"),
                    token.as_deref(),
                )
                .await;
                calls += 1;
                // A surface weir does not offer answers 501 to everyone, before any lookup.
                let expected_501 =
                    route.unsupported.is_some() && private.status == StatusCode::NOT_IMPLEMENTED;
                assert!(
                    !private.status.is_server_error() || expected_501,
                    "{method} {} as {who}: {} {}",
                    route.path,
                    private.status,
                    private.body
                );
                if route.path.contains("/resolve/") {
                    let t3 = call(
                        &app,
                        method,
                        &fill(route.path, "acme/restricted"),
                        token.as_deref(),
                    )
                    .await;
                    assert!(
                        !t3.status.is_success(),
                        "{method} {} as {who}: T3 bytes left by download",
                        route.path
                    );
                }
                if !repo_route || *sees {
                    continue;
                }
                let missing = call(
                    &app,
                    method,
                    &fill(route.path, "acme/missing"),
                    token.as_deref(),
                )
                .await;
                calls += 1;
                let normalized = Answer {
                    body: private.body.replace("acme/private", "acme/missing"),
                    ..private
                };
                assert_eq!(
                    normalized, missing,
                    "{method} {} as {who}: a private repo must answer exactly like a missing one",
                    route.path
                );
                assert!(
                    !normalized.status.is_success(),
                    "{method} {} as {who} succeeded on a private repo it cannot see",
                    route.path
                );
            }
        }
    }
    assert!(calls > 300, "{calls} calls");
}

/// Every Hub surface weir does not offer answers 501 `not_implemented` in the JSON envelope with
/// the Hub's headers, for every method and caller, naming what is missing.
#[tokio::test]
async fn unsupported_hub_surfaces_answer_501() {
    let app = TestApp::new().await;
    let carol = app.user("carol", Scope::Read).await;
    let table = weir_server::routes::table();
    let unsupported: Vec<_> = table.iter().filter(|r| r.unsupported.is_some()).collect();
    assert!(
        unsupported.len() >= 5,
        "{} unsupported routes",
        unsupported.len()
    );
    for route in unsupported {
        for token in [None, Some(carol.as_str())] {
            for method in ["GET", "POST", "DELETE"] {
                let a = call(&app, method, &fill(route.path, "acme/x"), token).await;
                assert_eq!(
                    a.status,
                    StatusCode::NOT_IMPLEMENTED,
                    "{method} {}",
                    route.path
                );
                let v: serde_json::Value = serde_json::from_str(&a.body).expect("json envelope");
                assert_eq!(v["error"], "not_implemented", "{}", route.path);
                let what = route.unsupported.unwrap_or_default();
                assert!(
                    v["message"].as_str().is_some_and(|m| m.contains(what)),
                    "{v}"
                );
                assert!(
                    a.headers.iter().any(|h| h == "x-error-code"),
                    "{:?}",
                    a.headers
                );
            }
        }
    }
}
