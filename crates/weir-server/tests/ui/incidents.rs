//! Incidents in the browser: a reporter files one from the form; the publisher sees it on the
//! model page and answers with an update; an operator triages it from the queue; the reporter
//! cannot judge it; an outsider does not see it before disclosure; hostile text stays text.

use reqwest::StatusCode;
use weir_core::Scope;

use super::{Browser, PASSWORD, person, unescape};
use crate::common::TestApp;

#[tokio::test]
async fn a_report_is_filed_answered_and_triaged_from_the_pages() {
    let app = TestApp::new().await;
    let alice = person(&app, "alice", Scope::Write).await;
    person(&app, "carol", Scope::Write).await;
    person(&app, "dave", Scope::Write).await;
    person(&app, "op", Scope::Admin).await;
    app.org_owned_by("acme", "alice").await;
    app.repo("acme/open", false).await;
    app.commit("acme/open", "main", &alice, &[("a.txt", b"a")])
        .await;
    let mut carol = Browser::new(&app);
    // Signed out, the form is the anonymous one, and offers to sign in first and come back.
    let (s, anon) = carol.text("/incidents/new?repo=acme/open").await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        anon.contains("href=\"/login?next=%2Fincidents%2Fnew%3Frepo%3Dacme%252Fopen\""),
        "{anon}"
    );
    carol.sign_in("carol", PASSWORD).await;
    let (status, form) = carol.text("/incidents/new?repo=acme/open").await;
    assert_eq!(status, StatusCode::OK);
    assert!(form.contains("value=\"acme/open\""));
    let r = carol
        .submit(
            "/incidents/new?repo=acme/open",
            "/incidents/new",
            &[
                ("repo", "acme/open"),
                ("kind", "incident"),
                ("class", "minor"),
                ("summary", "leaks <script>alert(1)</script> prompts"),
                ("description", "steps: 1. ask <b>twice</b>"),
                ("domain", ""),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let at = r.headers()["location"].to_str().expect("loc").to_string();
    assert!(at.starts_with("/incidents/x_WEIR-"), "{at}");
    let (_, page) = carol.text(&at).await;
    assert!(!page.contains("<script>alert(1)"));
    let page = unescape(&page);
    assert!(page.contains("leaks <script>alert(1)</script> prompts"));
    assert!(page.contains("steps: 1. ask <b>twice</b>"));
    assert!(page.contains("as its <strong>reporter</strong>"), "{page}");
    // The reporter cannot confirm their own report.
    let r = carol
        .submit(
            &at,
            &format!("{at}/transition"),
            &[("to", "triaged"), ("reason", "me")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // The publisher sees it on the model page and answers.
    let mut a = Browser::new(&app);
    a.sign_in("alice", PASSWORD).await;
    let (_, model) = a.text("/acme/open").await;
    assert!(model.contains(&format!("href=\"{at}\"")), "{model}");
    let r = a
        .submit(
            &at,
            &format!("{at}/updates"),
            &[("note", "we reproduced it; fix coming")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, page) = a.text(&at).await;
    assert!(page.contains("we reproduced it; fix coming"));
    assert!(page.contains("as its <strong>publisher</strong>"));
    // An operator triages it from the queue.
    let mut o = Browser::new(&app);
    o.sign_in("op", PASSWORD).await;
    let (_, queue) = o.text("/review").await;
    assert!(queue.contains(&format!("href=\"{at}\"")), "{queue}");
    let r = o
        .submit(
            &at,
            &format!("{at}/transition"),
            &[
                ("to", "triaged"),
                ("severity", "high"),
                ("reason", "reproducible"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, page) = o.text(&at).await;
    assert!(page.contains("state <strong>triaged</strong>"), "{page}");
    assert!(page.contains("severity <strong>high</strong>"));
    let (_, queue) = o.text("/review").await;
    assert!(!queue.contains(&format!("href=\"{at}\"")));
    // Before disclosure, nobody else sees it, on its page or the model's.
    let mut d = Browser::new(&app);
    d.sign_in("dave", PASSWORD).await;
    assert_eq!(d.get(&at).await.status(), StatusCode::NOT_FOUND);
    let (_, model) = d.text("/acme/open").await;
    assert!(!model.contains(&at));
    assert_eq!(
        Browser::new(&app).get(&at).await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn someone_signed_out_reports_anonymously_with_a_double_submit_token_and_a_follow_up_token() {
    let app = TestApp::new().await;
    let alice = person(&app, "alice", Scope::Write).await;
    app.org_owned_by("acme", "alice").await;
    app.repo("acme/open", false).await;
    app.commit("acme/open", "main", &alice, &[("a.txt", b"a")])
        .await;
    let fields = |token: &str| {
        vec![
            ("csrf".to_string(), token.to_string()),
            ("repo".into(), "acme/open".into()),
            ("kind".into(), "incident".into()),
            ("class".into(), "minor".into()),
            (
                "summary".into(),
                "it answers <b>bio</b> uplift questions".into(),
            ),
            ("share_identity".into(), "1".into()),
        ]
    };
    let mut b = Browser::new(&app);
    let r = b.get("/incidents/new?repo=acme/open").await;
    assert_eq!(r.status(), StatusCode::OK);
    let set = r.headers()["set-cookie"]
        .to_str()
        .expect("cookie")
        .to_string();
    assert!(set.starts_with("weir_report_csrf="), "{set}");
    assert!(
        set.contains("Path=/incidents/new") && set.contains("HttpOnly"),
        "{set}"
    );
    let form = r.text().await.expect("text");
    assert!(!form.contains("share_identity"), "nobody to name: {form}");
    let token = super::csrf_of(&form).expect("token");
    assert_eq!(b.cookies.get("weir_report_csrf"), Some(&token));
    let post = |cookie: Option<&str>, origin: Option<&str>, bearer: Option<&str>, token: &str| {
        let body = serde_urlencoded::to_string(fields(token)).expect("form");
        let mut rb = app
            .req(reqwest::Method::POST, "/incidents/new", bearer)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        if let Some(c) = cookie {
            rb = rb.header("cookie", format!("weir_report_csrf={c}"));
        }
        if let Some(o) = origin {
            rb = rb.header("origin", o);
        }
        rb.send()
    };
    // No cookie, a token that is not the cookie's, another site, a bearer token: refused,
    // nothing filed.
    let other = "0".repeat(64);
    for (cookie, origin, bearer, tok) in [
        (None, None, None, token.as_str()),
        (Some(token.as_str()), None, None, other.as_str()),
        (
            Some(token.as_str()),
            Some("https://evil.example"),
            None,
            token.as_str(),
        ),
        (
            Some(token.as_str()),
            None,
            Some(alice.as_str()),
            token.as_str(),
        ),
    ] {
        let r = post(cookie, origin, bearer, tok).await.expect("send");
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        assert!(r.text().await.expect("t").contains("csrf_failed"));
    }
    let listed = app
        .json("/api/v1/incidents?repo=acme/open", Some(&alice))
        .await;
    assert_eq!(
        listed["incidents"].as_array().map(Vec::len),
        Some(0),
        "{listed}"
    );

    let r = post(Some(&token), None, None, &token).await.expect("send");
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    let page = r.text().await.expect("text");
    let at = page.find("weirf_").expect("a follow-up token");
    let followup: String = page[at..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    assert_eq!(followup.len(), "weirf_".len() + 64, "{page}");
    let listed = app
        .json("/api/v1/incidents?repo=acme/open", Some(&alice))
        .await;
    let id = listed["incidents"][0]["id"]
        .as_str()
        .expect("id")
        .to_string();
    assert!(page.contains(&format!("Report {id} received")), "{page}");
    let stored = app
        .store
        .db
        .incident_by_osv(&id)
        .await
        .expect("db")
        .expect("incident");
    assert_eq!(
        (stored.reporter.as_deref(), stored.reporter_shared),
        (None, false)
    );
    // The token is the way back; without it the report is not there for a stranger.
    let path = format!("/api/v1/incidents/{id}");
    let r = app
        .req(reqwest::Method::GET, &path, None)
        .header("x-weir-followup", &followup)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        app.req(reqwest::Method::GET, &path, None)
            .send()
            .await
            .expect("send")
            .status(),
        StatusCode::NOT_FOUND
    );
}
