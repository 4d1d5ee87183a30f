//! The web UI: server-rendered pages (askama templates, a hand-written stylesheet, htmx 2
//! vendored into the binary) over the same services and `weir_authz` decisions as the API.
//!
//! - Pages authenticate by the session cookie (signed in at `/login` with a password), or by an
//!   `Authorization: Bearer` token as the API does; a page shows exactly what its caller may see,
//!   and a private repo's page answers exactly like a missing one.
//! - Every form post needs a session and its CSRF token (and a same-origin `Origin`, when the
//!   browser sends one); a bearer token never posts a form.
//! - Every page carries the security headers ([`html`]): a CSP without inline scripts or styles,
//!   no framing, a same-origin referrer; a signed-in viewer's pages are `no-store` (Back after
//!   signing out shows nothing), a signed-out viewer's `private, no-cache` with an ETag.

mod account;
mod assets;
mod catalogue;
mod commit;
mod governance;
mod incidents;
mod jobs;
mod log;
mod markdown;
mod model;
mod operator;
mod publisher;
mod review;
pub(crate) mod session;

use askama::Template;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use sha2::{Digest, Sha256};

use crate::ApiError;
use crate::routes::Routes;

/// Form posts carry at most [`session::MAX_FORM`]: refused before more is read.
fn form_limit() -> axum::extract::DefaultBodyLimit {
    axum::extract::DefaultBodyLimit::max(session::MAX_FORM)
}

pub fn routes() -> Routes {
    Routes::new()
        .add("/", &["GET"], get(catalogue::page))
        .add("/models", &["GET"], get(catalogue::page))
        .add("/static/{file}", &["GET"], get(assets::serve))
        .add(
            "/login",
            &["GET", "POST"],
            get(account::login_form)
                .post(account::login)
                .layer(form_limit()),
        )
        .add(
            "/logout",
            &["POST"],
            post(account::logout).layer(form_limit()),
        )
        .add("/settings", &["GET"], get(account::page))
        .add(
            "/settings/tokens",
            &["POST"],
            post(account::create_token).layer(form_limit()),
        )
        .add(
            "/settings/tokens/{id}/revoke",
            &["POST"],
            post(account::revoke_token).layer(form_limit()),
        )
        .add(
            "/settings/webhook",
            &["POST"],
            post(account::set_webhook).layer(form_limit()),
        )
        .add(
            "/settings/webhook/delete",
            &["POST"],
            post(account::delete_webhook).layer(form_limit()),
        )
        .add(
            "/settings/notifications/read",
            &["POST"],
            post(account::mark_read).layer(form_limit()),
        )
        .add(
            "/settings/exports/{id}/link",
            &["POST"],
            post(account::export_link).layer(form_limit()),
        )
        .add("/review", &["GET"], get(review::page))
        .add(
            "/review/access/{ns}/{name}/{user}",
            &["POST"],
            post(review::decide).layer(form_limit()),
        )
        .add(
            "/review/projects/{ns}/{name}",
            &["POST"],
            post(review::decide_project).layer(form_limit()),
        )
        .add(
            "/review/exports/{id}",
            &["POST"],
            post(review::approve_export).layer(form_limit()),
        )
        .add(
            "/review/evidence/{id}",
            &["POST"],
            post(review::decide_evidence).layer(form_limit()),
        )
        .add(
            "/review/grants/{id}",
            &["POST"],
            post(governance::review_grant).layer(form_limit()),
        )
        .add(
            "/review/awards/{id}/report",
            &["POST"],
            post(governance::accept_report).layer(form_limit()),
        )
        .add(
            "/review/payouts/{id}",
            &["POST"],
            post(governance::decide_payout).layer(form_limit()),
        )
        .add(
            "/review/board/{id}",
            &["POST"],
            post(governance::sign_proposal).layer(form_limit()),
        )
        .add(
            "/review/jobs/{id}",
            &["GET", "POST"],
            get(jobs::page).post(jobs::vote).layer(form_limit()),
        )
        .add(
            "/incidents/new",
            &["GET", "POST"],
            get(incidents::new_form)
                .post(incidents::file)
                .layer(form_limit()),
        )
        .add("/incidents/{id}", &["GET"], get(incidents::page))
        .add(
            "/incidents/{id}/updates",
            &["POST"],
            post(incidents::update).layer(form_limit()),
        )
        .add(
            "/incidents/{id}/transition",
            &["POST"],
            post(incidents::move_to).layer(form_limit()),
        )
        .add("/operator", &["GET"], get(operator::page))
        .add(
            "/operator/policy",
            &["POST"],
            post(operator::propose_policy).layer(form_limit()),
        )
        .add("/log", &["GET"], get(log::page))
        .add("/log/entry/{index}", &["GET"], get(log::entry))
        .add("/{ns}", &["GET"], get(publisher::page))
        .add("/{ns}/{name}", &["GET"], get(model::page))
        .add("/{ns}/{name}/commit/{sha}", &["GET"], get(commit::page))
        .add(
            "/{ns}/{name}/access",
            &["POST"],
            post(model::request_access).layer(form_limit()),
        )
}

/// What every page's frame shows: who is signed in, the form token, the review link.
#[derive(Debug, Clone, Default)]
pub struct Chrome {
    pub user: Option<String>,
    /// The session's CSRF token (empty without a session: such a caller posts no forms).
    pub csrf: String,
    /// Whether the caller reviews anything (an operator, or an owner of an org).
    pub reviewer: bool,
    /// Whether the caller is an operator.
    pub operator: bool,
    pub unread: i64,
}

/// The Content-Security-Policy of every page: scripts and styles from this server only, no
/// inline ones, no plugins, no framing, forms post here only.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
     connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The headers of every page.
pub fn page_headers(h: &mut HeaderMap) {
    let set = |h: &mut HeaderMap, k: header::HeaderName, v: &'static str| {
        h.insert(k, HeaderValue::from_static(v));
    };
    set(h, header::CONTENT_TYPE, "text/html; charset=utf-8");
    set(h, header::CONTENT_SECURITY_POLICY, CSP);
    set(h, header::X_FRAME_OPTIONS, "DENY");
    set(h, header::REFERRER_POLICY, "same-origin");
    set(h, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    // A page is about its viewer: never kept by a shared cache, revalidated every time, and a
    // signed-in viewer's pages not kept at all (a Back button after signing out shows nothing).
    set(h, header::CACHE_CONTROL, "no-store");
    set(h, header::VARY, "Cookie, Authorization");
}

/// Whether a request is a signed-in viewer's (a session cookie or a bearer token).
fn signed_in(request: &HeaderMap) -> bool {
    request.contains_key(header::AUTHORIZATION)
        || session::cookie(request, weir_registry::accounts::SESSION_COOKIE).is_some()
}

/// A rendered page with the UI's headers and an ETag, answering 304 to a matching
/// `If-None-Match`.
pub fn html(status: StatusCode, body: String, request: Option<&HeaderMap>) -> Response {
    let etag = format!(
        "\"{}\"",
        hex::encode(&Sha256::digest(body.as_bytes())[..16])
    );
    let fresh = status == StatusCode::OK
        && request
            .and_then(|h| h.get(header::IF_NONE_MATCH))
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    // Only a signed-out viewer's page is revalidated from the browser's cache; any other (or a
    // page rendered without the request: the account page, errors) is never stored.
    let anonymous = request.is_some_and(|h| !signed_in(h));
    let mut resp = if fresh && anonymous {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (status, body).into_response()
    };
    page_headers(resp.headers_mut());
    if anonymous {
        resp.headers_mut().insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, no-cache"),
        );
        if let Ok(v) = HeaderValue::from_str(&etag) {
            resp.headers_mut().insert(header::ETAG, v);
        }
    }
    resp
}

/// Renders a template into a page.
pub fn render<T: Template>(t: &T, request: Option<&HeaderMap>) -> Response {
    match t.render() {
        Ok(body) => html(StatusCode::OK, body, request),
        Err(e) => {
            tracing::error!(error = %e, "a page could not be rendered");
            error_page(
                &Chrome::default(),
                &ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    weir_wire::ErrorCode::Internal,
                    "this page could not be rendered",
                ),
            )
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    chrome: &'a Chrome,
    heading: &'a str,
    message: &'a str,
    next: Option<&'a str>,
    code: &'a str,
    status: u16,
}

/// An error as a page: the same status, code, message and next step as the API's envelope.
pub fn error_page(chrome: &Chrome, e: &ApiError) -> Response {
    let heading = match e.status {
        StatusCode::NOT_FOUND => "Not found",
        StatusCode::UNAUTHORIZED => "Sign in needed",
        StatusCode::FORBIDDEN => "Not allowed",
        StatusCode::TOO_MANY_REQUESTS => "Too many attempts",
        s if s.is_client_error() => "That did not work",
        _ => "Something went wrong",
    };
    let page = ErrorPage {
        chrome,
        heading,
        message: &e.message,
        next: e.next.as_deref(),
        code: e.error.as_str(),
        status: e.status.as_u16(),
    };
    let body = page
        .render()
        .unwrap_or_else(|_| format!("{heading}: {}", e.error.as_str()));
    html(e.status, body, None)
}

/// A 303 to `to` (after a form post: the browser gets the page, and reloading posts nothing).
pub fn see_other(to: &str) -> Response {
    let mut resp = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    page_headers(resp.headers_mut());
    resp
}

/// A local path to return to after signing in: only a path on this server (never `//host`).
pub fn local_path(next: &str) -> String {
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && next.len() <= 512
        && !next.chars().any(|c| c.is_control() || c == '\\');
    if ok { next.to_string() } else { "/".into() }
}

/// Seconds since the epoch as a date (UTC).
pub fn day(t: i64) -> String {
    crate::iso8601(t).chars().take(10).collect()
}

/// A byte count for people: `1.2 GB`.
pub fn size(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1000.0 && u < UNITS.len() - 1 {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_returned_to() {
        assert_eq!(local_path("/acme/m"), "/acme/m");
        for bad in [
            "//evil.example",
            "https://evil.example",
            "/\\evil",
            "evil",
            "/a\nb",
        ] {
            assert_eq!(local_path(bad), "/", "{bad:?}");
        }
    }

    #[test]
    fn sizes_read_like_the_hub() {
        assert_eq!(size(12), "12 B");
        assert_eq!(size(1_500), "1.5 kB");
        assert_eq!(size(2_300_000_000), "2.3 GB");
    }
}
