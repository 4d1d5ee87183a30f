//! Who views a page: the session cookie's account, else the bearer token's, else anonymous; and
//! the form posts a session may make (CSRF-checked).

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use serde::de::DeserializeOwned;
use weir_core::Scope;
use weir_registry::accounts::SESSION_COOKIE;
use weir_store::TokenInfo;
use weir_store::sessions::Session;
use weir_wire::ErrorCode;

use super::Chrome;
use crate::auth::{Caller, account_subject};
use crate::{ApiError, AppState, now};

/// The pre-session cookie the sign-in form's token is checked against (double submit).
pub const LOGIN_CSRF_COOKIE: &str = "weir_login_csrf";
/// The signed-out incident report form's double-submit token (Path=/incidents/new).
pub const REPORT_CSRF_COOKIE: &str = "weir_report_csrf";
/// The most a form post may carry.
pub const MAX_FORM: usize = 128 * 1024;

/// The viewer of a page.
#[derive(Clone)]
pub struct Viewer {
    pub caller: Caller,
    pub session: Option<Session>,
    pub chrome: Chrome,
    pub headers: HeaderMap,
}

/// A cookie's value from the request's `Cookie` headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = axum::response::Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Viewer, Self::Rejection> {
        let at = now();
        let mut session = None;
        if let Some(secret) = cookie(&parts.headers, SESSION_COOKIE) {
            session = weir_registry::accounts::session(&state.store, secret, at)
                .await
                .map_err(|e| super::error_page(&Chrome::default(), &ApiError::from(e)))?;
        }
        let caller = match &session {
            Some(s) => {
                let scope = session_scope(state, s.account.as_str())
                    .await
                    .map_err(|e| super::error_page(&Chrome::default(), &e))?;
                let (subject, orgs) = account_subject(state, &s.account, scope)
                    .await
                    .map_err(|e| super::error_page(&Chrome::default(), &e))?;
                let c = Caller {
                    subject,
                    token: Some(TokenInfo {
                        account: s.account.clone(),
                        scope,
                        display_name: "web session".into(),
                    }),
                    orgs,
                };
                // Later extractors (a repo lookup) see this caller, not the headers'.
                parts.extensions.insert(c.clone());
                c
            }
            None => Caller::from_request_parts(parts, state)
                .await
                .map_err(|e| super::error_page(&Chrome::default(), &e))?,
        };
        let mut reviewer = caller.scope() == Some(Scope::Admin)
            || caller.orgs.iter().any(|(_, role)| role == "owner");
        // A board member's queue holds the proposals awaiting their signature.
        if !reviewer && let Some(n) = caller.name() {
            reviewer = weir_registry::board::members(&state.store)
                .await
                .ok()
                .flatten()
                .is_some_and(|(m, _)| m.iter().any(|m| m.name == n.as_str()));
        }
        let unread = match caller.name() {
            Some(n) => state
                .store
                .db
                .unread_notifications(n.as_str())
                .await
                .unwrap_or(0),
            None => 0,
        };
        let chrome = Chrome {
            user: caller.name().map(|n| n.to_string()),
            csrf: session.as_ref().map(|s| s.csrf.clone()).unwrap_or_default(),
            reviewer,
            operator: caller.scope() == Some(Scope::Admin),
            unread,
        };
        Ok(Viewer {
            caller,
            session,
            chrome,
            headers: parts.headers.clone(),
        })
    }
}

/// A browser session acts at the write scope, or as an operator when the account is one: an
/// administrator account, or one holding a live admin token (operators are made with
/// `weir admin token create USER --scope admin`; revoking that token ends the session's
/// operator powers too).
async fn session_scope(state: &AppState, account: &str) -> Result<Scope, ApiError> {
    if state
        .store
        .db
        .account(account)
        .await?
        .is_some_and(|a| a.is_admin)
    {
        return Ok(Scope::Admin);
    }
    let admin_token = state
        .store
        .db
        .tokens_of(account)
        .await?
        .iter()
        .any(|t| t.revoked_at.is_none() && t.scope == "admin");
    Ok(if admin_token {
        Scope::Admin
    } else {
        Scope::Write
    })
}

impl Viewer {
    /// A form's outcome: on success a 303 to `to` (reloading posts nothing), else the error as
    /// a page.
    pub fn after<T, E: Into<ApiError>>(
        &self,
        result: Result<T, E>,
        to: &str,
    ) -> axum::response::Response {
        match result {
            Ok(_) => super::see_other(to),
            Err(e) => self.error(e),
        }
    }

    /// An error as a page in this viewer's frame.
    pub fn error(&self, e: impl Into<ApiError>) -> axum::response::Response {
        super::error_page(&self.chrome, &e.into())
    }
}

fn csrf_failed(why: &str) -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        ErrorCode::CsrfFailed,
        format!("this form post was refused: {why}"),
    )
    .next("reload the page and submit the form again")
}

/// Constant-time equality of two tokens.
pub fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Whether the request's `Origin` (when the browser sends one) is this server: its public URL,
/// or the host the request was sent to.
fn same_origin(headers: &HeaderMap, public_url: &str) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        // Browsers send Origin on every cross-origin POST; none means same-origin or no browser.
        return true;
    };
    if origin == public_url.trim_end_matches('/') {
        return true;
    }
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let bare = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        .unwrap_or("");
    !host.is_empty() && bare == host
}

/// Parses a bounded urlencoded form body.
async fn form_body<T: DeserializeOwned>(req: Request, state: &AppState) -> Result<T, ApiError> {
    let bytes = axum::body::Bytes::from_request(req, state)
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                ErrorCode::TooLarge,
                format!("a form carries at most {MAX_FORM} bytes"),
            )
        })?;
    if bytes.len() > MAX_FORM {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::TooLarge,
            format!("a form carries at most {MAX_FORM} bytes"),
        ));
    }
    serde_urlencoded::from_bytes(&bytes)
        .map_err(|e| ApiError::bad_request(ErrorCode::InvalidBody, format!("invalid form: {e}")))
}

/// Reads a bounded form whose `csrf` field must equal `expected` (a session's token, or a
/// double-submit cookie's), refusing before the form is interpreted.
async fn checked_form<T: DeserializeOwned>(
    viewer: &Viewer,
    req: Request,
    state: &AppState,
    expected: &str,
) -> Result<T, axum::response::Response> {
    let pairs = match form_body::<Vec<(String, String)>>(req, state).await {
        Ok(pairs) => pairs,
        Err(e) => return Err(viewer.error(e)),
    };
    let token = pairs
        .iter()
        .find(|(k, _)| k == "csrf")
        .map(|(_, v)| v.as_str())
        .unwrap_or("");
    if expected.is_empty() || !same_token(token, expected) {
        return Err(viewer.error(csrf_failed("its form token is missing or stale")));
    }
    let encoded = serde_urlencoded::to_string(&pairs).unwrap_or_default();
    serde_urlencoded::from_str::<T>(&encoded).map_err(|e| {
        viewer.error(ApiError::bad_request(
            ErrorCode::InvalidBody,
            format!("invalid form: {e}"),
        ))
    })
}

/// A double-submit cookie's token: 64 hex digits, or nothing.
fn double_submit(headers: &HeaderMap, name: &str) -> String {
    cookie(headers, name)
        .filter(|t| t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()))
        .unwrap_or("")
        .to_string()
}

/// Every form post's first step: its viewer, and a refusal when a browser says it came from
/// another site.
async fn from_this_site(
    req: Request,
    state: &AppState,
) -> Result<(Viewer, Parts, axum::body::Body), axum::response::Response> {
    let (mut parts, body) = req.into_parts();
    let viewer = Viewer::from_request_parts(&mut parts, state).await?;
    if !same_origin(&parts.headers, &state.config.public_url) {
        return Err(viewer.error(csrf_failed("it came from another site")));
    }
    Ok((viewer, parts, body))
}

/// A form posted by a signed-in session, with its CSRF token checked before anything else is
/// read or looked up.
pub struct SessionForm<T> {
    pub viewer: Viewer,
    pub session: Session,
    pub form: T,
}

impl<T: DeserializeOwned> FromRequest<AppState> for SessionForm<T> {
    type Rejection = axum::response::Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (viewer, parts, body) = from_this_site(req, state).await?;
        let Some(session) = viewer.session.clone() else {
            return Err(viewer.error(csrf_failed(
                "forms are posted from a signed-in browser session",
            )));
        };
        let req = Request::from_parts(parts, body);
        let form = checked_form(&viewer, req, state, &session.csrf).await?;
        Ok(SessionForm {
            viewer,
            session,
            form,
        })
    }
}

/// The sign-in form: no session yet, so its token is checked against a cookie set with the form.
pub struct LoginForm<T> {
    pub viewer: Viewer,
    pub form: T,
}

impl<T: DeserializeOwned> FromRequest<AppState> for LoginForm<T> {
    type Rejection = axum::response::Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (viewer, parts, body) = from_this_site(req, state).await?;
        let expected = double_submit(&parts.headers, LOGIN_CSRF_COOKIE);
        let req = Request::from_parts(parts, body);
        let form = checked_form(&viewer, req, state, &expected).await?;
        Ok(LoginForm { viewer, form })
    }
}

/// A form that a signed-in session posts with its token, or someone signed out posts with the
/// double-submit token of [`REPORT_CSRF_COOKIE`], set with the form (the anonymous incident
/// report). A bearer token never posts it.
pub struct OpenForm<T> {
    pub viewer: Viewer,
    pub form: T,
}

impl<T: DeserializeOwned> FromRequest<AppState> for OpenForm<T> {
    type Rejection = axum::response::Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (viewer, parts, body) = from_this_site(req, state).await?;
        let expected = match &viewer.session {
            Some(session) => session.csrf.clone(),
            None if viewer.caller.anonymous() => double_submit(&parts.headers, REPORT_CSRF_COOKIE),
            None => {
                return Err(viewer.error(csrf_failed(
                    "forms are posted from a browser, not with a bearer token",
                )));
            }
        };
        let req = Request::from_parts(parts, body);
        let form = checked_form(&viewer, req, state, &expected).await?;
        Ok(OpenForm { viewer, form })
    }
}
