//! The review queue: pending access requests on every repo the viewer reviews (its orgs' repos;
//! every repo for an operator), oldest deadline first, with the requester's level and country
//! and whether an approval would serve; decided with a reason through the same service as the
//! API (`weir_registry::access::review`, which asks `weir_authz` again).

use std::collections::HashMap;

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;
use weir_authz::Action;
use weir_core::RequestState;
use weir_core::access::ReviewAction;
use weir_registry::access::Decision;

use super::Chrome;
use super::session::{SessionForm, Viewer};
use crate::extract::{Path, RequestMeta};
use crate::lookup::visible_repo;
use crate::{ApiError, AppState, now};

/// The most pending requests read for one queue page.
pub const QUEUE_MAX: i64 = 500;

pub(super) struct Item {
    repo: String,
    user: String,
    purpose: String,
    fields: Vec<(String, String)>,
    requested: String,
    due: String,
    overdue: bool,
    level: String,
    country: String,
    servable: bool,
    blocked_by: String,
}

pub(super) struct EvidenceItem {
    id: i64,
    repo: String,
    domain: String,
    summary: String,
    filed_by: String,
    state: String,
    filed: String,
    due: Option<String>,
    overdue: bool,
}

#[derive(Template)]
#[template(path = "review.html")]
struct Page<'a> {
    chrome: &'a Chrome,
    items: Vec<Item>,
    evidence: Vec<EvidenceItem>,
    operator: bool,
    jobs: Option<Vec<super::jobs::JobRow>>,
    incidents: Vec<weir_wire::incidents::Incident>,
    exports: Vec<ExportItem>,
    projects: Vec<ProjectItem>,
    governance: super::governance::Queue,
}

pub(super) struct ProjectItem {
    full: String,
    purpose: String,
    applied_by: String,
    applied: String,
    team: String,
    models: Vec<(String, &'static str)>,
    quota: i64,
    mine: bool,
}

pub(super) struct ExportItem {
    id: i64,
    repo: String,
    commit: String,
    requester: String,
    org: String,
    purpose: String,
    approvals: usize,
    mine: bool,
    own: bool,
    filed: String,
}

pub(super) async fn page(State(state): State<AppState>, viewer: Viewer) -> Response {
    if viewer.caller.anonymous() {
        return super::see_other("/login?next=/review");
    }
    let operator = viewer
        .caller
        .authorize(&weir_authz::Action::Administer)
        .allow;
    let found = async {
        let items = items(&state, &viewer).await?;
        let evidence = if operator {
            evidence(&state, &viewer).await?
        } else {
            vec![]
        };
        let incidents = if operator {
            super::incidents::listed(&state, &viewer, None, Some("received")).await?
        } else {
            vec![]
        };
        let exports = if operator {
            exports(&state, &viewer).await?
        } else {
            vec![]
        };
        let projects = if operator {
            projects(&state, &viewer).await?
        } else {
            vec![]
        };
        let governance = super::governance::queue(&state, &viewer).await?;
        Ok::<_, ApiError>((items, evidence, incidents, exports, projects, governance))
    };
    let jobs = super::jobs::queue(&state, &viewer).await;
    match found.await {
        Ok((items, evidence, incidents, exports, projects, governance)) => super::render(
            &Page {
                chrome: &viewer.chrome,
                items,
                evidence,
                operator,
                jobs,
                incidents,
                exports,
                projects,
                governance,
            },
            None,
        ),
        Err(e) => viewer.error(e),
    }
}

async fn items(state: &AppState, viewer: &Viewer) -> Result<Vec<Item>, ApiError> {
    let at = now();
    // Read only the requests the viewer may decide: an operator's are all, an owner's those on
    // the repos of the namespaces they own (their own, and their orgs'), so nobody's queue
    // fills up with others' requests.
    let operator = viewer.caller.authorize(&Action::Administer).allow;
    let pending = if operator {
        state
            .store
            .db
            .requests_in_state(RequestState::Pending, QUEUE_MAX)
            .await?
    } else {
        let mut mine: Vec<String> = viewer
            .caller
            .orgs
            .iter()
            .filter(|(_, role)| role == "owner")
            .map(|(o, _)| o.to_string())
            .collect();
        if let Some(me) = viewer.caller.name() {
            mine.push(me.to_string());
        }
        state
            .store
            .db
            .requests_in_namespaces(RequestState::Pending, &mine, QUEUE_MAX)
            .await?
    };
    let mut repos: HashMap<i64, Option<weir_store::Repo>> = HashMap::new();
    let mut out = vec![];
    for (repo_id, r) in pending {
        let repo = match repos.entry(repo_id) {
            std::collections::hash_map::Entry::Occupied(e) => e.get().clone(),
            std::collections::hash_map::Entry::Vacant(e) => {
                let repo = state.store.db.repo_by_id(repo_id).await?.filter(|repo| {
                    let f = weir_registry::access::facts(repo);
                    viewer.caller.authorize(&Action::Review(&f)).allow
                });
                e.insert(repo).clone()
            }
        };
        let Some(repo) = repo else {
            continue;
        };
        let repo = &repo;
        let who = weir_registry::access::requester(&state.store, repo, &r.account, at).await?;
        out.push(Item {
            repo: repo.repo_id.to_string(),
            purpose: r.purpose.clone(),
            fields: r.fields.clone().into_iter().collect(),
            requested: super::day(r.requested_at),
            due: super::day(r.due_at),
            overdue: r.due_at < at,
            level: who.level,
            country: who.country.unwrap_or_else(|| "not attested".into()),
            servable: who.servable,
            blocked_by: who.blocked_by.unwrap_or_default(),
            user: r.account,
        });
    }
    Ok(out)
}

/// Hazard evidence awaiting an operator: each item is decided through
/// `weir_registry::evidence::review`, which asks `weir_authz` (an operator, never about evidence
/// they filed).
async fn evidence(state: &AppState, viewer: &Viewer) -> Result<Vec<EvidenceItem>, ApiError> {
    let at = now();
    let mut out = vec![];
    for ev in state.store.db.evidence_awaiting(QUEUE_MAX).await? {
        let Ok((ev, repo)) =
            weir_registry::evidence::find(&state.store, &viewer.caller.subject, ev.id).await
        else {
            continue;
        };
        out.push(EvidenceItem {
            id: ev.id,
            repo: repo.repo_id.to_string(),
            domain: ev.domain,
            summary: ev.summary,
            filed_by: ev.filed_by,
            state: ev.state,
            filed: super::day(ev.created_at),
            due: ev.triage_due.map(super::day),
            overdue: ev.triage_due.is_some_and(|d| d < at),
        });
    }
    Ok(out)
}

/// Custodial exports awaiting the second (or first) of their two approvals: shown to operators,
/// each read through `weir_registry::exports::show` (requester or operator only).
async fn exports(state: &AppState, viewer: &Viewer) -> Result<Vec<ExportItem>, ApiError> {
    let me = viewer
        .caller
        .name()
        .map(|n| n.to_string())
        .unwrap_or_default();
    let mut out = vec![];
    for id in state.store.db.pending_exports(QUEUE_MAX).await? {
        let Ok(e) = weir_registry::exports::show(&state.store, &viewer.caller.subject, id).await
        else {
            continue;
        };
        out.push(ExportItem {
            id: e.id,
            repo: e.repo.to_string(),
            commit: e.commit.to_string(),
            mine: e.approvals.contains(&me),
            own: e.requester == me,
            approvals: e.approvals.len(),
            requester: e.requester,
            org: e.org,
            purpose: e.purpose,
            filed: super::day(e.created_at),
        });
    }
    Ok(out)
}

/// Research projects awaiting a decision, as `weir_registry::research::list` shows them to the
/// viewer (an operator sees the team and the models).
async fn projects(state: &AppState, viewer: &Viewer) -> Result<Vec<ProjectItem>, ApiError> {
    let me = viewer
        .caller
        .name()
        .map(|n| n.to_string())
        .unwrap_or_default();
    let list = weir_registry::research::list(
        &state.store,
        &viewer.caller.subject,
        Some("applied"),
        false,
        100,
    )
    .await?;
    Ok(list
        .into_iter()
        .map(|p| ProjectItem {
            full: p.full_name(),
            mine: p.is_member(&me),
            purpose: p.purpose.clone(),
            applied: super::day(p.applied_at),
            team: p.members.join(", "),
            models: p
                .models
                .iter()
                .map(|m| (m.repo.to_string(), m.level.as_str()))
                .collect(),
            quota: p.quota_cpu_seconds,
            applied_by: p.applied_by,
        })
        .collect())
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct ProjectBody {
    decision: String,
    reason: String,
    expires_days: String,
    quota_cpu_seconds: String,
}

/// `POST /review/projects/{ns}/{name}`: an operator's decision on a research project, through
/// `weir_registry::research::decide` (never by someone on its team, always with a reason).
pub(super) async fn decide_project(
    State(state): State<AppState>,
    Path((ns, name)): Path<(String, String)>,
    SessionForm { viewer, form, .. }: SessionForm<ProjectBody>,
) -> Response {
    let Some(verdict) = weir_registry::research::Verdict::parse(&form.decision) else {
        return viewer.error(ApiError::bad_request(
            weir_wire::ErrorCode::InvalidDecision,
            "choose approve or reject",
        ));
    };
    let number = |s: &str, what: &str| -> Result<Option<i64>, ApiError> {
        match s.trim() {
            "" => Ok(None),
            v => v.parse::<i64>().map(Some).map_err(|_| {
                ApiError::bad_request(
                    weir_wire::ErrorCode::InvalidBody,
                    format!("{what} is a whole number"),
                )
            }),
        }
    };
    let (expires_days, quota) = match (
        number(&form.expires_days, "the expiry in days"),
        number(&form.quota_cpu_seconds, "the quota in CPU seconds"),
    ) {
        (Ok(e), Ok(q)) => (e, q),
        (Err(e), _) | (_, Err(e)) => return viewer.error(e),
    };
    let meta = RequestMeta::of(&viewer.headers);
    let done = weir_registry::research::decide(
        &state.store,
        &viewer.caller.subject,
        &format!("{ns}/{name}"),
        &weir_registry::research::Review {
            verdict,
            reason: form.reason,
            expires_days,
            quota_cpu_seconds: quota,
        },
        &meta.context(&viewer.caller),
        now(),
    )
    .await;
    viewer.after(done, "/review#projects")
}

/// `POST /review/exports/{id}`: one operator's approval, through
/// `weir_registry::exports::approve` (never the requester's own, never twice by one operator;
/// the requester must still qualify).
pub(super) async fn approve_export(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    SessionForm { viewer, .. }: SessionForm<Vec<(String, String)>>,
) -> Response {
    let meta = RequestMeta::of(&viewer.headers);
    let done = weir_registry::exports::approve(
        &state.store,
        &viewer.caller.subject,
        id,
        &meta.context(&viewer.caller),
        now(),
    )
    .await;
    viewer.after(done, "/review#exports")
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct EvidenceBody {
    decision: String,
    severity: String,
    reason: String,
}

pub(super) async fn decide_evidence(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    SessionForm { viewer, form, .. }: SessionForm<EvidenceBody>,
) -> Response {
    let meta = RequestMeta::of(&viewer.headers);
    let done = weir_registry::evidence::review(
        &state.store,
        &viewer.caller.subject,
        id,
        weir_registry::evidence::ReviewInput {
            decision: form.decision,
            severity: (!form.severity.is_empty()).then_some(form.severity),
            reason: form.reason,
        },
        &meta.context(&viewer.caller),
        now(),
    )
    .await;
    viewer.after(done, "/review#evidence")
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct DecideBody {
    action: String,
    reason: String,
    expires_days: String,
}

pub(super) async fn decide(
    State(state): State<AppState>,
    Path((ns, name, user)): Path<(String, String, String)>,
    SessionForm { viewer, form, .. }: SessionForm<DecideBody>,
) -> Response {
    let caller = &viewer.caller;
    let repo = match visible_repo(&state, caller, &ns, &name).await {
        Ok((repo, _)) => repo,
        Err(e) => return viewer.error(e),
    };
    let action = match form.action.as_str() {
        "approve" => ReviewAction::Approve,
        "reject" => ReviewAction::Reject,
        _ => {
            return viewer.error(ApiError::bad_request(
                weir_wire::ErrorCode::InvalidAction,
                "choose approve or reject",
            ));
        }
    };
    let expires_days = match form.expires_days.trim() {
        "" => None,
        d => match d.parse::<u32>() {
            Ok(d) => Some(d),
            Err(_) => {
                return viewer.error(ApiError::bad_request(
                    weir_wire::ErrorCode::InvalidExpiry,
                    "the expiry is a number of days",
                ));
            }
        },
    };
    let meta = RequestMeta::of(&viewer.headers);
    let decided = weir_registry::access::review(
        &state.store,
        &repo,
        &caller.subject,
        &user,
        Decision {
            action,
            reason: Some(form.reason),
            expires_days,
        },
        &meta.context(caller),
        now(),
    )
    .await;
    viewer.after(decided, "/review")
}
