//! Signing in and out, and the account page: identity level, requests, tokens (created with a
//! scope, listed, revoked), notifications, sessions.

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde::Deserialize;
use weir_core::Scope;
use weir_registry::accounts::{SESSION_COOKIE, SESSION_TTL_SECS};
use weir_wire::ErrorCode;

use super::Chrome;
use super::session::{LOGIN_CSRF_COOKIE, LoginForm, SessionForm, Viewer};
use crate::extract::{Path, Query, RequestMeta};
use crate::limits::Limit;
use crate::{ApiError, AppState, now};

/// Failed sign-ins counted in five minutes: per name from one address (a guesser), per address
/// (one address trying many names), and per name from everywhere (a distributed guesser: high,
/// so nobody can lock an account out from one address). A successful sign-in counts nothing.
pub const FAILED_PER_NAME_AND_ADDRESS: Limit = Limit {
    max: 10,
    window_secs: 300,
};
pub const FAILED_PER_ADDRESS: Limit = Limit {
    max: 30,
    window_secs: 300,
};
pub const FAILED_PER_NAME: Limit = Limit {
    max: 100,
    window_secs: 300,
};

fn secure(state: &AppState) -> &'static str {
    if state.config.public_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    }
}

fn set_cookie(resp: &mut Response, value: String) {
    if let Ok(v) = HeaderValue::from_str(&value) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    chrome: &'a Chrome,
    form_csrf: String,
    next: String,
    name: String,
    error: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct NextQuery {
    next: String,
}

fn login_page(
    state: &AppState,
    viewer: &Viewer,
    status: StatusCode,
    next: &str,
    name: &str,
    error: Option<String>,
) -> Response {
    let token = hex::encode(rand::random::<[u8; 32]>());
    let page = LoginPage {
        chrome: &viewer.chrome,
        form_csrf: token.clone(),
        next: super::local_path(next),
        name: name.to_string(),
        error,
    };
    let mut resp = match page.render() {
        Ok(body) => super::html(status, body, None),
        Err(_) => return viewer.error(ApiError::internal()),
    };
    set_cookie(
        &mut resp,
        format!(
            "{LOGIN_CSRF_COOKIE}={token}; Path=/login; HttpOnly; SameSite=Lax; Max-Age=3600{}",
            secure(state)
        ),
    );
    resp
}

pub(super) async fn login_form(
    State(state): State<AppState>,
    viewer: Viewer,
    q: Result<Query<NextQuery>, ApiError>,
) -> Response {
    let next = q.map(|Query(q)| q.next).unwrap_or_default();
    login_page(&state, &viewer, StatusCode::OK, &next, "", None)
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct LoginBody {
    name: String,
    password: String,
    next: String,
}

pub(super) async fn login(
    State(state): State<AppState>,
    addr: Option<axum::Extension<crate::conn::ClientAddr>>,
    LoginForm { viewer, form }: LoginForm<LoginBody>,
) -> Response {
    let at = now();
    // IPv6 by its /64: one host rotating through its own range is one address.
    let ip = addr
        .map(|a| crate::conn::address_key(a.0.0.ip()).to_string())
        .unwrap_or_else(|| "unknown".into());
    // Keys stay small whatever is posted: a name longer than any account's is one key.
    let name = if form.name.len() <= 96 {
        form.name.to_ascii_lowercase()
    } else {
        "(too long)".into()
    };
    // The address first: an address out of attempts makes no new keys, whatever names it tries.
    let keys = [
        (format!("sign-in:addr:{ip}"), FAILED_PER_ADDRESS),
        (
            format!("sign-in:name-addr:{name}:{ip}"),
            FAILED_PER_NAME_AND_ADDRESS,
        ),
        (format!("sign-in:name:{name}"), FAILED_PER_NAME),
    ];
    for (i, (key, limit)) in keys.iter().enumerate() {
        if let Err(wait) = state.limiter.take(key, 1, *limit, at) {
            for (k, _) in &keys[..i] {
                state.limiter.give_back(k, 1);
            }
            return viewer.error(
                ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    ErrorCode::RateLimited,
                    "too many failed sign-ins",
                )
                .next(format!("wait {wait} seconds and try again")),
            );
        }
    }
    match weir_registry::accounts::sign_in(&state.store, &form.name, &form.password, at).await {
        Ok(signed) => {
            // Only failures count.
            for (k, _) in &keys {
                state.limiter.give_back(k, 1);
            }
            let mut resp = super::see_other(&super::local_path(&form.next));
            set_cookie(
                &mut resp,
                format!(
                    "{SESSION_COOKIE}={}; Path=/; HttpOnly; SameSite=Lax; Max-Age={SESSION_TTL_SECS}{}",
                    signed.secret,
                    secure(&state)
                ),
            );
            set_cookie(
                &mut resp,
                format!("{LOGIN_CSRF_COOKIE}=; Path=/login; HttpOnly; SameSite=Lax; Max-Age=0"),
            );
            resp
        }
        Err(e) => {
            let e = ApiError::from(e);
            login_page(
                &state,
                &viewer,
                e.status,
                &form.next,
                &form.name,
                Some(e.message.clone()),
            )
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct LogoutBody {
    everywhere: String,
}

pub(super) async fn logout(
    State(state): State<AppState>,
    SessionForm {
        viewer,
        session,
        form,
    }: SessionForm<LogoutBody>,
) -> Response {
    let everywhere = !form.everywhere.is_empty();
    if let Err(e) =
        weir_registry::accounts::sign_out(&state.store, &session, everywhere, now()).await
    {
        return viewer.error(e);
    }
    let mut resp = super::see_other("/");
    set_cookie(
        &mut resp,
        format!(
            "{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{}",
            secure(&state)
        ),
    );
    // What the browser kept of the signed-in pages goes too.
    resp.headers_mut().insert(
        axum::http::HeaderName::from_static("clear-site-data"),
        HeaderValue::from_static("\"cache\""),
    );
    resp
}

pub(super) struct TokenView {
    id: i64,
    name: String,
    scope: String,
    created: String,
    revoked: Option<String>,
}

pub(super) struct RequestRow {
    repo: String,
    state: String,
    due: String,
    reason: Option<String>,
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage<'a> {
    chrome: &'a Chrome,
    user: String,
    level: &'static str,
    country: Option<String>,
    scope: &'static str,
    orgs: Vec<(String, String)>,
    requests: Vec<RequestRow>,
    tokens: Vec<TokenView>,
    notifications: Vec<(String, String, bool)>,
    sessions: i64,
    new_token: Option<String>,
    scopes: Vec<&'static str>,
}

async fn account_page(
    state: &AppState,
    viewer: &Viewer,
    new_token: Option<String>,
) -> Result<Response, ApiError> {
    let caller = &viewer.caller;
    let user = caller.require_user()?.to_string();
    let at = now();
    // Only requests on repos you may still see: a repo made private since names nothing here.
    let mut visible = vec![];
    for (id, r) in state.store.db.requests_of_user(&user).await? {
        let Some(repo) = state.store.db.repo(&id).await? else {
            continue;
        };
        if caller
            .authorize(&weir_authz::Action::ReadMetadata(&crate::gate::facts(
                &repo,
            )))
            .allow
        {
            visible.push((id, r));
        }
    }
    let requests = visible
        .into_iter()
        .map(|(id, r)| RequestRow {
            repo: id.to_string(),
            state: r.state.as_str().to_string(),
            due: super::day(r.due_at),
            reason: r.reason,
        })
        .collect();
    let tokens = state
        .store
        .db
        .tokens_of(&user)
        .await?
        .into_iter()
        .map(|t| TokenView {
            id: t.id,
            name: t.display_name,
            scope: t.scope,
            created: super::day(t.created_at),
            revoked: t.revoked_at.map(super::day),
        })
        .collect();
    let notifications = state
        .store
        .db
        .notifications(&user)
        .await?
        .into_iter()
        .take(50)
        .map(|n| (super::day(n.created_at), n.message, n.read_at.is_none()))
        .collect();
    let scope = caller.scope().unwrap_or(Scope::Read);
    let scopes = [Scope::Read, Scope::Write]
        .into_iter()
        .filter(|s| *s <= scope)
        .map(|s| s.as_str())
        .collect();
    let page = AccountPage {
        chrome: &viewer.chrome,
        level: caller.level().as_str(),
        country: caller.country().map(str::to_string),
        scope: scope.as_str(),
        orgs: caller
            .orgs
            .iter()
            .map(|(o, r)| (o.to_string(), r.clone()))
            .collect(),
        requests,
        tokens,
        notifications,
        sessions: state.store.db.live_sessions(&user, at).await?,
        new_token,
        scopes,
        user,
    };
    Ok(super::render(&page, None))
}

pub(super) async fn page(State(state): State<AppState>, viewer: Viewer) -> Response {
    if viewer.caller.anonymous() {
        return super::see_other("/login?next=/settings");
    }
    account_page(&state, &viewer, None)
        .await
        .unwrap_or_else(|e| viewer.error(e))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct TokenBody {
    name: String,
    scope: String,
    password: String,
}

pub(super) async fn create_token(
    State(state): State<AppState>,
    SessionForm { viewer, form, .. }: SessionForm<TokenBody>,
) -> Response {
    let own = viewer.caller.scope().unwrap_or(Scope::Read);
    let Some(scope) = Scope::parse(&form.scope) else {
        return viewer.error(ApiError::bad_request(
            ErrorCode::InvalidBody,
            "choose a scope: read, write or admin",
        ));
    };
    let Some(me) = viewer.caller.name().cloned() else {
        return viewer.error(ApiError::internal());
    };
    // The step-up is a password guess too: limited like sign-in, per account.
    let key = format!("step-up:{me}");
    if let Err(wait) = state
        .limiter
        .take(&key, 1, FAILED_PER_NAME_AND_ADDRESS, now())
    {
        return viewer.error(
            ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                ErrorCode::RateLimited,
                "too many wrong passwords",
            )
            .next(format!("wait {wait} seconds and try again")),
        );
    }
    if let Err(e) =
        weir_registry::accounts::confirm_password(&state.store, &me, &form.password).await
    {
        return viewer.error(e);
    }
    state.limiter.give_back(&key, 1);
    let meta = RequestMeta::of(&viewer.headers);
    match weir_registry::tokens::create(
        &state.store,
        &viewer.caller.subject,
        own,
        scope,
        &form.name,
        &meta.context(&viewer.caller),
        now(),
    )
    .await
    {
        // Shown once, on this answer (no redirect: a reload must not show it again).
        Ok(secret) => account_page(&state, &viewer, Some(secret))
            .await
            .unwrap_or_else(|e| viewer.error(e)),
        Err(e) => viewer.error(e),
    }
}

pub(super) async fn revoke_token(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    SessionForm { viewer, .. }: SessionForm<Vec<(String, String)>>,
) -> Response {
    let meta = RequestMeta::of(&viewer.headers);
    let done = weir_registry::tokens::revoke(
        &state.store,
        &viewer.caller.subject,
        id,
        &meta.context(&viewer.caller),
        now(),
    )
    .await;
    viewer.after(done, "/settings#tokens")
}
