//! The operators' page: users with their identity levels and organisations, verifiers,
//! evaluators, witnesses, the classification policy in force (its signed text, and how to
//! propose a change), the recorded events (the audit query: filters, newest first), and the
//! registry's configuration and limits. Operators only (`Action::Administer`); anyone else gets
//! the API's `not_operator`.
//!
//! Where a board governs, a policy change is proposed from the page (`weir_registry::board::
//! propose`, which checks the text and asks `weir_authz`); its members sign it in their queue.
//! Without a board the policy is set on the data directory only (`weir admin policy set`): no
//! page or API route puts a policy in force by itself.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use weir_authz::Action;
use weir_store::events::EventFilter;

use super::Chrome;
use super::session::{SessionForm, Viewer};
use crate::extract::{Query, RequestMeta};
use crate::{ApiError, AppState, now};

/// Accounts and events shown at most.
pub const USERS_SHOWN: i64 = 500;
pub const EVENTS_SHOWN: i64 = 100;

pub(super) struct UserRow {
    name: String,
    kind: &'static str,
    email: String,
    level: String,
    country: String,
    operator: bool,
    orgs: String,
}

pub(super) struct EventRow {
    id: i64,
    at: String,
    actor: String,
    action: String,
    repo: String,
    subject: String,
    decision: String,
    reason: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct Params {
    actor: String,
    action: String,
    repo: String,
}

#[derive(Template)]
#[template(path = "operator.html")]
struct Page<'a> {
    chrome: &'a Chrome,
    p: Params,
    users: Vec<UserRow>,
    verifiers: Vec<(String, String, Option<String>)>,
    evaluators: Vec<(String, String, Option<String>)>,
    witnesses: Vec<String>,
    policy_version: String,
    policy_sha256: String,
    policy_text: String,
    policy_signed: bool,
    policy_set: String,
    board: bool,
    events: Vec<EventRow>,
    config: Vec<(&'static str, String)>,
}

pub(super) async fn page(
    State(state): State<AppState>,
    viewer: Viewer,
    q: Result<Query<Params>, ApiError>,
) -> Response {
    if viewer.caller.anonymous() {
        return super::see_other("/login?next=/operator");
    }
    if !viewer.caller.authorize(&Action::Administer).allow {
        return viewer.error(ApiError::new(
            StatusCode::FORBIDDEN,
            weir_wire::ErrorCode::NotOperator,
            "Only operators see this page.",
        ));
    }
    let p = match q {
        Ok(Query(p)) => p,
        Err(e) => return viewer.error(e),
    };
    match build(&state, &viewer, p).await {
        Ok(page) => super::render(&page, None),
        Err(e) => viewer.error(e),
    }
}

async fn build<'a>(state: &AppState, viewer: &'a Viewer, p: Params) -> Result<Page<'a>, ApiError> {
    let at = now();
    let operators = state.store.db.operators().await?;
    let mut users = vec![];
    for a in state.store.db.accounts(USERS_SHOWN).await? {
        let user = a.kind == weir_store::AccountKind::User;
        let (level, country, orgs) = if user {
            let (subject, orgs) = weir_registry::access::subject_of(
                &state.store,
                &a.name,
                weir_core::Scope::Read,
                at,
            )
            .await?;
            (
                subject.level().as_str().to_string(),
                subject.country().unwrap_or("").to_string(),
                orgs.iter()
                    .map(|(o, r)| format!("{o} ({r})"))
                    .collect::<Vec<_>>()
                    .join(", "),
            )
        } else {
            (String::new(), String::new(), String::new())
        };
        users.push(UserRow {
            operator: operators.iter().any(|o| o == a.name.as_str()),
            name: a.name.to_string(),
            kind: if user { "user" } else { "org" },
            email: a.email.unwrap_or_default(),
            level,
            country,
            orgs,
        });
    }
    let verifiers = state
        .store
        .db
        .verifiers()
        .await?
        .into_iter()
        .map(|(n, c, r)| (n, super::day(c), r.map(super::day)))
        .collect();
    let evaluators = state
        .store
        .db
        .evaluators()
        .await?
        .into_iter()
        .map(|e| {
            (
                e.name,
                super::day(e.created_at),
                e.revoked_at.map(super::day),
            )
        })
        .collect();
    let witnesses = state
        .store
        .db
        .witnesses()
        .await?
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    let policy = weir_registry::policy::policy_in_force(&state.store).await?;
    let some = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_string());
    let filter = EventFilter {
        actor: some(&p.actor),
        action: some(&p.action),
        repo: some(&p.repo),
        ..Default::default()
    };
    let events =
        weir_registry::events::read(&state.store, &viewer.caller.subject, &filter, EVENTS_SHOWN)
            .await?
            .into_iter()
            .map(|(id, e)| EventRow {
                id,
                at: crate::iso8601(e.at),
                actor: e.actor.unwrap_or_default(),
                action: e.action,
                repo: e.repo.unwrap_or_default(),
                subject: e.subject.unwrap_or_default(),
                decision: e.decision,
                reason: e.reason,
            })
            .collect();
    let c = &state.config;
    let config = vec![
        ("public URL", c.public_url.clone()),
        ("log origin", c.log_signer.name().to_string()),
        ("log interval", format!("{} ms", c.log_interval_ms)),
        ("OSV prefix", c.osv_prefix.clone()),
        (
            "currency",
            format!("{} ({} decimals)", c.currency.code, c.currency.decimals),
        ),
        (
            "upload link lifetime",
            format!("{} s", c.upload_link_ttl_secs),
        ),
        (
            "webhooks to private addresses",
            c.allow_private_webhooks.to_string(),
        ),
        ("connections at most", c.limits.max_connections.to_string()),
        (
            "connections per address",
            c.limits.max_connections_per_address.to_string(),
        ),
        (
            "header read timeout",
            format!("{} s", c.limits.header_read_timeout.as_secs()),
        ),
        (
            "idle timeout",
            format!("{} s", c.limits.idle_timeout.as_secs()),
        ),
        (
            "stall timeout",
            format!("{} s", c.limits.stall_timeout.as_secs()),
        ),
        (
            "JSON body limit",
            format!("{} bytes", crate::JSON_BODY_LIMIT),
        ),
        (
            "notification e-mail",
            if state.mailer.is_some() { "on" } else { "off" }.into(),
        ),
        (
            "research environment",
            if state.enclave.is_some() { "on" } else { "off" }.into(),
        ),
    ];
    Ok(Page {
        chrome: &viewer.chrome,
        p,
        users,
        verifiers,
        evaluators,
        witnesses,
        policy_version: policy.policy.version.clone(),
        policy_sha256: policy.sha256.clone(),
        policy_text: policy.text.clone(),
        policy_signed: policy.signature.is_some(),
        policy_set: match (&policy.set_by, policy.set_at) {
            (Some(by), Some(t)) => format!("set by {by} on {}", super::day(t)),
            _ => "the shipped default".into(),
        },
        board: weir_registry::board::governed(&state.store).await?,
        events,
        config,
    })
}

/// The longest policy text proposed from the page (the shipped default is under 5 KiB).
pub const MAX_POLICY: usize = 64 * 1024;

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct PolicyBody {
    text: String,
}

/// `POST /operator/policy`: proposes a policy text to the board, through
/// `weir_registry::board::propose` (operators and board members, where a board governs).
pub(super) async fn propose_policy(
    State(state): State<AppState>,
    SessionForm { viewer, form, .. }: SessionForm<PolicyBody>,
) -> Response {
    if form.text.len() > MAX_POLICY {
        return viewer.error(ApiError::bad_request(
            weir_wire::ErrorCode::InvalidBody,
            format!("a policy is at most {MAX_POLICY} bytes"),
        ));
    }
    // Browsers post text areas with CRLF line ends; the policy's digest is over its LF text.
    let text = form.text.replace("\r\n", "\n");
    let meta = RequestMeta::of(&viewer.headers);
    let done = weir_registry::board::propose(
        &state.store,
        &viewer.caller.subject,
        &weir_core::board::Change::PolicySet { text },
        &meta.context(&viewer.caller),
        now(),
    )
    .await;
    viewer.after(done, "/review#board")
}
