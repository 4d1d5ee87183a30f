//! The account page: identity and attestations, requests, projects, likes and notifications
//! (marked read); tokens created (at most at the session's own scope), shown once, working as
//! bearer tokens, and revoked; an approved export's one download link, issued only to its
//! requester, only while they still qualify, shown once. Private repos are never named.

use reqwest::StatusCode;
use weir_core::{IdentityLevel, Scope};

use super::{Browser, PASSWORD, person};
use crate::common::TestApp;

#[tokio::test]
async fn tokens_are_created_once_shown_used_and_revoked() {
    let app = TestApp::new().await;
    person(&app, "carol", Scope::Write).await;
    crate::access::set_level(&app, "carol", IdentityLevel::Affiliated, Some("FR")).await;
    let mut b = Browser::new(&app);
    b.sign_in("carol", PASSWORD).await;
    let (_, page) = b.text("/settings").await;
    assert!(page.contains("Identity level <strong>affiliated</strong>, attested country FR"));
    // A write session offers read and write, never admin, and refuses admin if asked.
    assert!(!page.contains("<option value=\"admin\">"));
    let r = b
        .submit(
            "/settings",
            "/settings/tokens",
            &[
                ("name", "laptop"),
                ("scope", "admin"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // The password is asked again: without it, or with a wrong one, no token.
    for pw in ["", "not my password at all"] {
        let r = b
            .submit(
                "/settings",
                "/settings/tokens",
                &[("name", "laptop"), ("scope", "read"), ("password", pw)],
            )
            .await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
    }
    assert!(
        app.store
            .db
            .tokens_of("carol")
            .await
            .expect("db")
            .iter()
            .all(|t| t.display_name != "laptop")
    );
    let r = b
        .submit(
            "/settings",
            "/settings/tokens",
            &[
                ("name", "laptop"),
                ("scope", "read"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    // The page that shows the secret is never kept by the browser.
    assert_eq!(r.headers()["cache-control"], "no-store");
    let page = r.text().await.expect("t");
    let at = page.find("id=\"new-token\">").expect("shown") + "id=\"new-token\">".len();
    let token: String = page[at..].chars().take_while(|c| *c != '<').collect();
    assert!(token.starts_with("weir_"), "{token}");
    let who = app.get("/api/whoami-v2", Some(&token)).await;
    assert_eq!(who.status(), StatusCode::OK);
    // Shown once: the account page never shows it again.
    let (_, page) = b.text("/settings").await;
    assert!(!page.contains(&token));
    assert!(page.contains("laptop"));
    let id = app.store.db.tokens_of("carol").await.expect("db")[0].id;
    let r = b
        .submit("/settings", &format!("/settings/tokens/{id}/revoke"), &[])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        app.get("/api/whoami-v2", Some(&token)).await.status(),
        StatusCode::UNAUTHORIZED
    );
    // Another account's token is, to carol, missing.
    let other = person(&app, "dave", Scope::Write).await;
    let _ = other;
    let dave_id = app.store.db.tokens_of("dave").await.expect("db")[0].id;
    let r = b
        .submit(
            "/settings",
            &format!("/settings/tokens/{dave_id}/revoke"),
            &[],
        )
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_password_step_up_is_rate_limited() {
    let app = TestApp::new().await;
    person(&app, "carol", Scope::Write).await;
    let mut b = Browser::new(&app);
    b.sign_in("carol", PASSWORD).await;
    for _ in 0..10 {
        let r = b
            .submit(
                "/settings",
                "/settings/tokens",
                &[
                    ("name", "x"),
                    ("scope", "read"),
                    ("password", "a wrong guess here"),
                ],
            )
            .await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
    }
    let r = b
        .submit(
            "/settings",
            "/settings/tokens",
            &[("name", "x"), ("scope", "read"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn an_operators_session_never_makes_an_admin_token() {
    let app = TestApp::new().await;
    person(&app, "op", Scope::Admin).await;
    let mut b = Browser::new(&app);
    b.sign_in("op", PASSWORD).await;
    let (_, page) = b.text("/settings").await;
    assert!(page.contains("Session scope admin"), "{page}");
    assert!(!page.contains("<option value=\"admin\">"));
    let r = b
        .submit(
            "/settings",
            "/settings/tokens",
            &[("name", "x"), ("scope", "admin"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(
        r.text()
            .await
            .expect("t")
            .contains("weir admin token create")
    );
    let r = b
        .submit(
            "/settings",
            "/settings/tokens",
            &[("name", "x"), ("scope", "write"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    // Made and logged.
    let q = app
        .get(
            "/api/v1/events?action=token.created",
            Some(&app.user("op", Scope::Admin).await),
        )
        .await;
    let events: serde_json::Value = q.json().await.expect("json");
    let e = &events["events"][0];
    assert_eq!(e["action"], "token.created", "{events}");
    // The event names the token it made (by id, never its secret), written with it.
    let made = app
        .store
        .db
        .tokens_of(e["subject"].as_str().expect("subject"))
        .await
        .expect("tokens")
        .into_iter()
        .find(|t| t.display_name == "x")
        .expect("the token");
    assert_eq!(e["details"]["token"], made.id, "{events}");
}

#[tokio::test]
async fn hostile_token_names_render_inert() {
    let app = TestApp::new().await;
    person(&app, "carol", Scope::Write).await;
    let mut b = Browser::new(&app);
    b.sign_in("carol", PASSWORD).await;
    let r = b
        .submit(
            "/settings",
            "/settings/tokens",
            &[
                ("name", "<script>alert(1)</script>"),
                ("scope", "read"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let (_, page) = b.text("/settings").await;
    assert!(!page.contains("<script>alert(1)"));
    assert!(super::unescape(&page).contains("<script>alert(1)</script>"));
    let r = b
        .submit(
            "/settings",
            "/settings/tokens",
            &[
                ("name", "a\u{7}b"),
                ("scope", "read"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn requests_decisions_and_deadlines_reach_the_bell() {
    let (app, alice, carol) = super::gated().await;
    crate::access::set_level(&app, "carol", IdentityLevel::Identified, None).await;
    let _ = alice;
    let r = crate::access::post(
        &app,
        "/api/v1/repos/acme/gated/access/requests",
        &carol,
        serde_json::json!({"purpose": "study"}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let mut a = Browser::new(&app);
    a.sign_in("alice", PASSWORD).await;
    let (_, page) = a.text("/settings").await;
    assert!(
        page.contains("carol asks for access to acme/gated"),
        "{page}"
    );
    assert!(page.contains("class=\"count\""), "the bell shows a count");
    // A deadline within a day: the reviewers are reminded, once.
    let repo = app
        .store
        .db
        .repo(&weir_core::RepoId::parse("acme/gated").expect("id"))
        .await
        .expect("db")
        .expect("repo");
    let mut req = app
        .store
        .db
        .access_request(&repo, "carol")
        .await
        .expect("db")
        .expect("req");
    let now = weir_registry::clock::now();
    req.due_at = now + 3600;
    app.store
        .db
        .put_access_request(&repo, &req)
        .await
        .expect("put");
    assert_eq!(
        weir_registry::mail::remind_deadlines(&app.store, now)
            .await
            .expect("remind"),
        1
    );
    assert_eq!(
        weir_registry::mail::remind_deadlines(&app.store, now + 60)
            .await
            .expect("remind"),
        0,
        "a reminder is made once"
    );
    let (_, page) = a.text("/settings").await;
    assert!(
        page.contains("The decision on carol&#39;s request")
            || page.contains("The decision on carol"),
        "{page}"
    );
    // The decision reaches the requester.
    a.submit(
        "/review",
        "/review/access/acme/gated/carol",
        &[("action", "reject"), ("reason", "not a fit")],
    )
    .await;
    let mut c = Browser::new(&app);
    c.sign_in("carol", PASSWORD).await;
    let (_, page) = c.text("/settings").await;
    assert!(
        page.contains(
            "<a href=\"/acme/gated#access\">Your access to acme/gated is rejected: not a fit</a>"
        ),
        "{page}"
    );
    // Marked read, the bell goes quiet.
    assert!(page.contains("class=\"count\""));
    let r = c
        .submit("/settings", "/settings/notifications/read", &[])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, page) = c.text("/settings").await;
    assert!(!page.contains("class=\"count\""), "{page}");
    assert!(!page.contains("(unread)"), "{page}");
}

#[tokio::test]
async fn an_approved_exports_one_link_is_issued_from_the_account_page_once_to_its_requester() {
    let (app, _carol, id, rev1, rev2) = crate::exports::requested_export().await;
    super::passwords(&app, &["carol", "rev1"]).await;
    let path = format!("/settings/exports/{id}/link");
    let mut c = Browser::new(&app);
    c.sign_in("carol", PASSWORD).await;
    let (_, page) = c.text("/settings").await;
    assert!(page.contains("pending (0 of 2 approvals)"), "{page}");
    assert!(!page.contains(&format!("action=\"{path}\"")), "{page}");
    // Not before two approvals, whatever is posted.
    let r = c.submit("/settings", &path, &[]).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    crate::exports::approve_both(&app, id, &rev1, &rev2).await;
    let (_, page) = c.text("/settings").await;
    assert!(page.contains(&format!("action=\"{path}\"")), "{page}");
    // An operator who is not the requester never receives it.
    let mut o = Browser::new(&app);
    o.sign_in("rev1", PASSWORD).await;
    let r = o.submit("/settings", &path, &[]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // The requester demoted since the approvals is refused (asked again now).
    crate::access::set_level(&app, "carol", IdentityLevel::Identified, None).await;
    let r = c.submit("/settings", &path, &[]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    crate::access::set_level(&app, "carol", IdentityLevel::Accredited, None).await;
    let r = c.submit("/settings", &path, &[]).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    let page = r.text().await.expect("text");
    let at = page.find("/api/v1/exports/download/").expect("the link");
    let token: String = page[at + "/api/v1/exports/download/".len()..]
        .chars()
        .take_while(char::is_ascii_hexdigit)
        .collect();
    assert_eq!(token.len(), 64, "{page}");
    // Shown once: the page again names no link, and a second post issues none.
    let (_, again) = c.text("/settings").await;
    assert!(!again.contains(&token));
    assert!(again.contains("issued, valid until"), "{again}");
    let r = c.submit("/settings", &path, &[]).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let r = app
        .req(
            reqwest::Method::GET,
            &format!("/api/v1/exports/download/{token}"),
            None,
        )
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::OK);
    let _ = r.bytes().await;
    let (_, after) = c.text("/settings").await;
    assert!(after.contains("downloaded"), "{after}");
}

#[tokio::test]
async fn the_account_page_shows_attestations_projects_and_likes_never_a_hidden_repo() {
    let w = crate::grants::grants_world(&["big"]).await;
    let app = &w.app;
    super::passwords(app, &["grace"]).await;
    let now = weir_registry::clock::now();
    app.store
        .db
        .add_verifier_logged(
            &weir_core::Name::parse("idcheck").expect("n"),
            &weir_signing::generate_key().1,
            &crate::common::admin_event("add_verifier"),
        )
        .await
        .expect("verifier");
    for (id, expires, country) in [
        ("att-new", now + 86_400 * 30, "NL"),
        ("att-old", now - 10, "BE"),
    ] {
        app.store
            .db
            .record_attestation(&weir_store::identity::AttestationRecord {
                id: id.into(),
                subject: weir_core::Name::parse("grace").expect("n"),
                verifier: "idcheck".into(),
                level: IdentityLevel::Identified,
                country: Some(country.into()),
                issued_at: now - 100,
                expires_at: expires,
            })
            .await
            .expect("attestation");
    }
    // grace likes a public model and alice's private one (seen while she could see it).
    let alice = app.user("alice", Scope::Write).await;
    app.repo("alice/secret-plans", true).await;
    app.repo("alice/open", false).await;
    for repo in ["alice/open", "alice/secret-plans"] {
        let id = app
            .store
            .db
            .repo(&weir_core::RepoId::parse(repo).expect("id"))
            .await
            .expect("db")
            .expect("repo");
        app.store.db.like(&id, "grace", now).await.expect("like");
    }
    let _ = alice;
    let mut g = Browser::new(app);
    g.sign_in("grace", PASSWORD).await;
    let (_, page) = g.text("/settings").await;
    assert!(
        page.contains("<td>idcheck</td><td>identified</td><td>NL</td>"),
        "{page}"
    );
    assert!(page.contains("<td>in force</td>"), "{page}");
    assert!(
        page.contains("<td>BE</td>") && page.contains("<td>expired</td>"),
        "{page}"
    );
    assert!(
        page.contains("<td>safetylab/big</td><td>approved</td><td>acme/restricted at AL3</td>"),
        "{page}"
    );
    assert!(page.contains("href=\"/alice/open\""), "{page}");
    assert!(
        !page.contains("secret-plans"),
        "a private repo is never named: {page}"
    );
}

#[tokio::test]
async fn a_webhook_is_set_from_the_account_page_checked_as_the_api_checks_it_and_shown_inert() {
    let app = TestApp::new().await;
    person(&app, "carol", Scope::Write).await;
    let mut c = Browser::new(&app);
    c.sign_in("carol", PASSWORD).await;
    for bad in ["javascript:alert(1)", "ftp://example.org/x", "not a url"] {
        let r = c
            .submit("/settings", "/settings/webhook", &[("url", bad)])
            .await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{bad}");
    }
    let hostile = "http://127.0.0.1:9/hook?a=\"><script>alert(1)</script>&b='onmouseover=x";
    let r = c
        .submit("/settings", "/settings/webhook", &[("url", hostile)])
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let page = r.text().await.expect("text");
    let at = page
        .find("id=\"webhook-secret\">")
        .expect("the secret, once")
        + "id=\"webhook-secret\">".len();
    let secret: String = page[at..]
        .chars()
        .take_while(char::is_ascii_hexdigit)
        .collect();
    assert_eq!(secret.len(), 64);
    let stored = app
        .store
        .db
        .webhook("carol")
        .await
        .expect("db")
        .expect("webhook");
    assert_eq!(
        (stored.url.as_str(), stored.secret.as_str()),
        (hostile, secret.as_str())
    );
    let (_, page) = c.text("/settings").await;
    assert!(!page.contains(&secret), "shown once");
    assert!(!page.contains("<script>alert"), "{page}");
    assert!(!page.contains("'onmouseover"), "{page}");
    assert!(super::unescape(&page).contains(hostile), "{page}");
    let r = c.submit("/settings", "/settings/webhook/delete", &[]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(app.store.db.webhook("carol").await.expect("db").is_none());

    // Where private targets are refused, the page refuses them as the API does.
    let app = TestApp::with(|c| c.allow_private_webhooks = false).await;
    person(&app, "carol", Scope::Write).await;
    let mut c = Browser::new(&app);
    c.sign_in("carol", PASSWORD).await;
    let r = c
        .submit(
            "/settings",
            "/settings/webhook",
            &[("url", "http://127.0.0.1:8080/hook")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let private = r.text().await.expect("t");
    assert!(private.contains("webhook_private_address"));
    assert!(app.store.db.webhook("carol").await.expect("db").is_none());
    // A name that does not resolve answers exactly as a private address does: registering is
    // no probe of which internal names exist.
    let r = c
        .submit(
            "/settings",
            "/settings/webhook",
            &[("url", "http://no-such-host.invalid:8080/hook")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let missing = r.text().await.expect("t");
    let why = |page: &str| {
        let at = page.find("/hook: ").expect("the reason") + "/hook: ".len();
        page[at..]
            .chars()
            .take_while(|c| *c != '<')
            .collect::<String>()
    };
    assert_eq!(why(&missing), why(&private));
    // And each account checks a bounded number an hour.
    let mut last = StatusCode::OK;
    for _ in 0..weir_server::limits::WEBHOOK_CHECKS.max {
        last = c
            .submit(
                "/settings",
                "/settings/webhook",
                &[("url", "http://127.0.0.1/x")],
            )
            .await
            .status();
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);
}
