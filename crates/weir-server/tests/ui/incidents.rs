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
    // Signed out, the form asks to sign in first and comes back.
    let r = carol.get("/incidents/new?repo=acme/open").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(
        r.headers()["location"]
            .to_str()
            .expect("loc")
            .starts_with("/login?next=%2Fincidents%2Fnew")
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
