//! Incidents in the browser: a report filed from a form, an incident's page for whoever may see
//! it (its reporter, its publisher, operators; disclosed records for everyone), updates and
//! transitions from the page, and the operators' triage list.
//!
//! The forms drive the API's own incident handlers (`crate::incidents`), with the session's
//! caller: the same checks, bounds, rate limits, roles and `weir_authz` decisions, no copy.
//! (The one place where the UI calls into another handler module; moving the report's checks
//! into `weir_registry::incidents` would end that exception.)

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Map, Value};
use weir_core::incident::Class;
use weir_wire::incidents as wire;

use super::Chrome;
use super::session::{OpenForm, SessionForm, Viewer};
use crate::extract::{Json, Path, Query, RequestMeta};
use crate::incidents::{list, report, show, transition, updates};
use crate::{ApiError, AppState};

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct NewQuery {
    repo: String,
}

#[derive(Template)]
#[template(path = "incident_new.html")]
struct NewPage<'a> {
    chrome: &'a Chrome,
    repo: String,
    classes: Vec<&'static str>,
    /// The form's token: the session's, or (signed out) the double-submit cookie's.
    csrf: String,
    anonymous: bool,
    sign_in: String,
}

#[derive(Template)]
#[template(path = "incident_received.html")]
struct ReceivedPage<'a> {
    chrome: &'a Chrome,
    id: String,
    token: String,
    public_url: &'a str,
}

/// The report form: for a signed-in session, or for someone signed out, who reports
/// anonymously (the form's token is a double-submit cookie; the report is rate-limited by
/// address, as the API's anonymous reports are) and receives a follow-up token once.
pub(super) async fn new_form(
    State(state): State<AppState>,
    viewer: Viewer,
    q: Result<Query<NewQuery>, ApiError>,
) -> Response {
    let repo = q.map(|Query(q)| q.repo).unwrap_or_default();
    let next = format!(
        "/incidents/new?{}",
        serde_urlencoded::to_string([("repo", repo.as_str())]).unwrap_or_default()
    );
    let sign_in = format!(
        "/login?{}",
        serde_urlencoded::to_string([("next", next.as_str())]).unwrap_or_default()
    );
    let classes = Class::ALL.iter().map(|c| c.as_str()).collect();
    if viewer.session.is_none() && viewer.caller.anonymous() {
        let token = hex::encode(rand::random::<[u8; 32]>());
        let page = NewPage {
            chrome: &viewer.chrome,
            repo,
            classes,
            csrf: token.clone(),
            anonymous: true,
            sign_in,
        };
        let mut resp = match page.render() {
            Ok(body) => super::html(axum::http::StatusCode::OK, body, None),
            Err(_) => return viewer.error(ApiError::internal()),
        };
        super::account::set_cookie(
            &mut resp,
            format!(
                "{}={token}; Path=/incidents/new; HttpOnly; SameSite=Lax; Max-Age=3600{}",
                super::session::REPORT_CSRF_COOKIE,
                super::account::secure(&state)
            ),
        );
        return resp;
    }
    // A bearer token reads pages but posts no form: sign in for one.
    if viewer.session.is_none() {
        return super::see_other(&sign_in);
    }
    super::render(
        &NewPage {
            chrome: &viewer.chrome,
            repo,
            classes,
            csrf: viewer.chrome.csrf.clone(),
            anonymous: false,
            sign_in,
        },
        None,
    )
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct NewBody {
    repo: String,
    kind: String,
    class: String,
    summary: String,
    description: String,
    domain: String,
    in_the_wild: String,
    share_identity: String,
}

pub(super) async fn file(
    State(state): State<AppState>,
    addr: Option<axum::Extension<crate::conn::ClientAddr>>,
    OpenForm { viewer, form }: OpenForm<NewBody>,
) -> Response {
    let public_url = state.config.public_url.clone();
    let mut details = Map::new();
    if !form.description.trim().is_empty() {
        details.insert("description".into(), Value::String(form.description));
    }
    let body = report::ReportBody {
        repo: form.repo.trim().to_string(),
        kind: form.kind,
        class: form.class,
        summary: form.summary,
        details,
        domain: (!form.domain.is_empty()).then_some(form.domain),
        in_the_wild: !form.in_the_wild.is_empty(),
        // Nobody to name: an anonymous report never shares an identity.
        share_identity: viewer.session.is_some() && !form.share_identity.is_empty(),
        ..Default::default()
    };
    let meta = RequestMeta::of(&viewer.headers);
    match report::report(State(state), viewer.caller.clone(), meta, addr, Json(body)).await {
        // Signed out: the follow-up token, shown once on this answer (never in a URL).
        Ok((_, axum::Json(i))) => match i.followup_token {
            Some(token) => super::render(
                &ReceivedPage {
                    chrome: &viewer.chrome,
                    id: i.id,
                    token,
                    public_url: &public_url,
                },
                None,
            ),
            None => super::see_other(&format!("/incidents/{}", i.id)),
        },
        Err(e) => viewer.error(e),
    }
}

#[derive(Template)]
#[template(path = "incident.html")]
struct IncidentPage<'a> {
    chrome: &'a Chrome,
    i: wire::Incident,
    details: Vec<(String, String)>,
    role: String,
    signed_in: bool,
}

async fn one(state: &AppState, viewer: &Viewer, id: &str) -> Result<wire::Incident, ApiError> {
    let meta = RequestMeta::of(&viewer.headers);
    let axum::Json(i) = show::show(
        State(state.clone()),
        viewer.caller.clone(),
        meta,
        Path(id.to_string()),
    )
    .await?;
    Ok(i)
}

pub(super) async fn page(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Response {
    let i = match one(&state, &viewer, &id).await {
        Ok(i) => i,
        Err(e) => return viewer.error(e),
    };
    let details = match &i.details {
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| {
                (
                    k.replace('_', " "),
                    v.as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| v.to_string()),
                )
            })
            .collect(),
        _ => vec![],
    };
    let role = i.your_role.clone().unwrap_or_default();
    super::render(
        &IncidentPage {
            chrome: &viewer.chrome,
            details,
            role,
            signed_in: viewer.session.is_some(),
            i,
        },
        None,
    )
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct UpdateForm {
    note: String,
    #[serde(rename = "final")]
    is_final: String,
}

pub(super) async fn update(
    State(state): State<AppState>,
    Path(id): Path<String>,
    SessionForm { viewer, form, .. }: SessionForm<UpdateForm>,
) -> Response {
    let meta = RequestMeta::of(&viewer.headers);
    let body = updates::UpdateBody {
        note: form.note,
        r#final: !form.is_final.is_empty(),
    };
    let done = updates::add_update(
        State(state),
        viewer.caller.clone(),
        meta,
        Path(id.clone()),
        Json(body),
    )
    .await;
    viewer.after(done, &format!("/incidents/{id}#history"))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct TransitionForm {
    to: String,
    reason: String,
    severity: String,
}

pub(super) async fn move_to(
    State(state): State<AppState>,
    Path(id): Path<String>,
    SessionForm { viewer, form, .. }: SessionForm<TransitionForm>,
) -> Response {
    let meta = RequestMeta::of(&viewer.headers);
    let body = transition::TransitionBody {
        to: form.to,
        reason: form.reason,
        severity: (!form.severity.is_empty()).then_some(form.severity),
        ..Default::default()
    };
    let done = transition::transition(
        State(state),
        viewer.caller.clone(),
        meta,
        Path(id.clone()),
        Json(body),
    )
    .await;
    viewer.after(done, &format!("/incidents/{id}"))
}

/// Incidents for a list: the repo's (for its model page) or the triage list (operators: those
/// received and not yet triaged). What the caller may see only.
pub(super) async fn listed(
    state: &AppState,
    viewer: &Viewer,
    repo: Option<String>,
    state_filter: Option<&str>,
) -> Result<Vec<wire::Incident>, ApiError> {
    let meta = RequestMeta::of(&viewer.headers);
    let axum::Json(all) = list::list(
        State(state.clone()),
        viewer.caller.clone(),
        meta,
        Query(list::ListQuery {
            repo,
            state: state_filter.map(str::to_string),
            ..Default::default()
        }),
    )
    .await?;
    Ok(all.incidents)
}
