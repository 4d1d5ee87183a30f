//! The connection layer (`src/conn.rs`) against slow and greedy clients, on a live loopback server.

use crate::common::TestApp;
use reqwest::StatusCode;
use weir_core::Scope;

/// F12: half-open connections that never finish their headers are closed after the header-read
/// timeout, and while they are open, well-behaved clients are still served.
#[tokio::test]
async fn slowloris_connections_are_closed_and_others_still_served() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = TestApp::live(|c| {
        c.limits.header_read_timeout = std::time::Duration::from_millis(500);
        c.limits.idle_timeout = std::time::Duration::from_millis(800);
        c.limits.max_connections = 64;
    })
    .await;
    app.user("alice", Scope::Write).await;
    let addr = app.url.trim_start_matches("http://").to_string();
    let mut idle = Vec::new();
    for _ in 0..48 {
        let mut s = tokio::net::TcpStream::connect(&addr)
            .await
            .expect("connect");
        s.write_all(b"GET /api/whoami-v2 HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            .await
            .expect("write");
        idle.push(s);
    }
    // Well-behaved clients are served meanwhile.
    for _ in 0..10 {
        let r = app.get("/log/checkpoint", None).await;
        assert_eq!(r.status(), StatusCode::OK);
    }
    // Each half-open connection is closed by the server (EOF), not left open.
    for mut s in idle {
        let mut buf = [0u8; 512];
        let n = tokio::time::timeout(std::time::Duration::from_secs(20), s.read(&mut buf))
            .await
            .expect("the server must close a slow connection")
            .unwrap_or(0);
        let text = String::from_utf8_lossy(&buf[..n]);
        assert!(n == 0 || text.starts_with("HTTP/1.1 408"), "{text}");
    }
    // More connections than the cap: the extra ones wait, then are served once others close.
    let mut hogs = Vec::new();
    for _ in 0..64 {
        hogs.push(
            tokio::net::TcpStream::connect(&addr)
                .await
                .expect("connect"),
        );
    }
    let r = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        app.get("/log/checkpoint", None),
    )
    .await
    .expect("served after the hogs time out");
    assert_eq!(r.status(), StatusCode::OK);
    drop(hogs);
}

/// Review follow-up: a request whose body trickles in (or stops) does not hold its connection
/// slot forever, and one address cannot take every slot.
#[tokio::test]
async fn stalled_bodies_and_one_address_cannot_hold_every_slot() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = TestApp::live(|c| {
        c.limits.stall_timeout = std::time::Duration::from_millis(600);
        c.limits.max_connections_per_address = 6;
    })
    .await;
    app.user("alice", Scope::Write).await;
    let addr = app.url.trim_start_matches("http://").to_string();
    // Complete headers, a promised body that never comes.
    let mut s = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    s.write_all(b"POST /api/v1/incidents HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{")
        .await
        .expect("write");
    let mut buf = [0u8; 256];
    let n = tokio::time::timeout(std::time::Duration::from_secs(20), s.read(&mut buf))
        .await
        .expect("the server must close a stalled request")
        .unwrap_or(0);
    assert!(n == 0 || !String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 2"));
    // Six connections from one address are served; a seventh is closed at once.
    let mut held = Vec::new();
    for _ in 0..6 {
        held.push(
            tokio::net::TcpStream::connect(&addr)
                .await
                .expect("connect"),
        );
    }
    let mut extra = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    let _ = extra
        .write_all(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await;
    let n = tokio::time::timeout(std::time::Duration::from_secs(10), extra.read(&mut buf))
        .await
        .expect("closed at once")
        .unwrap_or(0);
    assert_eq!(n, 0, "{}", String::from_utf8_lossy(&buf[..n]));
    drop(held);
}

/// An answer given before the body was read closes the connection: a keep-alive client's next
/// request never lands in unread bytes, nor on a socket the server drops.
#[tokio::test]
async fn an_answer_before_the_body_is_read_closes_the_connection_and_one_after_keeps_it() {
    let app = TestApp::live(|_| {}).await;
    let alice = app.user("alice", Scope::Write).await;
    app.repo("alice/m", false).await;
    // A 501 route never reads its body.
    let r = app
        .req(
            reqwest::Method::POST,
            "/api/models/alice/m/discussions",
            Some(&alice),
        )
        .json(&serde_json::json!({"title": "t", "description": "d"}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), reqwest::StatusCode::NOT_IMPLEMENTED);
    assert_eq!(
        r.headers().get("connection").and_then(|v| v.to_str().ok()),
        Some("close")
    );
    // A handler that reads its body leaves the connection open.
    let r = app
        .req(reqwest::Method::POST, "/api/validate-yaml", None)
        .json(&serde_json::json!({"content": "---\nlicense: mit\n---\n", "repoType": "model"}))
        .send()
        .await
        .expect("send");
    assert!(r.status().is_success());
    assert!(r.headers().get("connection").is_none());
}
