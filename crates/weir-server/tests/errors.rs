//! Bad input gets a clear 4xx with a JSON body and changes nothing.

use crate::common::{TestApp, sha256_hex};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use weir_core::Scope;

async fn expect_error(r: crate::common::Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(r.status(), status, "expected {status} {code}");
    assert!(r.headers().get("x-error-message").is_some());
    let body: Value = r.json().await.expect("JSON error body");
    assert_eq!(body["error"], code, "{body}");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
    body
}

fn header() -> String {
    json!({"key": "header", "value": {"summary": "bad"}}).to_string()
}

#[tokio::test]
async fn malformed_commits_change_nothing() {
    let app = TestApp::new().await;
    let alice = app.user("alice", Scope::Write).await;
    app.repo("alice/m", false).await;
    let head = app.head_of("alice/m", "main").await;
    let file = |path: &str| {
        json!({"key": "file", "value": {"path": path, "content": "aGk=", "encoding": "base64"}})
            .to_string()
    };
    let cases: Vec<(String, &str)> = vec![
        ("{not json".to_string(), "invalid_commit"),
        (file("a"), "invalid_commit"), // header must come first
        (String::new(), "invalid_commit"),
        (
            format!("{}\n{{\"key\":\"bogus\",\"value\":{{}}}}", header()),
            "invalid_commit",
        ),
        (format!("{}\n{}", header(), file("../x")), "invalid_path"),
        (
            format!("{}\n{}", header(), file("/etc/passwd")),
            "invalid_path",
        ),
        (format!("{}\n{}", header(), file("a/./b")), "invalid_path"),
        (
            format!("{}\n{}", header(), file(".git/config")),
            "invalid_path",
        ),
        (
            format!("{}\n{}\n{}", header(), file("a"), file("a")),
            "invalid_commit",
        ),
        (
            format!(
                "{}\n{}",
                header(),
                json!({"key": "file", "value": {"path": "a", "content": "!!!notbase64", "encoding": "base64"}})
            ),
            "invalid_commit",
        ),
        (
            format!(
                "{}\n{}",
                header(),
                json!({"key": "lfsFile", "value": {"path": "w.bin", "algo": "sha256", "oid": "0".repeat(64), "size": 3}})
            ),
            "not_uploaded",
        ),
        (
            format!(
                "{}\n{}",
                header(),
                json!({"key": "lfsFile", "value": {"path": "w.bin", "algo": "sha256", "oid": "xyz", "size": 3}})
            ),
            "invalid_commit",
        ),
        (
            format!(
                "{}\n{}",
                header(),
                json!({"key": "deletedFile", "value": {"path": "missing.txt"}})
            ),
            // The Hub's answer (the client raises EntryNotFoundError); nothing changes either.
            "entry_not_found",
        ),
        (
            format!("{}\n{}\n{}", header(), file("p"), file("p/q")),
            "invalid_commit",
        ),
        (
            format!("{}\n{}", header(), "x".repeat(15 << 20)),
            "invalid_commit",
        ), // oversized line
    ];
    for (body, code) in cases {
        let r = app
            .raw_commit("alice/m", "main", &alice, body.clone())
            .await;
        let status = match code {
            "not_uploaded" => StatusCode::UNPROCESSABLE_ENTITY,
            "entry_not_found" => StatusCode::NOT_FOUND,
            _ => StatusCode::BAD_REQUEST,
        };
        expect_error(r, status, code).await;
        assert_eq!(
            app.head_of("alice/m", "main").await,
            head,
            "{}",
            &body[..body.len().min(120)]
        );
    }
    // an LFS size that does not match the stored object
    let data = b"weights!".to_vec();
    assert_eq!(
        app.lfs_upload("alice/m", &alice, data.clone()).await,
        StatusCode::OK
    );
    let wrong = format!(
        "{}\n{}",
        header(),
        json!({"key": "lfsFile", "value": {"path": "w.bin", "algo": "sha256", "oid": sha256_hex(&data), "size": 99}})
    );
    expect_error(
        app.raw_commit("alice/m", "main", &alice, wrong).await,
        StatusCode::BAD_REQUEST,
        "invalid_commit",
    )
    .await;
    assert_eq!(app.head_of("alice/m", "main").await, head);
    assert_eq!(app.temp_files(), 0);
}

async fn upload_link(app: &TestApp, token: &str, oid: &str, size: usize) -> String {
    let batch = app
        .lfs_batch("alice/m", token, json!([{"oid": oid, "size": size}]))
        .await;
    batch["objects"][0]["actions"]["upload"]["href"]
        .as_str()
        .expect("href")
        .to_string()
}

#[tokio::test]
async fn bad_lfs_uploads_leave_no_blob() {
    let app = TestApp::new().await;
    let alice = app.user("alice", Scope::Write).await;
    app.repo("alice/m", false).await;
    let data = vec![1u8; 100_000];
    let oid = sha256_hex(&data);
    let href = upload_link(&app, &alice, &oid, data.len()).await;
    let blob = app
        .dir
        .path()
        .join("blobs/sha256")
        .join(&oid[..2])
        .join(&oid);
    let put = |url: String, body: Vec<u8>| {
        let app = &app;
        async move {
            app.req(Method::PUT, &url, None)
                .body(body)
                .send()
                .await
                .expect("put")
        }
    };
    // wrong bytes, same size
    expect_error(
        put(href.clone(), vec![2u8; 100_000]).await,
        StatusCode::BAD_REQUEST,
        "hash_mismatch",
    )
    .await;
    // too few bytes
    expect_error(
        put(href.clone(), vec![1u8; 10]).await,
        StatusCode::BAD_REQUEST,
        "size_mismatch",
    )
    .await;
    // too many bytes
    expect_error(
        put(href.clone(), vec![1u8; 100_001]).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
    )
    .await;
    // a tampered link (bigger size) is refused before any byte is stored
    let tampered = href.replace("size=100000", "size=200000");
    expect_error(
        put(tampered, vec![1u8; 200_000]).await,
        StatusCode::FORBIDDEN,
        "invalid_upload_link",
    )
    .await;
    let other_oid = href.replace(&oid, &sha256_hex(b"x"));
    expect_error(
        put(other_oid, b"x".to_vec()).await,
        StatusCode::FORBIDDEN,
        "invalid_upload_link",
    )
    .await;
    assert!(!blob.exists());
    assert_eq!(app.temp_files(), 0);
    // invalid batch objects are reported per object
    let batch = app
        .lfs_batch(
            "alice/m",
            &alice,
            json!([{"oid": "nothex", "size": 1}, {"oid": oid, "size": -1}]),
        )
        .await;
    assert_eq!(batch["objects"][0]["error"]["code"], 422);
    assert_eq!(batch["objects"][1]["error"]["code"], 422);
    // finally the right bytes work
    assert_eq!(put(href, data).await.status(), StatusCode::OK);
    assert!(blob.is_file());
}

#[tokio::test]
async fn authorization_failures_are_clear() {
    let app = TestApp::new().await;
    let alice = app.user("alice", Scope::Write).await;
    let reader = app.user("alice", Scope::Read).await;
    let bob = app.user("bob", Scope::Write).await;
    app.repo("alice/m", false).await;
    let head = app.head_of("alice/m", "main").await;
    let b = app.commit("alice/m", "main", &reader, &[("a", b"a")]).await;
    expect_error(b, StatusCode::FORBIDDEN, "token_scope").await;
    let b = app.commit("alice/m", "main", &bob, &[("a", b"a")]).await;
    expect_error(b, StatusCode::FORBIDDEN, "not_member").await;
    let r = app
        .req(Method::POST, "/api/models/alice/m/commit/main", None)
        .body(header())
        .send()
        .await
        .expect("send");
    expect_error(r, StatusCode::UNAUTHORIZED, "not_signed_in").await;
    let r = app
        .req(
            Method::GET,
            "/api/models/alice/m",
            Some(&"x".repeat(10_000)),
        )
        .send()
        .await
        .expect("send");
    expect_error(r, StatusCode::UNAUTHORIZED, "invalid_token").await;
    assert_eq!(app.head_of("alice/m", "main").await, head);
    drop(alice);
}

#[tokio::test]
async fn malformed_requests_get_json_errors() {
    let app = TestApp::new().await;
    let alice = app.user("alice", Scope::Write).await;
    app.repo("alice/m", false).await;
    expect_error(
        app.get("/no/such/route/here/x/y/z", None).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let r = app
        .req(Method::POST, "/api/repos/create", Some(&alice))
        .body("{oops")
        .send()
        .await
        .expect("send");
    expect_error(r, StatusCode::BAD_REQUEST, "invalid_json").await;
    let r = app
        .req(Method::POST, "/api/repos/create", Some(&alice))
        .body(vec![b' '; 17 << 20])
        .send()
        .await
        .expect("send");
    expect_error(r, StatusCode::PAYLOAD_TOO_LARGE, "too_large").await;
    let r = app
        .get("/alice/m/resolve/main/a/../../etc/passwd", None)
        .await;
    assert!(r.status().is_client_error());
    let r = app
        .get("/alice/m/resolve/main/a%2F..%2F..%2Fsecret", None)
        .await;
    expect_error(r, StatusCode::BAD_REQUEST, "invalid_path").await;
    let r = app.get("/alice/m/resolve/main/nope.txt", None).await;
    let commit = r.headers()["x-repo-commit"]
        .to_str()
        .expect("ascii")
        .to_string();
    assert_eq!(commit.len(), 40);
    expect_error(r, StatusCode::NOT_FOUND, "entry_not_found").await;
    let r = app.get("/alice/m/resolve/bad..rev/x", None).await;
    expect_error(r, StatusCode::NOT_FOUND, "revision_not_found").await;
    // a revision that is not UTF-8 once decoded
    let r = app.get("/api/models/alice/m/tree/%FF", None).await;
    expect_error(r, StatusCode::BAD_REQUEST, "invalid_path").await;
}

/// F20: answers made below the handlers carry the JSON envelope and the Hub headers too.
#[tokio::test]
async fn every_error_has_the_json_envelope() {
    let app = TestApp::new().await;
    let alice = app.user("alice", Scope::Write).await;
    app.repo("alice/m", false).await;
    app.commit("alice/m", "main", &alice, &[("a.txt", b"hello")])
        .await;
    let check = |r: crate::common::Response, status: StatusCode, code: &'static str| async move {
        assert_eq!(r.status(), status);
        assert!(
            r.headers().get("x-error-code").is_some()
                || r.headers().get("x-error-message").is_some()
        );
        let v: Value = r.json().await.expect("JSON body");
        assert_eq!(v["error"], code, "{v}");
        assert!(v["message"].is_string());
    };
    // 405
    let r = app
        .req(Method::DELETE, "/api/whoami-v2", None)
        .send()
        .await
        .expect("send");
    check(r, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed").await;
    // 413
    let r = app
        .req(Method::POST, "/api/repos/create", Some(&alice))
        .header("content-type", "application/json")
        .body(vec![b' '; weir_server::JSON_BODY_LIMIT + 10])
        .send()
        .await
        .expect("send");
    check(r, StatusCode::PAYLOAD_TOO_LARGE, "too_large").await;
    // 416
    let r = app
        .req(Method::GET, "/alice/m/resolve/main/a.txt", None)
        .header("range", "bytes=100-200")
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    let v: Value = r.json().await.expect("JSON body");
    assert!(v["error"].is_string(), "{v}");
    // 431
    let r = app
        .req(Method::GET, "/api/whoami-v2", None)
        .header("x-big", "a".repeat(40 * 1024))
        .send()
        .await
        .expect("send");
    check(
        r,
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        "headers_too_large",
    )
    .await;
}

/// A NUL in free text is the input's fault on every engine: refused by the route's own checks,
/// stored as given (SQLite) or a 400 (PostgreSQL's TEXT holds none), never a 500.
#[tokio::test]
async fn a_nul_in_free_text_is_never_a_server_error() {
    let app = TestApp::new().await;
    let alice = app.user("alice", Scope::Write).await;
    app.repo("alice/m", false).await;
    let head = app.head_of("alice/m", "main").await;
    let r = app
        .req(Method::POST, "/api/v1/incidents", Some(&alice))
        .json(
            &json!({"repo": "alice/m", "kind": "incident", "class": "cyber",
                      "summary": "before\u{0}after", "revisions": [head]}),
        )
        .send()
        .await
        .expect("send");
    assert!(r.status().is_client_error(), "{}", r.status());
    // A commit message goes to the database as given.
    let body = format!(
        "{}\n{}",
        json!({"key": "header", "value": {"summary": "nul \u{0} here"}}),
        json!({"key": "file", "value": {"path": "a.txt", "content": "aGk=", "encoding": "base64"}}),
    );
    let r = app.raw_commit("alice/m", "main", &alice, body).await;
    if app.store.db.backend() == weir_store::Backend::Postgres {
        expect_error(r, StatusCode::BAD_REQUEST, "invalid_text").await;
    } else {
        assert!(
            r.status().is_success() || r.status().is_client_error(),
            "{}",
            r.status()
        );
    }
}
