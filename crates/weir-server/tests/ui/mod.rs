//! The web UI over HTTP, one file per module of `src/ui/`: a small cookie-keeping client
//! ([`Browser`]) that reads form tokens out of pages and posts forms as a browser does. The
//! browser itself (Chromium) drives the same pages in `tests/browser.rs`.

mod account;
mod catalogue;
mod commit;
mod governance;
mod incidents;
mod jobs;
mod log;
mod model;
mod operator;
mod publisher;
mod review;
mod session;

use std::collections::BTreeMap;

use reqwest::{Method, StatusCode};
use weir_core::{Name, Scope, Tier};

use crate::common::{Response, TestApp};

pub const PASSWORD: &str = "a long test passphrase";

/// Gives existing accounts the test password, for signing in.
pub async fn passwords(app: &TestApp, names: &[&str]) {
    for n in names {
        weir_registry::accounts::set_password(
            &app.store,
            &Name::parse(n).expect("name"),
            PASSWORD,
            weir_registry::clock::now(),
        )
        .await
        .expect("password");
    }
}

/// A user with a password (and a token, for API calls), for signing in.
pub async fn person(app: &TestApp, name: &str, scope: Scope) -> String {
    let token = app.user(name, scope).await;
    passwords(app, &[name]).await;
    token
}

/// acme/gated (T2, owned by org acme whose owner is alice, a weights file) and carol, an outsider;
/// both have passwords.
pub async fn gated() -> (TestApp, String, String) {
    let (app, alice, carol) = crate::access::setup(Tier::T2).await;
    passwords(&app, &["alice", "carol"]).await;
    (app, alice, carol)
}

/// A client that keeps cookies and posts forms with the token the page gave.
pub struct Browser<'a> {
    pub app: &'a TestApp,
    pub cookies: BTreeMap<String, String>,
}

/// A page's text with askama's entities decoded (for comparing with what was put in).
pub fn unescape(page: &str) -> String {
    page.replace("&#60;", "<")
        .replace("&lt;", "<")
        .replace("&#62;", ">")
        .replace("&gt;", ">")
        .replace("&#34;", "\"")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#38;", "&")
        .replace("&amp;", "&")
}

/// The value of the first `name="csrf"` input of a page.
pub fn csrf_of(page: &str) -> Option<String> {
    let at = page.find("name=\"csrf\" value=\"")? + "name=\"csrf\" value=\"".len();
    Some(page[at..].chars().take_while(|c| *c != '"').collect())
}

impl<'a> Browser<'a> {
    pub fn new(app: &'a TestApp) -> Browser<'a> {
        Browser {
            app,
            cookies: BTreeMap::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn keep(&mut self, r: &Response) {
        for v in r.headers().get_all("set-cookie") {
            let v = v.to_str().expect("cookie");
            let (kv, attrs) = v.split_once(';').unwrap_or((v, ""));
            let (k, val) = kv.split_once('=').expect("k=v");
            if attrs.contains("Max-Age=0") {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_string(), val.to_string());
            }
        }
    }

    pub async fn get(&mut self, path: &str) -> Response {
        let mut rb = self.app.req(Method::GET, path, None);
        if !self.cookies.is_empty() {
            rb = rb.header("cookie", self.cookie_header());
        }
        let r = rb.send().await.expect("send");
        self.keep(&r);
        r
    }

    pub async fn text(&mut self, path: &str) -> (StatusCode, String) {
        let r = self.get(path).await;
        (r.status(), r.text().await.expect("utf-8"))
    }

    /// Posts a form (urlencoded) with the given fields, as they are (add `csrf` yourself).
    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Response {
        let body = serde_urlencoded::to_string(fields).expect("form");
        let mut rb = self
            .app
            .req(Method::POST, path, None)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        if !self.cookies.is_empty() {
            rb = rb.header("cookie", self.cookie_header());
        }
        let r = rb.send().await.expect("send");
        self.keep(&r);
        r
    }

    /// Reads `page`'s form token and posts `fields` with it.
    pub async fn submit(&mut self, page: &str, path: &str, fields: &[(&str, &str)]) -> Response {
        let (_, html) = self.text(page).await;
        let token = csrf_of(&html).unwrap_or_else(|| panic!("no form token on {page}"));
        let mut all = vec![("csrf", token.as_str())];
        all.extend_from_slice(fields);
        self.post(path, &all).await
    }

    /// Signs in; returns the answer to the form post.
    pub async fn sign_in(&mut self, name: &str, password: &str) -> Response {
        self.submit(
            "/login",
            "/login",
            &[("name", name), ("password", password), ("next", "/")],
        )
        .await
    }
}
