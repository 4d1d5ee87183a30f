//! The operators' page: users with levels, verifiers, evaluators, witnesses, the policy's text,
//! the audit query, the configuration; nobody else sees it.

use reqwest::StatusCode;
use weir_core::{IdentityLevel, Scope};

use super::{Browser, PASSWORD, person, unescape};
use crate::common::TestApp;

#[tokio::test]
async fn operators_see_users_policy_events_and_configuration_and_nobody_else_does() {
    let app = TestApp::new().await;
    person(&app, "op", Scope::Admin).await;
    person(&app, "carol", Scope::Write).await;
    crate::access::set_level(&app, "carol", IdentityLevel::Affiliated, Some("FR")).await;
    app.org_owned_by("acme", "carol").await;
    let mut c = Browser::new(&app);
    c.sign_in("carol", PASSWORD).await;
    let r = c.get("/operator").await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.text().await.expect("t").contains("not_operator"));
    assert_eq!(
        Browser::new(&app).get("/operator").await.status(),
        StatusCode::SEE_OTHER
    );
    let mut o = Browser::new(&app);
    o.sign_in("op", PASSWORD).await;
    let (status, page) = o.text("/operator").await;
    assert_eq!(status, StatusCode::OK);
    let page = unescape(&page);
    for want in [
        "<a href=\"/carol\">carol</a>",
        "<td>affiliated</td><td>FR</td><td>acme (owner)</td>",
        "<a href=\"/op\">op</a> <span class=\"tag\">operator</span>",
        "Classification policy",
        "set_identity",
        "public URL",
        "http://weir.test",
        "notification e-mail",
    ] {
        assert!(page.contains(want), "{want} missing");
    }
    assert!(
        page.contains("href=\"/operator\""),
        "the operator's menu link"
    );
    // The audit query filters.
    let (_, page) = o.text("/operator?action=nothing.like.this").await;
    assert!(page.contains("No events match."));
    // Never a secret: no password hash, no token.
    assert!(!page.contains("$argon2id$"));
    assert!(!page.contains("weir_"));
}

#[tokio::test]
async fn a_policy_change_is_proposed_to_the_board_from_the_page_never_put_in_force_by_it() {
    // Without a board: no form, and a post puts nothing in force.
    let app = TestApp::new().await;
    person(&app, "op", Scope::Admin).await;
    let mut o = Browser::new(&app);
    o.sign_in("op", PASSWORD).await;
    let (_, page) = o.text("/operator").await;
    assert!(!page.contains("action=\"/operator/policy\""), "{page}");
    let before = weir_registry::policy::policy_in_force(&app.store)
        .await
        .expect("policy")
        .sha256;
    let stricter = weir_core::policy::DEFAULT_POLICY.replace(
        "version = \"weir-default-2026.11\"",
        "version = \"ui-2026.12\"",
    );
    let r = o
        .submit("/operator", "/operator/policy", &[("text", &stricter)])
        .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert!(r.text().await.expect("t").contains("no_board"));
    assert_eq!(
        weir_registry::policy::policy_in_force(&app.store)
            .await
            .expect("policy")
            .sha256,
        before
    );

    // With a board: the operator proposes (CRLF from the text area becomes LF), nothing is in
    // force until its members sign; nonsense and outsiders are refused.
    let b = crate::board::board_world().await;
    crate::board::init(&b, 2).await;
    super::passwords(&b.app, &["op", "dan"]).await;
    let mut o = Browser::new(&b.app);
    o.sign_in("op", PASSWORD).await;
    let (_, page) = o.text("/operator").await;
    assert!(page.contains("action=\"/operator/policy\""), "{page}");
    let r = o
        .submit("/operator", "/operator/policy", &[("text", "nonsense")])
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let crlf = stricter.replace('\n', "\r\n");
    let r = o
        .submit("/operator", "/operator/policy", &[("text", &crlf)])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        r.headers().get("location").and_then(|v| v.to_str().ok()),
        Some("/review#board")
    );
    let list = b.app.json("/api/v1/board/proposals", None).await;
    let p = &list["proposals"][0];
    assert_eq!(
        (p["kind"].as_str(), p["state"].as_str()),
        (Some("policy_set"), Some("pending")),
        "{list}"
    );
    assert_eq!(p["change"]["text"].as_str(), Some(stricter.as_str()));
    let in_force = weir_registry::policy::policy_in_force(&b.app.store)
        .await
        .expect("policy");
    assert_ne!(in_force.policy.version, "ui-2026.12");
    let mut d = Browser::new(&b.app);
    d.sign_in("dan", PASSWORD).await;
    let r = d
        .submit("/settings", "/operator/policy", &[("text", &stricter)])
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}
