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
