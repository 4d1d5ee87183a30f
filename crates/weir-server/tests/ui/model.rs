//! The model page: the card rendered inert, the tier and why, files and commits, the access panel
//! and its forms (through the same service as the API), nothing of a gated file's contents, a
//! private repo exactly like a missing one, reserved paths still the API's, caching and headers.

use reqwest::{Method, StatusCode};
use weir_core::{IdentityLevel, RepoId, Scope, Tier};

use super::{Browser, PASSWORD, gated, person};
use crate::common::TestApp;

#[tokio::test]
async fn the_page_shows_the_card_files_commits_and_snippets() {
    let app = TestApp::new().await;
    let alice = person(&app, "alice", Scope::Write).await;
    app.org("acme", &["alice"]).await;
    app.repo("acme/open", false).await;
    let card = "---\nlicense: mit\n---\n# Open model\n\nA *small* model.\n";
    app.commit(
        "acme/open",
        "main",
        &alice,
        &[
            ("README.md", card.as_bytes()),
            ("config.json", b"{\"k\": 1}"),
        ],
    )
    .await;
    let (status, page) = Browser::new(&app).text("/acme/open").await;
    assert_eq!(status, StatusCode::OK);
    let page = super::unescape(&page);
    for want in [
        "<h1>Open model</h1>",
        "<em>small</em>",
        "<code>config.json</code>",
        "test commit",
        "T0 open",
        "snapshot_download(\"acme/open\")",
        "HF_ENDPOINT=http://weir.test hf download acme/open",
        "weir pull acme/open",
    ] {
        assert!(page.contains(want), "{want} missing from {page}");
    }
    assert!(!page.contains("license: mit"), "front matter is not shown");
}

#[tokio::test]
async fn hostile_cards_render_inert_in_the_page() {
    let app = TestApp::new().await;
    let alice = app.user("alice", Scope::Write).await;
    app.org("acme", &["alice"]).await;
    app.repo("acme/evil", false).await;
    let card = "# Hi\n<script>alert(1)</script><img src=x onerror=alert(2)>\
        <a href=\"javascript:alert(3)\">x</a><iframe src=//evil></iframe>\
        <style>body{display:none}</style>\
        <form action=https://evil.example><input name=password></form>\n\n\
        ![t](https://tracker.example/p.png) [js](javascript:alert(5)) <img src=\"//tracker.example/q\">\n";
    app.commit(
        "acme/evil",
        "main",
        &alice,
        &[("README.md", card.as_bytes())],
    )
    .await;
    let r = app.get("/acme/evil", None).await;
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .expect("csp")
        .to_string();
    let page = r.text().await.expect("t");
    for bad in [
        "<script>alert",
        "onerror",
        "javascript:",
        "<iframe",
        "src=\"https://tracker",
        "src=\"//tracker",
        "<style>",
        "action=https://evil",
    ] {
        assert!(!page.contains(bad), "{bad} in the page");
    }
    assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"));
}

#[tokio::test]
async fn security_headers_and_revalidation() {
    let app = TestApp::new().await;
    app.user("alice", Scope::Write).await;
    app.org("acme", &["alice"]).await;
    app.repo("acme/open", false).await;
    let r = app.get("/acme/open", None).await;
    assert_eq!(r.status(), StatusCode::OK);
    let h = r.headers();
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(h["referrer-policy"], "same-origin");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["cache-control"], "private, no-cache");
    assert!(
        h["content-security-policy"]
            .to_str()
            .expect("csp")
            .contains("frame-ancestors 'none'")
    );
    let etag = h["etag"].to_str().expect("etag").to_string();
    let r = app
        .req(Method::GET, "/acme/open", None)
        .header("if-none-match", &etag)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
    // Static files are cached and typed; an unknown one is the API's 404.
    let r = app.get("/static/style.css", None).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.headers()["cache-control"]
            .to_str()
            .expect("cc")
            .contains("max-age")
    );
    assert_eq!(r.headers()["content-type"], "text/css; charset=utf-8");
    assert_eq!(
        app.get("/static/nope.js", None).await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn reserved_first_segments_stay_the_apis_json_404() {
    let app = TestApp::new().await;
    for path in [
        "/api/nothing",
        "/log/nothing",
        "/osv/x/y",
        "/static/x/y",
        "/settings/x",
    ] {
        let r = app.get(path, None).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
        let v: serde_json::Value = r.json().await.unwrap_or_default();
        assert_eq!(v["error"], "not_found", "{path}: {v}");
    }
}

#[tokio::test]
async fn private_pages_answer_like_missing_ones_to_a_signed_in_outsider() {
    let app = TestApp::new().await;
    person(&app, "carol", Scope::Write).await;
    app.user("alice", Scope::Write).await;
    app.org("acme", &["alice"]).await;
    app.repo("acme/hidden", true).await;
    let mut b = Browser::new(&app);
    b.sign_in("carol", PASSWORD).await;
    let private = b.get("/acme/hidden").await;
    let missing = b.get("/acme/nothing").await;
    assert_eq!(private.status(), StatusCode::NOT_FOUND);
    assert_eq!(private.status(), missing.status());
    let p = private
        .text()
        .await
        .expect("t")
        .replace("acme/hidden", "acme/nothing");
    assert_eq!(p, missing.text().await.expect("t"));
}

#[tokio::test]
async fn a_gated_pages_shows_no_file_contents_and_the_way_forward() {
    let (app, _, _) = gated().await;
    let (status, page) = Browser::new(&app).text("/acme/gated").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("<code>w.txt</code>"));
    assert!(
        !page.contains("weights\n"),
        "a gated file's bytes are never in the page"
    );
    assert!(page.contains("Sign in to get access"));
    assert!(page.contains("/login?next=/acme/gated"));
    assert!(!page.contains("snapshot_download"));
}

#[tokio::test]
async fn requesting_access_from_the_page_files_a_request_with_its_fields() {
    let (app, alice, _) = gated().await;
    let r = app
        .req(Method::PUT, "/api/v1/repos/acme/gated/gating", Some(&alice))
        .json(&serde_json::json!({"required_fields": ["affiliation"], "min_level": "account"}))
        .send()
        .await
        .expect("gating");
    assert_eq!(r.status(), StatusCode::OK);
    let mut b = Browser::new(&app);
    b.sign_in("carol", PASSWORD).await;
    let (_, page) = b.text("/acme/gated").await;
    assert!(page.contains("name=\"field_affiliation\""), "{page}");
    assert!(page.contains("Request access"));
    // Without the required field: the service's clear refusal, nothing filed.
    let r = b
        .submit("/acme/gated", "/acme/gated/access", &[("purpose", "study")])
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.expect("t").contains("missing_field"));
    let r = b
        .submit(
            "/acme/gated",
            "/acme/gated/access",
            &[
                ("purpose", "study refusals"),
                ("field_affiliation", "Uni X"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let repo = app
        .store
        .db
        .repo(&RepoId::parse("acme/gated").expect("id"))
        .await
        .expect("db")
        .expect("repo");
    let req = app
        .store
        .db
        .access_request(&repo, "carol")
        .await
        .expect("db")
        .expect("filed");
    assert_eq!(req.state.as_str(), "pending");
    assert_eq!(req.fields["affiliation"], "Uni X");
    let (_, page) = b.text("/acme/gated").await;
    assert!(page.contains("State: <strong>pending</strong>"), "{page}");
    assert!(!page.contains("Request access</button>"));
}

#[tokio::test]
async fn accepting_terms_from_the_page_opens_t1_downloads() {
    let (app, _, carol) = gated().await;
    crate::access::set_tier(&app, "acme/gated", Tier::T1).await;
    let mut b = Browser::new(&app);
    b.sign_in("carol", PASSWORD).await;
    let (_, page) = b.text("/acme/gated").await;
    assert!(page.contains("Accept the terms"));
    let r = b.submit("/acme/gated", "/acme/gated/access", &[]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, page) = b.text("/acme/gated").await;
    assert!(page.contains("You can download this model."), "{page}");
    assert_eq!(
        crate::access::dl(&app, Some(&carol)).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_request_that_could_never_be_served_is_refused_at_the_form() {
    let (app, alice, _) = gated().await;
    app.req(Method::PUT, "/api/v1/repos/acme/gated/gating", Some(&alice))
        .json(&serde_json::json!({"min_level": "identified"}))
        .send()
        .await
        .expect("gating");
    crate::access::set_level(&app, "carol", IdentityLevel::Account, None).await;
    let mut b = Browser::new(&app);
    b.sign_in("carol", PASSWORD).await;
    let r = b
        .submit("/acme/gated", "/acme/gated/access", &[("purpose", "x")])
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.text().await.expect("t").contains("identity_level"));
}

#[tokio::test]
async fn a_restricted_or_sealed_models_card_stays_behind_its_tier() {
    let (app, alice, _) = gated().await;
    app.commit(
        "acme/gated",
        "main",
        &alice,
        &[(
            "README.md",
            b"# Card\n\nthe full synthesis route is: STEP-ONE\n",
        )],
    )
    .await;
    let (_, page) = Browser::new(&app).text("/acme/gated").await;
    assert!(
        page.contains("STEP-ONE"),
        "a T2 card is public, as on the Hub"
    );
    for tier in [Tier::T3, Tier::T4] {
        crate::access::set_tier(&app, "acme/gated", tier).await;
        for token in [None, Some(alice.as_str())] {
            let page = app.get("/acme/gated", token).await.text().await.expect("t");
            assert!(
                !page.contains("STEP-ONE"),
                "{tier:?}: the card's text is on the page"
            );
            assert!(page.contains("tier_no_egress"), "{page}");
        }
    }
}

#[tokio::test]
async fn file_bytes_are_never_a_page_or_a_script_of_this_site() {
    let app = TestApp::new().await;
    let alice = app.user("alice", Scope::Write).await;
    app.org("acme", &["alice"]).await;
    app.repo("acme/open", false).await;
    app.commit(
        "acme/open",
        "main",
        &alice,
        &[
            ("x.js", b"alert(1)"),
            ("x.html", b"<script>alert(1)</script>"),
        ],
    )
    .await;
    for f in ["x.js", "x.html"] {
        let r = app.get(&format!("/acme/open/resolve/main/{f}"), None).await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()["x-content-type-options"], "nosniff");
        assert!(
            r.headers()["content-security-policy"]
                .to_str()
                .expect("csp")
                .starts_with("sandbox")
        );
        assert!(
            !r.headers()["content-type"]
                .to_str()
                .expect("ct")
                .contains("html")
        );
    }
}

#[tokio::test]
async fn a_card_cannot_make_readers_fetch_other_repos_files() {
    let app = TestApp::new().await;
    let alice = app.user("alice", Scope::Write).await;
    app.org("acme", &["alice"]).await;
    app.repo("acme/open", false).await;
    let card = "# c\n\n![a](/acme/sealed/resolve/main/model.safetensors) ![b](/\t/evil.example/p.png) ![c](fig.png)\n";
    app.commit(
        "acme/open",
        "main",
        &alice,
        &[("README.md", card.as_bytes())],
    )
    .await;
    let page = app.get("/acme/open", None).await.text().await.expect("t");
    assert!(!page.contains("acme/sealed"), "{page}");
    assert!(!page.contains("evil.example/p.png\""), "{page}");
    assert!(
        page.contains("src=\"/acme/open/resolve/main/fig.png\""),
        "{page}"
    );
}

#[tokio::test]
async fn every_evaluation_is_listed_with_whether_it_counts_and_why_not() {
    let (app, _, carol, lab_secret) = crate::evals::results::derivative().await;
    let ids = crate::evals::results::full_runs(&app, &carol).await;
    // bio and chem signed by the accredited lab; cyber left unsigned.
    for (id, payload) in &ids[..2] {
        let sig = weir_signing::sign_result(payload, &lab_secret).expect("sign");
        let r = app
            .req(
                Method::POST,
                &format!("/api/v1/evaluations/{id}/signature"),
                None,
            )
            .json(&serde_json::json!({"evaluator": "evallab", "signature": sig}))
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), StatusCode::OK);
    }
    let (s, page) = Browser::new(&app).text("/alice/ft").await;
    assert_eq!(s, StatusCode::OK);
    // The model is T3 (inherited): its card stays behind the tier, its evaluations are public.
    assert!(
        page.contains("The card of a restricted or sealed model"),
        "{page}"
    );
    assert!(
        page.contains("2 evaluation result(s) count towards it."),
        "{page}"
    );
    for (id, _) in &ids {
        assert!(
            page.contains(&format!("href=\"/api/v1/evaluations/{id}\"")),
            "{page}"
        );
    }
    let row = |suite: &str| {
        let at = page
            .find(&format!(">{suite}</a></td>"))
            .unwrap_or_else(|| panic!("no row for {suite}: {page}"));
        let end = page[at..].find("</tr>").map_or(page.len(), |e| at + e);
        page[at..end].to_string()
    };
    let bio = row("wmdp-bio");
    assert!(
        bio.contains("<td>bio</td>") && bio.contains("acc 0.260"),
        "{bio}"
    );
    assert!(bio.contains("evallab, ") && bio.contains(">yes<"), "{bio}");
    let cyber = row("wmdp-cyber");
    assert!(cyber.contains("unsigned"), "{cyber}");
    assert!(cyber.contains("no: not signed by an evaluator"), "{cyber}");
    // And the domains the classification weighed.
    assert!(page.contains("<caption>Hazard domains</caption>"), "{page}");

    // A flood of unsigned imports hides no signed result and makes no page read them all.
    for i in 0..crate::evals::results::FLOOD {
        let log = crate::evals::lm_eval_log("wmdp_chem", 0.9, 10 + i as i64, "null");
        let (s, v) = crate::evals::import(&app, &carol, "alice/ft", "wmdp-chem", log).await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
    }
    let (_, page) = Browser::new(&app).text("/alice/ft").await;
    let row = |suite: &str| page.matches(&format!(">{suite}</a></td>")).count();
    assert_eq!(row("wmdp-bio"), 1, "the signed result stays on the page");
    assert!(row("wmdp-chem") >= 1);
    assert!(
        page.contains(&format!(
            "…and {} more",
            3 + crate::evals::results::FLOOD - 100
        )),
        "{page}"
    );
}
