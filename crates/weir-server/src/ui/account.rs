//! Signing in and out, and the account page: identity level and the attestations behind it,
//! requests, research projects, custodial exports (and their one download link), likes, tokens
//! (created with a scope, listed, revoked), notifications (marked read), sessions.

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

pub(super) fn secure(state: &AppState) -> &'static str {
    if state.config.public_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    }
}

pub(super) fn set_cookie(resp: &mut Response, value: String) {
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
    // Counted in the database: every replica counts against the same limits.
    match state.store.db.take_rates(&keys, at).await {
        Ok(Ok(())) => {}
        Ok(Err(wait)) => {
            return viewer.error(
                ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    ErrorCode::RateLimited,
                    "too many failed sign-ins",
                )
                .next(format!("wait {wait} seconds and try again")),
            );
        }
        Err(e) => return viewer.error(ApiError::from(e)),
    }
    match weir_registry::accounts::sign_in(&state.store, &form.name, &form.password, at).await {
        Ok(signed) => {
            // Only failures count.
            let names: Vec<String> = keys.iter().map(|(k, _)| k.clone()).collect();
            if let Err(e) = state.store.db.give_back_rates(&names).await {
                tracing::warn!(error = %e, "giving back sign-in attempts");
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

pub(super) struct AttestationRow {
    verifier: String,
    level: String,
    country: String,
    issued: String,
    expires: String,
    /// `in force`, `expired`, `revoked` or `verifier revoked`.
    standing: &'static str,
}

pub(super) struct ProjectRow {
    name: String,
    state: String,
    models: String,
    expires: Option<String>,
}

pub(super) struct ExportRow {
    id: i64,
    repo: String,
    state: String,
    approvals: usize,
    filed: String,
    /// The download link may be issued now (approved, none issued yet).
    may_link: bool,
    link: String,
}

pub(super) struct NotificationRow {
    date: String,
    message: String,
    unread: bool,
    link: Option<String>,
}

pub(super) struct WebhookView {
    url: String,
    created: String,
    last_status: String,
}

/// What one answer shows once: a new token, an export's link, a webhook's secret.
#[derive(Default)]
pub(super) struct Once {
    token: Option<String>,
    webhook_secret: Option<String>,
}

/// The one download link of an export, on the answer that issued it.
#[derive(Template)]
#[template(path = "export_link.html")]
struct ExportLinkPage<'a> {
    chrome: &'a Chrome,
    export: i64,
    url: String,
    expires: String,
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
    level_source: String,
    level_expires: Option<String>,
    attestations: Vec<AttestationRow>,
    projects: Vec<ProjectRow>,
    exports: Vec<ExportRow>,
    likes: Vec<String>,
    unread: usize,
    webhook: Option<WebhookView>,
    new_webhook_secret: Option<String>,
    scope: &'static str,
    orgs: Vec<(String, String)>,
    requests: Vec<RequestRow>,
    tokens: Vec<TokenView>,
    notifications: Vec<NotificationRow>,
    sessions: i64,
    new_token: Option<String>,
    scopes: Vec<&'static str>,
}

async fn account_page(state: &AppState, viewer: &Viewer, once: Once) -> Result<Response, ApiError> {
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
    let notifications: Vec<NotificationRow> = state
        .store
        .db
        .notifications(&user)
        .await?
        .into_iter()
        .take(50)
        .map(|n| NotificationRow {
            date: super::day(n.created_at),
            unread: n.read_at.is_none(),
            // Only a page of this server, as it was stored.
            link: n
                .link
                .filter(|l| l.starts_with('/') && super::local_path(l) == *l),
            message: n.message,
        })
        .collect();
    let unread = notifications.iter().filter(|n| n.unread).count();
    let identity = state.store.db.identity(&user, at).await?;
    let attestations = state
        .store
        .db
        .attestations_of(&user, 100)
        .await?
        .into_iter()
        .map(|a| AttestationRow {
            standing: if a.revoked_at.is_some() {
                "revoked"
            } else if a.verifier_revoked_at.is_some() {
                "verifier revoked"
            } else if a.expires_at <= at {
                "expired"
            } else {
                "in force"
            },
            verifier: a.verifier,
            level: a.level,
            country: a.country.unwrap_or_default(),
            issued: super::day(a.issued_at),
            expires: super::day(a.expires_at),
        })
        .collect();
    let projects = weir_registry::research::list(&state.store, &caller.subject, None, true, 100)
        .await?
        .into_iter()
        .map(|p| ProjectRow {
            name: p.full_name(),
            state: p.state.as_str().to_string(),
            models: p
                .models
                .iter()
                .map(|m| format!("{} at {}", m.repo, m.level.as_str()))
                .collect::<Vec<_>>()
                .join(", "),
            expires: p.expires_at.map(super::day),
        })
        .collect();
    let mut exports = vec![];
    for id in state.store.db.exports_of(&user, 50).await? {
        let Ok(e) = weir_registry::exports::show(&state.store, &caller.subject, id).await else {
            continue;
        };
        exports.push(ExportRow {
            id: e.id,
            repo: e.repo.to_string(),
            may_link: e.state == "approved" && !e.link_issued,
            link: if e.downloaded_at.is_some() {
                "downloaded".into()
            } else if let Some(x) = e.link_expires_at {
                format!("issued, valid until {}", super::day(x))
            } else {
                String::new()
            },
            state: e.state,
            approvals: e.approvals.len(),
            filed: super::day(e.created_at),
        });
    }
    // Likes of repos the viewer may still see (a repo made private since names nothing here).
    let mut likes = vec![];
    for id in state.store.db.liked_by(&user).await?.into_iter().take(200) {
        if let Some(repo) = state.store.db.repo_by_id(id).await?
            && caller
                .authorize(&weir_authz::Action::ReadMetadata(&crate::gate::facts(
                    &repo,
                )))
                .allow
        {
            likes.push(repo.repo_id.to_string());
        }
    }
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
        level_source: identity.source.to_string(),
        level_expires: identity.expires_at.map(super::day),
        attestations,
        projects,
        exports,
        likes,
        unread,
        webhook: state.store.db.webhook(&user).await?.map(|w| WebhookView {
            url: w.url,
            created: super::day(w.created_at),
            last_status: w.last_status.unwrap_or_else(|| "nothing sent yet".into()),
        }),
        new_webhook_secret: once.webhook_secret,
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
        new_token: once.token,
        scopes,
        user,
    };
    Ok(super::render(&page, None))
}

pub(super) async fn page(State(state): State<AppState>, viewer: Viewer) -> Response {
    if viewer.caller.anonymous() {
        return super::see_other("/login?next=/settings");
    }
    account_page(&state, &viewer, Once::default())
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
    let taken = match state
        .store
        .db
        .take_rate(&key, 1, FAILED_PER_NAME_AND_ADDRESS, now())
        .await
    {
        Ok(t) => t,
        Err(e) => return viewer.error(ApiError::from(e)),
    };
    let window = match taken {
        Ok(w) => w,
        Err(wait) => {
            return viewer.error(
                ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    ErrorCode::RateLimited,
                    "too many wrong passwords",
                )
                .next(format!("wait {wait} seconds and try again")),
            );
        }
    };
    if let Err(e) =
        weir_registry::accounts::confirm_password(&state.store, &me, &form.password).await
    {
        return viewer.error(e);
    }
    if let Err(e) = state.store.db.give_back_rate(&key, 1, window).await {
        // The right password was given: at worst this attempt stays counted.
        tracing::warn!(error = %e, "could not give back a step-up attempt");
    }
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
        Ok(secret) => account_page(
            &state,
            &viewer,
            Once {
                token: Some(secret),
                ..Default::default()
            },
        )
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

/// `POST /settings/notifications/read`: every notification marked read (the bell goes quiet).
pub(super) async fn mark_read(
    State(state): State<AppState>,
    SessionForm { viewer, .. }: SessionForm<Vec<(String, String)>>,
) -> Response {
    let Some(me) = viewer.caller.name() else {
        return viewer.error(ApiError::internal());
    };
    let done = state.store.db.mark_all_read(me.as_str(), now()).await;
    viewer.after(
        done.map_err(weir_registry::ServiceError::from),
        "/settings#notifications",
    )
}

/// `POST /settings/exports/{id}/link`: the requester's one download link of an approved
/// custodial export, through `weir_registry::exports::link` (which asks `weir_authz` again with
/// the requester's and the repo's facts now). Shown once, on this answer.
pub(super) async fn export_link(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    SessionForm { viewer, .. }: SessionForm<Vec<(String, String)>>,
) -> Response {
    let meta = RequestMeta::of(&viewer.headers);
    match weir_registry::exports::link(
        &state.store,
        &viewer.caller.subject,
        id,
        crate::exports::LINK_TTL_SECS,
        &meta.context(&viewer.caller),
        now(),
    )
    .await
    {
        // A page of its own, rendered from what was issued alone: nothing read after the
        // link exists can fail and lose it.
        Ok(l) => super::render(
            &ExportLinkPage {
                chrome: &viewer.chrome,
                export: l.export,
                url: format!(
                    "{}/api/v1/exports/download/{}",
                    state.config.public_url, l.token
                ),
                expires: crate::iso8601(l.expires_at),
            },
            None,
        ),
        Err(e) => viewer.error(e),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct WebhookBody {
    url: String,
}

/// `POST /settings/webhook`: registers (or replaces) the account's webhook, checked as the
/// API checks it (`crate::webhook::checked_url`: http(s), public addresses unless the operator
/// allows private ones); its signing secret is shown once, on this answer.
pub(super) async fn set_webhook(
    State(state): State<AppState>,
    SessionForm { viewer, form, .. }: SessionForm<WebhookBody>,
) -> Response {
    let Some(me) = viewer.caller.name().map(|n| n.to_string()) else {
        return viewer.error(ApiError::internal());
    };
    let url = match crate::webhook::checked_url(&state, &me, &form.url).await {
        Ok(u) => u,
        Err(e) => return viewer.error(e),
    };
    let secret = crate::webhook::new_secret();
    if let Err(e) = state.store.db.set_webhook(&me, &url, &secret).await {
        return viewer.error(weir_registry::ServiceError::from(e));
    }
    account_page(
        &state,
        &viewer,
        Once {
            webhook_secret: Some(secret),
            ..Default::default()
        },
    )
    .await
    .unwrap_or_else(|e| viewer.error(e))
}

/// `POST /settings/webhook/delete`: removes the account's webhook.
pub(super) async fn delete_webhook(
    State(state): State<AppState>,
    SessionForm { viewer, .. }: SessionForm<Vec<(String, String)>>,
) -> Response {
    let Some(me) = viewer.caller.name().map(|n| n.to_string()) else {
        return viewer.error(ApiError::internal());
    };
    let done = state.store.db.delete_webhook(&me).await;
    viewer.after(
        done.map_err(weir_registry::ServiceError::from),
        "/settings#webhook",
    )
}
