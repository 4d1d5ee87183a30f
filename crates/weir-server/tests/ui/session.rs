//! Sessions: signing in sets an HttpOnly, SameSite=Lax cookie; a wrong password and an unknown
//! name answer alike; every form post needs the session's token from this site; signing out ends
//! the session (everywhere, on request); sign-in is rate-limited; a new password signs out.

use reqwest::{Method, StatusCode};
use weir_core::{Name, Scope};

use super::{Browser, PASSWORD, csrf_of, person};
use crate::common::TestApp;

#[tokio::test]
async fn signing_in_sets_a_guarded_cookie_and_shows_the_account() {
    let app = TestApp::new().await;
    person(&app, "carol", Scope::Write).await;
    let mut b = Browser::new(&app);
    let r = b.sign_in("carol", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/");
    let cookie = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().expect("c").to_string())
        .find(|c| c.starts_with("weir_session="))
        .expect("session cookie");
    for attr in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(attr), "{cookie}");
    }
    // Served over http here, so not Secure (a browser would drop it); over https it is.
    assert!(!cookie.contains("Secure"), "{cookie}");
    let (status, page) = b.text("/settings").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("<h1>carol</h1>"), "{page}");
    // The secret is stored hashed: the database never holds the cookie's value.
    let secret = b.cookies["weir_session"].clone();
    assert_eq!(secret.len(), 64);
    let raw = app.stored_bytes().await;
    assert!(
        !raw.windows(secret.len()).any(|w| w == secret.as_bytes()),
        "the session secret is in the database"
    );
}

#[tokio::test]
async fn https_registries_mark_the_cookie_secure() {
    let app = TestApp::with(|c| c.public_url = "https://weir.example".into()).await;
    person(&app, "carol", Scope::Write).await;
    let mut b = Browser::new(&app);
    let r = b.sign_in("carol", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let all: Vec<String> = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().expect("c").to_string())
        .collect();
    assert!(
        all.iter()
            .any(|c| c.starts_with("weir_session=") && c.contains("; Secure")),
        "{all:?}"
    );
}

#[tokio::test]
async fn wrong_passwords_and_unknown_names_answer_alike() {
    let app = TestApp::new().await;
    person(&app, "carol", Scope::Write).await;
    app.user("nopass", Scope::Write).await;
    app.org("acme", &[]).await;
    let mut answers = vec![];
    for (name, pw) in [
        ("carol", "not the password at all"),
        ("nobody", PASSWORD),
        ("nopass", PASSWORD),
        ("acme", PASSWORD),
        ("../../etc", PASSWORD),
    ] {
        let mut b = Browser::new(&app);
        let r = b.sign_in(name, pw).await;
        let status = r.status();
        let page = r.text().await.expect("text");
        assert!(!page.contains("weir_session"));
        answers.push((status, page.contains("the name or the password is wrong")));
    }
    assert!(
        answers
            .iter()
            .all(|a| *a == (StatusCode::UNAUTHORIZED, true)),
        "{answers:?}"
    );
}

#[tokio::test]
async fn forms_need_the_sessions_token_from_this_site() {
    let app = TestApp::new().await;
    let token = person(&app, "carol", Scope::Write).await;
    let mut b = Browser::new(&app);
    b.sign_in("carol", PASSWORD).await;
    let tokens_before = app.store.db.tokens_of("carol").await.expect("db").len();
    // No token, a stale one, one from another session: refused, nothing created.
    let mut other = Browser::new(&app);
    other.sign_in("carol", PASSWORD).await;
    let (_, other_page) = other.text("/settings").await;
    let foreign = csrf_of(&other_page).expect("token");
    for fields in [
        vec![("name", "x"), ("scope", "read"), ("password", PASSWORD)],
        vec![
            ("csrf", "0"),
            ("name", "x"),
            ("scope", "read"),
            ("password", PASSWORD),
        ],
        vec![
            ("csrf", foreign.as_str()),
            ("name", "x"),
            ("scope", "read"),
            ("password", PASSWORD),
        ],
    ] {
        let r = b.post("/settings/tokens", &fields).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        assert!(r.text().await.expect("t").contains("csrf_failed"));
    }
    // The right token from another site (a forged cross-site post carrying a leaked token).
    let (_, page) = b.text("/settings").await;
    let mine = csrf_of(&page).expect("token");
    let r = app
        .req(Method::POST, "/settings/tokens", None)
        .header("content-type", "application/x-www-form-urlencoded")
        .header(
            "cookie",
            format!("weir_session={}", b.cookies["weir_session"]),
        )
        .header("origin", "https://evil.example")
        .header("host", "weir.test")
        .body(format!("csrf={mine}&name=x&scope=read"))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // A bearer token never posts a form, even with a token field.
    let r = app
        .req(Method::POST, "/settings/tokens", Some(&token))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("csrf={mine}&name=x&scope=read"))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        app.store.db.tokens_of("carol").await.expect("db").len(),
        tokens_before
    );
    // And the real form, from this site, works.
    let r = b
        .post(
            "/settings/tokens",
            &[
                ("csrf", &mine),
                ("name", "x"),
                ("scope", "read"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        app.store.db.tokens_of("carol").await.expect("db").len(),
        tokens_before + 1
    );
}

#[tokio::test]
async fn the_sign_in_form_itself_needs_its_token() {
    let app = TestApp::new().await;
    person(&app, "carol", Scope::Write).await;
    let mut b = Browser::new(&app);
    // A forged sign-in (login CSRF): no form cookie, or a token that is not the cookie's.
    let r = b
        .post("/login", &[("name", "carol"), ("password", PASSWORD)])
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    b.get("/login").await;
    let r = b
        .post(
            "/login",
            &[
                ("csrf", &"0".repeat(64)),
                ("name", "carol"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(!b.cookies.contains_key("weir_session"));
}

#[tokio::test]
async fn signing_out_ends_the_session_and_everywhere_ends_all() {
    let app = TestApp::new().await;
    person(&app, "carol", Scope::Write).await;
    let mut one = Browser::new(&app);
    let mut two = Browser::new(&app);
    one.sign_in("carol", PASSWORD).await;
    two.sign_in("carol", PASSWORD).await;
    let kept = one.cookies["weir_session"].clone();
    let r = one.submit("/settings", "/logout", &[]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(!one.cookies.contains_key("weir_session"));
    // The old cookie, replayed, is nobody.
    one.cookies.insert("weir_session".into(), kept);
    let r = one.get("/settings").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "signed out: to /login");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, page) = two.text("/settings").await;
    assert!(page.contains("1 browser session"), "{page}");
    let mut three = Browser::new(&app);
    three.sign_in("carol", PASSWORD).await;
    let r = three
        .submit("/settings", "/logout", &[("everywhere", "1")])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(two.get("/settings").await.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn sign_in_is_rate_limited() {
    let app = TestApp::new().await;
    person(&app, "carol", Scope::Write).await;
    let mut b = Browser::new(&app);
    for _ in 0..10 {
        assert_eq!(
            b.sign_in("carol", "wrong wrong wrong").await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    // The right password, after ten failures from this address: refused for a while.
    let r = b.sign_in("carol", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(!b.cookies.contains_key("weir_session"));
}

#[tokio::test]
async fn a_new_password_signs_every_session_out() {
    let app = TestApp::new().await;
    person(&app, "carol", Scope::Write).await;
    let mut b = Browser::new(&app);
    b.sign_in("carol", PASSWORD).await;
    assert_eq!(b.get("/settings").await.status(), StatusCode::OK);
    weir_registry::accounts::set_password(
        &app.store,
        &Name::parse("carol").expect("n"),
        "another long passphrase",
        weir_registry::clock::now(),
    )
    .await
    .expect("set");
    assert_eq!(b.get("/settings").await.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        Browser::new(&app).sign_in("carol", PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let short = weir_registry::accounts::set_password(
        &app.store,
        &Name::parse("carol").expect("n"),
        "short",
        weir_registry::clock::now(),
    )
    .await;
    assert!(short.is_err());
}

#[tokio::test]
async fn sign_in_returns_only_to_local_pages() {
    let app = TestApp::new().await;
    person(&app, "carol", Scope::Write).await;
    for (next, to) in [
        ("/acme/m", "/acme/m"),
        ("//evil.example/x", "/"),
        ("https://evil.example", "/"),
    ] {
        let mut b = Browser::new(&app);
        let r = b
            .submit(
                "/login",
                "/login",
                &[("name", "carol"), ("password", PASSWORD), ("next", next)],
            )
            .await;
        assert_eq!(r.headers()["location"], to, "{next}");
    }
}

#[tokio::test]
async fn only_failed_sign_ins_count_and_sign_out_clears_the_cache() {
    let app = TestApp::new().await;
    person(&app, "carol", Scope::Write).await;
    // Twelve good sign-ins in a row: nobody is locked out by signing in.
    for _ in 0..12 {
        let mut b = Browser::new(&app);
        assert_eq!(
            b.sign_in("carol", PASSWORD).await.status(),
            StatusCode::SEE_OTHER
        );
    }
    // A name longer than any account's is refused like any wrong name.
    let mut b = Browser::new(&app);
    let long = "x".repeat(10_000);
    assert_eq!(
        b.sign_in(&long, PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let mut b = Browser::new(&app);
    b.sign_in("carol", PASSWORD).await;
    let r = b.submit("/settings", "/logout", &[]).await;
    assert_eq!(r.headers()["clear-site-data"], "\"cache\"");
    // Signed-in pages are never stored; signed-out ones are revalidated.
    let mut c = Browser::new(&app);
    c.sign_in("carol", PASSWORD).await;
    assert_eq!(c.get("/").await.headers()["cache-control"], "no-store");
    assert_eq!(
        Browser::new(&app).get("/").await.headers()["cache-control"],
        "private, no-cache"
    );
}
