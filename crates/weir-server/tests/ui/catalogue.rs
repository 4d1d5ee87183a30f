//! The catalogue: search by name, card and tag; filters; pages; what is hidden stays hidden; the
//! URL is the state; hostile names and cards render inert.

use reqwest::StatusCode;
use weir_core::{Name, Scope, Tier};

use super::Browser;
use crate::common::TestApp;

async fn model(app: &TestApp, token: &str, id: &str, card: &str) {
    app.repo(id, false).await;
    let r = app
        .commit(id, "main", token, &[("README.md", card.as_bytes())])
        .await;
    assert!(r.status().is_success(), "{id}");
}

async fn setup() -> (TestApp, String) {
    let app = TestApp::new().await;
    let alice = app.user("alice", Scope::Write).await;
    app.org("acme", &["alice"]).await;
    app.store
        .db
        .add_member(
            &Name::parse("acme").expect("n"),
            &Name::parse("alice").expect("n"),
            "owner",
        )
        .await
        .ok();
    model(
        &app,
        &alice,
        "acme/alpha",
        "---\nlicense: mit\nlibrary_name: transformers\ntags: [biology]\n---\n# Alpha\n",
    )
    .await;
    model(
        &app,
        &alice,
        "acme/beta",
        "---\nlicense: apache-2.0\nmodel_name: Protein folder\ntags: [chemistry]\n---\n# Beta\n",
    )
    .await;
    app.repo("acme/secret-gamma", true).await;
    (app, alice)
}

fn listed(page: &str) -> Vec<String> {
    page.split("class=\"title\" href=\"/")
        .skip(1)
        .map(|s| s.chars().take_while(|c| *c != '"').collect())
        .collect()
}

#[tokio::test]
async fn search_covers_names_cards_and_tags_and_filters_narrow() {
    let (app, _) = setup().await;
    let mut b = Browser::new(&app);
    for (query, want) in [
        ("/", vec!["acme/alpha", "acme/beta"]),
        ("/?q=alp", vec!["acme/alpha"]),
        ("/?q=chemistry", vec!["acme/beta"]),
        ("/?q=protein", vec!["acme/beta"]),
        ("/?license=mit", vec!["acme/alpha"]),
        ("/?library=transformers", vec!["acme/alpha"]),
        ("/?tag=chemistry", vec!["acme/beta"]),
        ("/?tier=T0", vec!["acme/alpha", "acme/beta"]),
        ("/?tier=T2", vec![]),
        ("/?author=acme&sort=id", vec!["acme/beta", "acme/alpha"]),
        ("/?standing=good", vec!["acme/alpha", "acme/beta"]),
        ("/?standing=suspended", vec![]),
        ("/?q=secret", vec![]),
    ] {
        let (status, page) = b.text(query).await;
        assert_eq!(status, StatusCode::OK, "{query}");
        let mut got = listed(&page);
        let mut want: Vec<String> = want.into_iter().map(String::from).collect();
        if !query.contains("sort=id") {
            got.sort();
            want.sort();
        }
        assert_eq!(got, want, "{query}");
    }
    // The form keeps the query: the URL is the state.
    let (_, page) = b.text("/?q=protein&tier=T0").await;
    assert!(page.contains("value=\"protein\""));
    assert!(page.contains("<option value=\"T0\" selected>"));
}

#[tokio::test]
async fn pages_continue_where_the_last_ended() {
    let app = TestApp::new().await;
    let alice = app.user("alice", Scope::Write).await;
    app.org("acme", &["alice"]).await;
    for i in 0..23 {
        model(&app, &alice, &format!("acme/m{i:02}"), "# m\n").await;
    }
    let mut b = Browser::new(&app);
    let (_, first) = b.text("/?sort=id").await;
    let one = listed(&first);
    assert_eq!(one.len(), 20);
    let at = first.find("rel=\"next\"").expect("a next page");
    let href_at = first[..at].rfind("href=\"").expect("href") + 6;
    let next: String = first[href_at..]
        .chars()
        .take_while(|c| *c != '"')
        .collect::<String>();
    let next = super::unescape(&next);
    let (_, second) = b.text(&next).await;
    let two = listed(&second);
    assert_eq!(two.len(), 3, "{next}");
    assert!(two.iter().all(|m| !one.contains(m)));
    assert!(!second.contains("rel=\"next\""));
}

#[tokio::test]
async fn hidden_models_are_absent_and_private_ones_shown_to_their_org() {
    let (app, alice) = setup().await;
    let carol = app.user("carol", Scope::Write).await;
    let page = |token: String| {
        let app = &app;
        async move {
            app.get("/?q=gamma", Some(&token))
                .await
                .text()
                .await
                .expect("t")
        }
    };
    assert!(listed(&page(alice).await).contains(&"acme/secret-gamma".to_string()));
    assert!(listed(&page(carol).await).is_empty());
    crate::access::set_tier(&app, "acme/beta", Tier::T3).await;
    let (_, p) = Browser::new(&app).text("/?tier=T3").await;
    assert_eq!(listed(&p), vec!["acme/beta"]);
}

#[tokio::test]
async fn hostile_queries_and_tags_render_inert() {
    let app = TestApp::new().await;
    let alice = app.user("alice", Scope::Write).await;
    app.org("acme", &["alice"]).await;
    model(
        &app,
        &alice,
        "acme/x",
        "---\ntags: ['<script>alert(1)</script>', '\"><img src=x onerror=alert(2)>']\nlicense: '<b>mit</b>'\n---\n",
    )
    .await;
    let mut b = Browser::new(&app);
    let (status, page) = b
        .text("/?q=%22%3E%3Cscript%3Ealert(3)%3C%2Fscript%3E&tag=%3Cimg%20src%3Dx%3E")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(!page.contains("<script>alert"));
    assert!(!page.contains("<img src=x"));
    let (_, page) = b.text("/").await;
    assert!(!page.contains("<script>alert(1)"));
    assert!(!page.contains("<img src=x onerror"));
    assert!(!page.contains("<b>mit</b>"));
    assert!(
        super::unescape(&page).contains("<script>alert(1)</script>"),
        "{page}"
    );
    // Bounded like the API: an oversized search is a clear 400 page.
    let (status, page) = b.text(&format!("/?q={}", "a".repeat(300))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("invalid_query"));
}

#[tokio::test]
async fn an_unknown_standing_is_a_clear_400() {
    let (app, _) = setup().await;
    let (status, page) = Browser::new(&app).text("/?standing=zzz").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("good, probation or suspended"));
}

#[tokio::test]
async fn full_text_search_reads_card_bodies_only_where_the_card_may_be_read() {
    let (app, alice) = setup().await;
    let body = |phrase: &str| {
        format!(
            "---\nlicense: mit\n---\n# A model\n\nIt was tuned for **{phrase}** on long prompts.\n"
        )
    };
    model(&app, &alice, "acme/open-body", &body("Refusal-Calibration")).await;
    model(
        &app,
        &alice,
        "acme/restricted-body",
        &body("refusal calibration"),
    )
    .await;
    crate::access::set_tier(&app, "acme/restricted-body", Tier::T3).await;
    app.repo("acme/private-body", true).await;
    app.commit(
        "acme/private-body",
        "main",
        &alice,
        &[("README.md", body("refusal calibration").as_bytes())],
    )
    .await;
    let mut b = Browser::new(&app);
    let search = |q: &str| format!("/?q={}", q.replace(' ', "+"));
    // Words in the body, whatever the punctuation and case between them; a T3 card's body and
    // a private repo's are no oracle (the T3 model is still listed, by its name).
    for q in [
        "refusal calibration",
        "REFUSAL, calibration!",
        "tuned for refusal",
    ] {
        let (s, page) = b.text(&search(q)).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(listed(&page), vec!["acme/open-body"], "{q}");
    }
    let (_, page) = b.text("/?q=restricted-body").await;
    assert_eq!(listed(&page), vec!["acme/restricted-body"]);
    // Its owner, who may see the private one, finds it by its body too.
    let r = app
        .req(
            reqwest::Method::GET,
            "/?q=refusal+calibration",
            Some(&alice),
        )
        .send()
        .await
        .expect("send");
    let page = r.text().await.expect("text");
    let mut found = listed(&page);
    found.sort();
    assert_eq!(found, vec!["acme/open-body", "acme/private-body"], "{page}");
    // Every word must be there, in any order; at most eight words are asked for.
    let (_, page) = b.text(&search("calibration of refusal")).await;
    assert!(
        listed(&page).is_empty(),
        "\"of\" is not in the card: {page}"
    );
    let (_, page) = b.text(&search("prompts long refusal")).await;
    assert_eq!(listed(&page), vec!["acme/open-body"]);
    let (s, page) = b.text(&search("a b c d e f g h i")).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{page}");
    assert!(page.contains("at most 8 words"), "{page}");
    // Punctuation is a separator, never a SQL wildcard.
    for q in ["%25", "_", "%25_%25"] {
        let (_, page) = b.text(&format!("/?q={q}")).await;
        assert!(listed(&page).is_empty(), "{q}: {page}");
    }
    // A new card replaces the old one's words at once.
    app.commit(
        "acme/open-body",
        "main",
        &alice,
        &[("README.md", body("jailbreak resistance").as_bytes())],
    )
    .await;
    let (_, page) = b.text(&search("refusal calibration")).await;
    assert!(listed(&page).is_empty(), "{page}");
    let (_, page) = b.text(&search("jailbreak resistance")).await;
    assert_eq!(listed(&page), vec!["acme/open-body"]);
}
