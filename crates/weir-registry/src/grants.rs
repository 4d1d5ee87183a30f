//! Public-interest compute grants (issue 14, point 1): operators open calls with routes; a
//! research project's team applies; each route is reviewed as the call says (automatic for the
//! smallest when the applicant's identity level suffices, one reviewer, or a panel of three
//! deciding by majority, with declared conflicts); an award is released in two tranches, the
//! second after an accepted progress report; every job is metered against its project's award
//! (`budget`), and an award's usage statement adds up to its jobs' charges. Every step is an
//! event on the transparency log; every decision is asked of `weir_authz`.

use std::collections::BTreeMap;

use sha2::Digest;

use serde_json::json;
use weir_authz::{Action, Reason, Subject};
use weir_core::grants::{
    self, ApplicationState, AwardFacts, Budget, HOUR_MS, ReviewMode, Route, Vote,
};
use weir_core::research::AccessLevel;
use weir_core::{IdentityLevel, Name, RepoId};
use weir_store::grants::{Application, Award, Call, NewApplication, NewAward, NewCall, Review};
use weir_store::research::Project;
use weir_store::{Store, StoreError};
use weir_wire::ErrorCode;

use crate::access::signed_in;
use crate::research::project_denied;
use crate::{Context, Kind, ServiceError};

/// Times are unix seconds; compute is ms.
const DAY_SECS: i64 = 86_400;
/// A month of an award, in seconds (30 days).
pub const MONTH_SECS: i64 = 30 * DAY_SECS;
/// The most fields a call asks, and the longest answer, purpose and plan.
const MAX_FIELDS: usize = 20;
const MAX_ANSWER: usize = 10_000;
const MAX_PURPOSE: usize = 2_000;
const MAX_PLAN: usize = 20_000;
const MAX_REPORT: usize = 20_000;
const MAX_CALL_MODELS: usize = 50;

fn refused(kind: Kind, code: ErrorCode, message: impl Into<String>) -> ServiceError {
    ServiceError::refused(kind, code, message)
}

fn invalid(code: ErrorCode, message: impl Into<String>) -> ServiceError {
    refused(Kind::Invalid, code, message)
}

fn call_not_found(name: &str) -> ServiceError {
    refused(
        Kind::NotFound,
        ErrorCode::CallNotFound,
        format!("no call {name}"),
    )
    .next("list the calls: weir grant call list")
}

fn application_not_found(id: i64) -> ServiceError {
    refused(
        Kind::NotFound,
        ErrorCode::ApplicationNotFound,
        format!("no grant application {id} that you can see"),
    )
    .next("list yours: weir grant list --mine")
}

fn award_revoked(project: &str) -> ServiceError {
    refused(
        Kind::Conflict,
        ErrorCode::AwardRevoked,
        format!("{project}'s award was revoked: it takes no new application"),
    )
    .next("ask the operators; a revocation stands until they decide otherwise")
}

fn award_not_found(id: i64) -> ServiceError {
    refused(
        Kind::NotFound,
        ErrorCode::AwardNotFound,
        format!("no award {id} that you can see"),
    )
    .next("list the awards: weir grant awards")
}

fn operator_only(subject: &Subject) -> Result<&Name, ServiceError> {
    let me = signed_in(subject)?;
    let d = weir_authz::authorize(subject, &Action::Administer);
    if !d.allow {
        return Err(refused(
            Kind::Forbidden,
            ErrorCode::NotOperator,
            "Only operators (with an admin token) open and close calls.",
        )
        .next("ask an operator of the registry"));
    }
    Ok(me)
}

fn bounded_text(what: &str, text: &str, max: usize) -> Result<String, ServiceError> {
    let t = text.trim();
    if t.is_empty() || t.len() > max || t.chars().any(|c| c.is_control() && c != '\n') {
        return Err(invalid(
            ErrorCode::InvalidField,
            format!("{what} is 1 to {max} characters of text"),
        ));
    }
    Ok(t.to_string())
}

/// Hours to ms, exact to the ms: finite, 0 or more, at most [`grants::MAX_ROUTE_HOURS`].
pub fn hours_ms(what: &str, hours: f64) -> Result<i64, ServiceError> {
    if !hours.is_finite() || hours < 0.0 || hours > grants::MAX_ROUTE_HOURS as f64 {
        return Err(invalid(
            ErrorCode::InvalidCompute,
            format!(
                "{what} is 0 to {} hours, not {hours}",
                grants::MAX_ROUTE_HOURS
            ),
        ));
    }
    Ok((hours * HOUR_MS as f64).round() as i64)
}

/// The routes of `call`, as stored.
pub fn routes_of(call: &Call) -> Result<Vec<Route>, ServiceError> {
    serde_json::from_str(&call.routes)
        .map_err(|e| StoreError::Corrupt(format!("call {} routes: {e}", call.name)).into())
}

/// The fields `call` asks, as stored.
pub fn fields_of(call: &Call) -> Result<Vec<String>, ServiceError> {
    serde_json::from_str(&call.fields)
        .map_err(|e| StoreError::Corrupt(format!("call {} fields: {e}", call.name)).into())
}

/// Whether `call` takes applications at `now`.
pub fn call_open(call: &Call, now: i64) -> bool {
    call.closed_at.is_none() && now < call.closes_at
}

/// What an operator opens.
#[derive(Debug, Clone)]
pub struct CallSpec {
    pub name: String,
    pub title: String,
    pub closes_at: i64,
    /// `None`: [`grants::default_routes`].
    pub routes: Option<Vec<Route>>,
    pub fields: Vec<String>,
    pub auto_level: IdentityLevel,
    /// (`NS/NAME`, the highest access level awards on the call may be used at).
    pub models: Vec<(String, AccessLevel)>,
}

/// Opens a call (operators).
pub async fn open_call(
    store: &Store,
    subject: &Subject,
    spec: &CallSpec,
    ctx: &Context,
    now: i64,
) -> Result<Call, ServiceError> {
    let me = operator_only(subject)?.to_string();
    if !grants::plain_name(&spec.name) {
        return Err(invalid(
            ErrorCode::InvalidName,
            format!(
                "call name {:?}: 1 to 40 lowercase letters, digits, '-' or '_'",
                spec.name
            ),
        ));
    }
    let title = bounded_text("the title", &spec.title, 200)?;
    if spec.closes_at <= now || spec.closes_at > now + 3 * 365 * DAY_SECS {
        return Err(invalid(
            ErrorCode::InvalidField,
            "the call closes in the future, within three years",
        ));
    }
    let routes = spec.routes.clone().unwrap_or_else(grants::default_routes);
    grants::check_routes(&routes).map_err(|m| invalid(ErrorCode::InvalidField, m))?;
    if spec.fields.len() > MAX_FIELDS
        || spec.fields.iter().any(|f| !grants::plain_name(f))
        || (1..spec.fields.len()).any(|i| spec.fields[..i].contains(&spec.fields[i]))
    {
        return Err(invalid(
            ErrorCode::InvalidField,
            format!(
                "at most {MAX_FIELDS} distinct required fields, each 1 to 40 lowercase letters, digits, '-' or '_'"
            ),
        ));
    }
    if spec.models.is_empty() || spec.models.len() > MAX_CALL_MODELS {
        return Err(invalid(
            ErrorCode::InvalidField,
            format!("a call names 1 to {MAX_CALL_MODELS} models (--model NS/NAME:AL1)"),
        ));
    }
    let mut models = Vec::with_capacity(spec.models.len());
    let mut public_models = Vec::new();
    for (name, level) in &spec.models {
        let id = RepoId::parse(name)
            .map_err(|e| invalid(ErrorCode::InvalidRepoId, format!("{name}: {e}")))?;
        let repo = store.db.repo(&id).await?.ok_or_else(|| {
            refused(
                Kind::NotFound,
                ErrorCode::RepoNotFound,
                format!("no model {name}"),
            )
        })?;
        if *level > AccessLevel::highest_for(repo.tier) {
            return Err(refused(
                Kind::Invalid,
                ErrorCode::TierCapsLevel,
                format!("{name} is {}: at most AL1", repo.tier.as_str()),
            ));
        }
        if models.iter().any(|(r, _)| *r == repo.id) {
            return Err(invalid(
                ErrorCode::InvalidField,
                format!("{name} is named twice"),
            ));
        }
        models.push((repo.id, level.as_str()));
        if !repo.private {
            public_models.push(json!({"repo": name, "level": level.as_str()}));
        }
    }
    let routes_json =
        serde_json::to_string(&routes).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let fields_json =
        serde_json::to_string(&spec.fields).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let ev = ctx.event(
        now,
        "grant.call",
        None,
        "opened",
        json!({"public": {"call": spec.name, "title": title, "closes_at": spec.closes_at,
            "routes": routes, "models": public_models}}),
    );
    let call = store
        .db
        .open_call_logged(
            &NewCall {
                name: &spec.name,
                title: &title,
                routes: &routes_json,
                fields: &fields_json,
                auto_level: spec.auto_level.as_str(),
                opened_by: &me,
                at: now,
                closes_at: spec.closes_at,
                models: &models,
            },
            &ev,
        )
        .await
        .map_err(|e| match e {
            StoreError::Exists(m) => refused(
                Kind::Conflict,
                ErrorCode::AlreadyExists,
                format!("{m} already exists"),
            ),
            other => other.into(),
        })?;
    Ok(call)
}

/// Closes a call early (operators); applications already in are still decided.
pub async fn close_call(
    store: &Store,
    subject: &Subject,
    name: &str,
    ctx: &Context,
    now: i64,
) -> Result<Call, ServiceError> {
    operator_only(subject)?;
    let call = store
        .db
        .call(name)
        .await?
        .ok_or_else(|| call_not_found(name))?;
    let ev = ctx.event(
        now,
        "grant.close",
        None,
        "closed",
        json!({"public": {"call": name}}),
    );
    store
        .db
        .close_call_logged(call.id, now, &ev)
        .await
        .map_err(|e| match e {
            StoreError::StateChanged { .. } => refused(
                Kind::Conflict,
                ErrorCode::CallClosed,
                format!("call {name} is already closed"),
            ),
            other => other.into(),
        })?;
    store
        .db
        .call(name)
        .await?
        .ok_or_else(|| call_not_found(name))
}

/// A call as anyone may see it: its models only as far as the caller may see them.
pub async fn visible_call(
    store: &Store,
    subject: &Subject,
    mut call: Call,
) -> Result<Call, ServiceError> {
    let mut kept = Vec::new();
    for m in call.models {
        if let Ok(id) = RepoId::parse(&m.1)
            && let Some(r) = store.db.repo(&id).await?
            && weir_authz::authorize(subject, &Action::ReadMetadata(&crate::access::facts(&r)))
                .allow
        {
            kept.push(m);
        }
    }
    call.models = kept;
    Ok(call)
}

/// What a team submits.
#[derive(Debug, Clone)]
pub struct ApplicationSpec {
    pub call: String,
    pub route: String,
    pub project: String,
    pub purpose: String,
    pub plan: String,
    pub answers: BTreeMap<String, String>,
    pub cpu_hours: f64,
    pub gpu_hours: f64,
}

/// An application with what the caller may see of its review and award.
#[derive(Debug, Clone)]
pub struct Shown {
    pub application: Application,
    pub project: String,
    pub reviews: Vec<Review>,
    pub award: Option<Award>,
}

fn new_award(app: &Application, route: &Route, now: i64) -> NewAward {
    NewAward {
        cpu_ms: app.cpu_ms,
        gpu_ms: app.gpu_ms,
        released_cpu_ms: grants::first_tranche(app.cpu_ms),
        released_gpu_ms: grants::first_tranche(app.gpu_ms),
        starts_at: now,
        ends_at: now + route.months * MONTH_SECS,
    }
}

fn award_event(
    ctx: &Context,
    now: i64,
    app: &Application,
    project: &str,
    award_id: i64,
    a: &NewAward,
) -> weir_core::Event {
    ctx.event(
        now,
        "grant.award",
        None,
        "awarded",
        json!({"award": award_id, "application": app.id, "public": {
            "award": award_id, "application": app.id, "call": app.call, "route": app.route,
            "project": project, "cpu_hours": a.cpu_ms as f64 / HOUR_MS as f64,
            "gpu_hours": a.gpu_ms as f64 / HOUR_MS as f64,
            "first_tranche_cpu_hours": a.released_cpu_ms as f64 / HOUR_MS as f64,
            "starts_at": a.starts_at, "ends_at": a.ends_at}}),
    )
}

/// The project's current budget for a job at `now`: the newest award's standing (with what is
/// left of its released tranches), or, for a project that never had an award, its own quota.
/// Returns the standing, the CPU ms left, and the award jobs are metered against.
pub async fn budget(
    store: &Store,
    p: &Project,
    now: i64,
    min_start_ms: i64,
) -> Result<(Budget, i64, Option<i64>), ServiceError> {
    match store.db.current_award(p.id).await? {
        Some(a) => {
            let (used, _) = store.db.award_usage(a.id).await?;
            let f = AwardFacts {
                starts_at: a.starts_at,
                ends_at: a.ends_at,
                revoked: a.revoked_at.is_some(),
                released_cpu_ms: a.released_cpu_ms,
                used_cpu_ms: used,
                released_gpu_ms: a.released_gpu_ms,
                used_gpu_ms: 0,
            };
            Ok((
                f.standing(now, min_start_ms),
                f.remaining_cpu_ms(),
                Some(a.id),
            ))
        }
        None => {
            let used = store.db.project_charged_ms(p.id).await?;
            let left = p
                .quota_cpu_seconds
                .saturating_mul(1000)
                .saturating_sub(used)
                .max(0);
            let standing = if left < min_start_ms {
                Budget::Exhausted
            } else {
                Budget::Available
            };
            Ok((standing, left, None))
        }
    }
}

/// Applies for compute for a research project (a member of its team, write token). On an
/// automatic route, an applicant at the call's `auto_level` is awarded at once.
pub async fn apply(
    store: &Store,
    subject: &Subject,
    spec: &ApplicationSpec,
    ctx: &Context,
    now: i64,
) -> Result<Shown, ServiceError> {
    let me = signed_in(subject)?.to_string();
    let call = store
        .db
        .call(&spec.call)
        .await?
        .ok_or_else(|| call_not_found(&spec.call))?;
    let p = crate::research::find(store, &spec.project).await?;
    let member = p.is_member(&me);
    let d = weir_authz::authorize(subject, &Action::ApplyGrant { member });
    if !d.allow {
        return Err(project_denied(d.reason, &p.full_name()));
    }
    if !call_open(&call, now) {
        return Err(refused(
            Kind::Conflict,
            ErrorCode::CallClosed,
            format!("call {} is closed", call.name),
        )
        .next("see the open calls: weir grant call list"));
    }
    let routes = routes_of(&call)?;
    let route = routes
        .iter()
        .find(|r| r.name == spec.route)
        .ok_or_else(|| {
            invalid(
                ErrorCode::InvalidField,
                format!(
                    "call {} has no route {:?}; its routes: {}",
                    call.name,
                    spec.route,
                    routes
                        .iter()
                        .map(|r| r.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
        })?;
    use weir_core::research::ProjectState;
    if matches!(p.state, ProjectState::Rejected | ProjectState::Revoked) {
        return Err(refused(
            Kind::Conflict,
            ErrorCode::ProjectNotActive,
            format!("{} was {}", p.full_name(), p.state.as_str()),
        ));
    }
    // Every model the project uses must be in the call's scope, at a level it allows.
    for m in &p.models {
        let ok = call
            .models
            .iter()
            .find(|(id, _, _)| *id == m.repo_id)
            .and_then(|(_, _, l)| AccessLevel::parse(l))
            .is_some_and(|max| m.level <= max);
        if !ok {
            return Err(refused(
                Kind::Conflict,
                ErrorCode::NotInCall,
                format!(
                    "call {} does not cover {} at {}",
                    call.name,
                    m.repo,
                    m.level.as_str()
                ),
            )
            .next("see the call's models: weir grant call show NAME"));
        }
    }
    let cpu_ms = hours_ms("cpu_hours", spec.cpu_hours)?;
    let gpu_ms = hours_ms("gpu_hours", spec.gpu_hours)?;
    // Jobs are metered in CPU time: an award without CPU time could run nothing.
    if cpu_ms == 0 || cpu_ms > route.cpu_hours * HOUR_MS || gpu_ms > route.gpu_hours * HOUR_MS {
        return Err(invalid(
            ErrorCode::InvalidCompute,
            format!(
                "route {} grants up to {} CPU-hours and {} GPU-hours; ask for some CPU-hours, within them",
                route.name, route.cpu_hours, route.gpu_hours
            ),
        ));
    }
    let purpose = bounded_text("the purpose", &spec.purpose, MAX_PURPOSE)?;
    let plan = bounded_text("the plan", &spec.plan, MAX_PLAN)?;
    let fields = fields_of(&call)?;
    for (k, v) in &spec.answers {
        if !fields.contains(k) {
            return Err(invalid(
                ErrorCode::InvalidField,
                format!("call {} asks no field {k:?}", call.name),
            ));
        }
        bounded_text(k, v, MAX_ANSWER)?;
    }
    if let Some(missing) = fields.iter().find(|f| !spec.answers.contains_key(*f)) {
        return Err(invalid(
            ErrorCode::MissingField,
            format!("call {} asks every application for {missing:?}", call.name),
        )
        .next("answer it: --field NAME=TEXT"));
    }
    // One application in review, or one award running, per project at a time.
    let pending = store
        .db
        .applications(None, Some(p.id))
        .await?
        .into_iter()
        .any(|a| a.state == "submitted");
    let current = store.db.current_award(p.id).await?;
    if current.as_ref().is_some_and(|a| a.revoked_at.is_some()) {
        return Err(award_revoked(&p.full_name()));
    }
    let running = current.is_some_and(|a| now < a.ends_at);
    if pending || running {
        return Err(refused(
            Kind::Conflict,
            ErrorCode::AlreadyApplied,
            format!(
                "{} already has an application in review or an award running",
                p.full_name()
            ),
        ));
    }
    let answers =
        serde_json::to_string(&spec.answers).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let project = p.full_name();
    let app = store
        .db
        .submit_application_logged(
            &NewApplication {
                call_id: call.id,
                route: &route.name,
                project_id: p.id,
                applicant: &me,
                purpose: &purpose,
                plan: &plan,
                answers: &answers,
                cpu_ms,
                gpu_ms,
                at: now,
                review_due_at: now + route.review_days * DAY_SECS,
            },
            |id| {
                let mut ev = ctx.event(
                    now,
                    "grant.apply",
                    None,
                    "submitted",
                    json!({"application": id, "public": {"application": id, "call": call.name,
                        "route": route.name, "project": project,
                        "cpu_hours": cpu_ms as f64 / HOUR_MS as f64,
                        "gpu_hours": gpu_ms as f64 / HOUR_MS as f64}}),
                );
                ev.subject = Some(me.clone());
                vec![ev]
            },
        )
        .await
        .map_err(|e| match e {
            StoreError::Exists(_) => refused(
                Kind::Conflict,
                ErrorCode::AlreadyApplied,
                format!("{project} already has an application in review or an award running"),
            ),
            StoreError::StateChanged { .. } => award_revoked(&project),
            other => other.into(),
        })?;
    let auto_level = IdentityLevel::parse(&call.auto_level).unwrap_or(IdentityLevel::Accredited);
    let automatic = weir_authz::authorize(
        subject,
        &Action::AwardAutomatically {
            automatic_route: route.review == ReviewMode::Automatic,
            required: auto_level,
        },
    );
    if automatic.allow {
        let award = new_award(&app, route, now);
        store
            .db
            .decide_application_logged(
                app.id,
                ApplicationState::Awarded.as_str(),
                "automatic",
                now,
                Some(&award),
                |award_id| {
                    let mut evs = vec![ctx.event(
                        now,
                        "grant.decide",
                        None,
                        "awarded",
                        json!({"application": app.id, "public": {"application": app.id,
                            "outcome": "awarded", "by": "automatic"}}),
                    )];
                    if let Some(id) = award_id {
                        evs.push(award_event(ctx, now, &app, &project, id, &award));
                    }
                    evs
                },
            )
            .await?;
    }
    show(store, subject, app.id).await
}

/// An application, its reviews and its award, for the project's team and operators.
pub async fn show(store: &Store, subject: &Subject, id: i64) -> Result<Shown, ServiceError> {
    let app = store
        .db
        .application(id)
        .await?
        .ok_or_else(|| application_not_found(id))?;
    let p = store
        .db
        .project_by_id(app.project_id)
        .await?
        .ok_or_else(|| application_not_found(id))?;
    let member = subject.name().is_some_and(|n| p.is_member(n.as_str()));
    if !weir_authz::authorize(subject, &Action::ReadGrant { member }).allow {
        return Err(application_not_found(id));
    }
    let reviews = store.db.grant_reviews(id).await?;
    let award = store.db.award_of_application(id).await?;
    Ok(Shown {
        application: app,
        project: p.full_name(),
        reviews,
        award,
    })
}

/// The applications the caller may see: of one call, newest first.
pub async fn list(
    store: &Store,
    subject: &Subject,
    call: Option<&str>,
) -> Result<Vec<Shown>, ServiceError> {
    let call_id = match call {
        Some(c) => Some(store.db.call(c).await?.ok_or_else(|| call_not_found(c))?.id),
        None => None,
    };
    let mut out = Vec::new();
    for a in store.db.applications(call_id, None).await? {
        if let Ok(s) = show(store, subject, a.id).await {
            out.push(s);
        }
    }
    Ok(out)
}

/// A reviewer's vote (`award`, `reject`) or declared conflict (`conflict`) on a submitted
/// application, with a reason. A single reviewer's vote decides; a panel's third of three
/// (majority of the votes not recused) does; a declared conflict recuses the reviewer.
pub async fn review(
    store: &Store,
    subject: &Subject,
    id: i64,
    vote: &str,
    reason: &str,
    ctx: &Context,
    now: i64,
) -> Result<Shown, ServiceError> {
    let me = signed_in(subject)?.to_string();
    let app = store
        .db
        .application(id)
        .await?
        .ok_or_else(|| application_not_found(id))?;
    let p = store
        .db
        .project_by_id(app.project_id)
        .await?
        .ok_or_else(|| application_not_found(id))?;
    let member = p.is_member(&me);
    let applicant = Name::parse(&app.applicant)
        .map_err(|_| ServiceError::from(StoreError::Corrupt("applicant".into())))?;
    let earlier = store.db.grant_reviews(id).await?;
    let conflict = earlier
        .iter()
        .any(|r| r.reviewer == me && r.vote == "conflict");
    let d = weir_authz::authorize(
        subject,
        &Action::ReviewGrant {
            applicant: &applicant,
            member,
            conflict,
        },
    );
    if !d.allow {
        return Err(match d.reason {
            Reason::OwnRequest => refused(
                Kind::Forbidden,
                ErrorCode::OwnRequest,
                format!(
                    "You applied for application {id} or are on {}'s team: another operator reviews it.",
                    p.full_name()
                ),
            ),
            Reason::Conflict => refused(
                Kind::Forbidden,
                ErrorCode::ConflictDeclared,
                format!("You declared a conflict of interest on application {id}."),
            ),
            // Who cannot see the application finds none.
            Reason::NotOperator if !member => application_not_found(id),
            Reason::NotOperator => refused(
                Kind::Forbidden,
                ErrorCode::NotOperator,
                "Only operators (with an admin token) review grant applications.",
            ),
            other => project_denied(other, &p.full_name()),
        });
    }
    let vote = match vote {
        "conflict" => None,
        v => Some(Vote::parse(v).ok_or_else(|| {
            invalid(ErrorCode::InvalidVote, format!("unknown vote {v:?}"))
                .next("vote award or reject, or declare a conflict")
        })?),
    };
    let reason = bounded_text("the reason", reason, 2000).map_err(|_| {
        invalid(
            ErrorCode::ReasonRequired,
            "a review needs a reason of 1 to 2000 characters",
        )
        .next("pass --reason TEXT")
    })?;
    if app.state != "submitted" {
        return Err(refused(
            Kind::Conflict,
            ErrorCode::InvalidTransition,
            format!("application {id} is already {}", app.state),
        ));
    }
    let call = store
        .db
        .call(&app.call)
        .await?
        .ok_or_else(|| call_not_found(&app.call))?;
    let routes = routes_of(&call)?;
    let route = routes
        .iter()
        .find(|r| r.name == app.route)
        .cloned()
        .ok_or_else(|| ServiceError::from(StoreError::Corrupt(format!("route {}", app.route))))?;
    // An automatic route whose applicant's level fell short is one reviewer's decision.
    let mode = match route.review {
        ReviewMode::Automatic => ReviewMode::Single,
        m => m,
    };
    let project = p.full_name();
    let rec = Review {
        reviewer: me.clone(),
        vote: vote.map(Vote::as_str).unwrap_or("conflict").to_string(),
        reason: reason.clone(),
        at: now,
    };
    let award_spec = new_award(&app, &route, now);
    let board_decides = mode == ReviewMode::Panel && crate::board::governed(store).await?;
    let decided = store
        .db
        .review_application_logged(
            id,
            &rec,
            |all| {
                let votes: Vec<Vote> = all.iter().filter_map(|r| Vote::parse(&r.vote)).collect();
                let by: Vec<String> = all
                    .iter()
                    .filter(|r| r.vote != "conflict")
                    .map(|r| format!("{}: {} ({})", r.reviewer, r.vote, r.reason))
                    .collect();
                match grants::outcome(mode, &votes)? {
                    // Where a board governs, the largest route's award is its decision: the
                    // panel's majority makes the award proposable (weir board propose
                    // grant-award), not made.
                    Vote::Award if board_decides => None,
                    Vote::Award => Some((
                        ApplicationState::Awarded.as_str(),
                        by.join("; "),
                        Some(award_spec.clone()),
                    )),
                    Vote::Reject => {
                        Some((ApplicationState::Rejected.as_str(), by.join("; "), None))
                    }
                }
            },
            |outcome, award_id| {
                let mut evs = vec![ctx.event(
                    now,
                    "grant.review",
                    None,
                    &rec.vote,
                    json!({"application": id, "reason": reason,
                        "public": {"application": id, "vote": rec.vote, "mode": mode.as_str()}}),
                )];
                if let Some(o) = outcome {
                    evs.push(ctx.event(
                        now,
                        "grant.decide",
                        None,
                        o,
                        json!({"application": id, "public": {"application": id, "outcome": o,
                            "by": mode.as_str()}}),
                    ));
                }
                if let Some(a) = award_id {
                    evs.push(award_event(ctx, now, &app, &project, a, &award_spec));
                }
                evs
            },
        )
        .await;
    match decided {
        Ok(_) => {}
        Err(StoreError::Exists(_)) => {
            return Err(refused(
                Kind::Conflict,
                ErrorCode::AlreadyReviewed,
                format!("you already reviewed application {id}"),
            ));
        }
        Err(StoreError::StateChanged { .. }) => {
            return Err(refused(
                Kind::Conflict,
                ErrorCode::StateChanged,
                format!("application {id} was decided meanwhile; read it again"),
            ));
        }
        Err(e) => return Err(e.into()),
    }
    show(store, subject, id).await
}

/// Whether a submitted application's panel has a majority for its award (what a board's
/// `grant_award` decision needs).
pub async fn panel_awards(store: &Store, id: i64) -> Result<bool, ServiceError> {
    let Some(app) = store.db.application(id).await? else {
        return Ok(false);
    };
    let Some(call) = store.db.call(&app.call).await? else {
        return Ok(false);
    };
    let panel = routes_of(&call)?
        .iter()
        .any(|r| r.name == app.route && r.review == ReviewMode::Panel);
    let votes: Vec<Vote> = store
        .db
        .grant_reviews(id)
        .await?
        .iter()
        .filter_map(|r| Vote::parse(&r.vote))
        .collect();
    Ok(app.state == "submitted"
        && panel
        && grants::outcome(ReviewMode::Panel, &votes) == Some(Vote::Award))
}

/// Makes the award a board decided for a panel-route application whose panel voted for it.
pub async fn award_by_board(
    store: &Store,
    id: i64,
    proposal: i64,
    ctx: &Context,
    now: i64,
) -> Result<(), ServiceError> {
    if !panel_awards(store, id).await? {
        return Err(refused(
            Kind::Conflict,
            ErrorCode::InvalidTransition,
            format!("application {id} has no panel majority for its award, or is decided"),
        ));
    }
    let app = store
        .db
        .application(id)
        .await?
        .ok_or_else(|| application_not_found(id))?;
    let call = store
        .db
        .call(&app.call)
        .await?
        .ok_or_else(|| call_not_found(&app.call))?;
    let route = routes_of(&call)?
        .into_iter()
        .find(|r| r.name == app.route)
        .ok_or_else(|| ServiceError::from(StoreError::Corrupt(format!("route {}", app.route))))?;
    let project = store
        .db
        .project_by_id(app.project_id)
        .await?
        .map(|p| p.full_name())
        .unwrap_or_default();
    let award = new_award(&app, &route, now);
    store
        .db
        .decide_application_logged(
            id,
            ApplicationState::Awarded.as_str(),
            &format!("panel majority; board decision {proposal}"),
            now,
            Some(&award),
            |award_id| {
                let mut evs = vec![ctx.event(
                    now,
                    "grant.decide",
                    None,
                    "awarded",
                    json!({"application": id, "public": {"application": id,
                        "outcome": "awarded", "by": "board", "proposal": proposal}}),
                )];
                if let Some(a) = award_id {
                    evs.push(award_event(ctx, now, &app, &project, a, &award));
                }
                evs
            },
        )
        .await?;
    Ok(())
}

/// The applicant (or anyone on the team) withdraws a submitted application.
pub async fn withdraw(
    store: &Store,
    subject: &Subject,
    id: i64,
    ctx: &Context,
    now: i64,
) -> Result<Shown, ServiceError> {
    let shown = show(store, subject, id).await?;
    let me = signed_in(subject)?;
    let member = store
        .db
        .project_by_id(shown.application.project_id)
        .await?
        .is_some_and(|p| p.is_member(me.as_str()));
    let d = weir_authz::authorize(subject, &Action::ApplyGrant { member });
    if !d.allow {
        return Err(project_denied(d.reason, &shown.project));
    }
    let ev = ctx.event(
        now,
        "grant.decide",
        None,
        "withdrawn",
        json!({"application": id, "public": {"application": id, "outcome": "withdrawn"}}),
    );
    store
        .db
        .decide_application_logged(id, "withdrawn", "withdrawn by the team", now, None, |_| {
            vec![ev]
        })
        .await
        .map_err(|e| match e {
            StoreError::StateChanged { .. } => refused(
                Kind::Conflict,
                ErrorCode::InvalidTransition,
                format!("application {id} is already {}", shown.application.state),
            ),
            other => other.into(),
        })?;
    show(store, subject, id).await
}

/// An award with its project and usage: what anyone may see of it (awards are public), and
/// the statement of its jobs for the team and operators.
#[derive(Debug, Clone)]
pub struct AwardView {
    pub award: Award,
    pub application: Application,
    pub project: String,
    pub used_cpu_ms: i64,
    pub jobs: i64,
    pub standing: Budget,
}

async fn award_view(store: &Store, a: Award, now: i64) -> Result<AwardView, ServiceError> {
    let application = store
        .db
        .application(a.application_id)
        .await?
        .ok_or_else(|| award_not_found(a.id))?;
    let p = store
        .db
        .project_by_id(a.project_id)
        .await?
        .ok_or_else(|| award_not_found(a.id))?;
    let (used, jobs) = store.db.award_usage(a.id).await?;
    let f = AwardFacts {
        starts_at: a.starts_at,
        ends_at: a.ends_at,
        revoked: a.revoked_at.is_some(),
        released_cpu_ms: a.released_cpu_ms,
        used_cpu_ms: used,
        released_gpu_ms: a.released_gpu_ms,
        used_gpu_ms: 0,
    };
    Ok(AwardView {
        standing: f.standing(now, crate::jobs::MIN_START_MS),
        award: a,
        application,
        project: p.full_name(),
        used_cpu_ms: used,
        jobs,
    })
}

/// An award, public.
pub async fn award(store: &Store, id: i64, now: i64) -> Result<AwardView, ServiceError> {
    let a = store
        .db
        .award(id)
        .await?
        .ok_or_else(|| award_not_found(id))?;
    award_view(store, a, now).await
}

/// Awards, newest first (`before`: an award id, for the next page), public.
pub async fn awards(
    store: &Store,
    before: Option<i64>,
    limit: i64,
    now: i64,
) -> Result<Vec<AwardView>, ServiceError> {
    let mut out = Vec::new();
    for a in store.db.awards(before, limit.clamp(1, 200)).await? {
        out.push(award_view(store, a, now).await?);
    }
    Ok(out)
}

/// The award's usage statement: every job metered against it, for the team and operators.
pub async fn usage(
    store: &Store,
    subject: &Subject,
    id: i64,
    now: i64,
) -> Result<(AwardView, Vec<weir_store::jobs::Job>), ServiceError> {
    let v = award(store, id, now).await?;
    let p = store
        .db
        .project_by_id(v.award.project_id)
        .await?
        .ok_or_else(|| award_not_found(id))?;
    let member = subject.name().is_some_and(|n| p.is_member(n.as_str()));
    if !weir_authz::authorize(subject, &Action::ReadGrant { member }).allow {
        return Err(project_denied(
            if subject.name().is_some() {
                Reason::NotMember
            } else {
                Reason::NotSignedIn
            },
            &p.full_name(),
        ));
    }
    // A job on a model the caller cannot see (a private repo of another namespace) is not on
    // their statement, as it is not in their job list.
    let mut jobs = Vec::new();
    for j in store.db.jobs_of_award(id).await? {
        if let Some(r) = store.db.repo(&j.repo).await?
            && weir_authz::authorize(subject, &Action::ReadMetadata(&crate::access::facts(&r)))
                .allow
        {
            jobs.push(j);
        }
    }
    Ok((v, jobs))
}

/// The team's progress report on an award (needed before its second tranche).
pub async fn report(
    store: &Store,
    subject: &Subject,
    id: i64,
    text: &str,
    ctx: &Context,
    now: i64,
) -> Result<AwardView, ServiceError> {
    let v = award(store, id, now).await?;
    let p = store
        .db
        .project_by_id(v.award.project_id)
        .await?
        .ok_or_else(|| award_not_found(id))?;
    let me = signed_in(subject)?;
    let d = weir_authz::authorize(
        subject,
        &Action::ReportProgress {
            member: p.is_member(me.as_str()),
        },
    );
    if !d.allow {
        return Err(project_denied(d.reason, &p.full_name()));
    }
    let text = bounded_text("the report", text, MAX_REPORT)?;
    let ev = ctx.event(
        now,
        "grant.report",
        None,
        "reported",
        json!({"award": id, "public": {"award": id}}),
    );
    store
        .db
        .report_progress_logged(id, &text, now, &ev)
        .await
        .map_err(|e| match e {
            StoreError::StateChanged { .. } => refused(
                Kind::Conflict,
                ErrorCode::InvalidTransition,
                format!("award {id} takes no report now (accepted already, or revoked)"),
            ),
            other => other.into(),
        })?;
    award(store, id, now).await
}

async fn operator_off_team(
    store: &Store,
    subject: &Subject,
    v: &AwardView,
) -> Result<(), ServiceError> {
    let p = store
        .db
        .project_by_id(v.award.project_id)
        .await?
        .ok_or_else(|| award_not_found(v.award.id))?;
    let applicant = Name::parse(&v.application.applicant)
        .map_err(|_| ServiceError::from(StoreError::Corrupt("applicant".into())))?;
    let member = subject.name().is_some_and(|n| p.is_member(n.as_str()));
    // A conflict declared on the application recuses from its award too.
    let conflict = match subject.name() {
        Some(n) => store
            .db
            .grant_reviews(v.application.id)
            .await?
            .iter()
            .any(|r| r.reviewer == n.as_str() && r.vote == "conflict"),
        None => false,
    };
    let d = weir_authz::authorize(
        subject,
        &Action::ReviewGrant {
            applicant: &applicant,
            member,
            conflict,
        },
    );
    if d.allow {
        Ok(())
    } else if d.reason == Reason::Conflict {
        Err(refused(
            Kind::Forbidden,
            ErrorCode::ConflictDeclared,
            format!(
                "You declared a conflict of interest on application {}.",
                v.application.id
            ),
        ))
    } else if d.reason == Reason::OwnRequest {
        Err(refused(
            Kind::Forbidden,
            ErrorCode::OwnRequest,
            format!(
                "{} is your project: another operator decides",
                p.full_name()
            ),
        ))
    } else {
        Err(project_denied(d.reason, &p.full_name()))
    }
}

/// An operator off the team accepts the progress report: the second tranche is released.
/// The SHA-256 (hex) of a progress report, as operators name the report they accept.
pub fn report_sha256(report: &str) -> String {
    hex::encode(sha2::Sha256::digest(report.as_bytes()))
}

/// An operator off the team (and not conflicted) accepts the progress report they read, named
/// by its SHA-256 (a report replaced meanwhile is not accepted): the second tranche is released.
pub async fn accept_report(
    store: &Store,
    subject: &Subject,
    id: i64,
    report_sha: &str,
    reason: &str,
    ctx: &Context,
    now: i64,
) -> Result<AwardView, ServiceError> {
    let v = award(store, id, now).await?;
    operator_off_team(store, subject, &v).await?;
    let me = signed_in(subject)?.to_string();
    let reason = bounded_text("the reason", reason, 2000)?;
    let report = v.award.report.clone().unwrap_or_default();
    if v.award.report.is_none() || !report_sha256(&report).eq_ignore_ascii_case(report_sha.trim()) {
        return Err(refused(
            Kind::Conflict,
            ErrorCode::InvalidTransition,
            format!(
                "award {id}'s progress report is not the one named (none yet, or replaced since)"
            ),
        )
        .next("read it again (weir grant show APPLICATION) and accept it by its sha256"));
    }
    let ev = ctx.event(
        now,
        "grant.tranche",
        None,
        "released",
        json!({"award": id, "reason": reason, "report_sha256": report_sha256(&report),
            "public": {"award": id, "tranche": 2,
            "released_cpu_hours": v.award.cpu_ms as f64 / HOUR_MS as f64}}),
    );
    store
        .db
        .accept_report_logged(id, &report, &me, now, &ev)
        .await
        .map_err(|e| match e {
            StoreError::StateChanged { .. } => refused(
                Kind::Conflict,
                ErrorCode::InvalidTransition,
                format!(
                    "award {id} has no report awaiting acceptance (none yet, accepted already, or revoked)"
                ),
            )
            .next("the team reports first: weir grant report AWARD --file REPORT"),
            other => other.into(),
        })?;
    award(store, id, now).await
}

/// An operator off the team revokes an award: its project's queued jobs no longer start.
pub async fn revoke(
    store: &Store,
    subject: &Subject,
    id: i64,
    reason: &str,
    ctx: &Context,
    now: i64,
) -> Result<AwardView, ServiceError> {
    let v = award(store, id, now).await?;
    operator_off_team(store, subject, &v).await?;
    let reason = bounded_text("the reason", reason, 2000)?;
    let ev = ctx.event(
        now,
        "grant.revoke",
        None,
        "revoked",
        json!({"award": id, "reason": reason, "public": {"award": id}}),
    );
    store
        .db
        .revoke_award_logged(id, &reason, now, &ev)
        .await
        .map_err(|e| match e {
            StoreError::StateChanged { .. } => refused(
                Kind::Conflict,
                ErrorCode::InvalidTransition,
                format!("award {id} is already revoked"),
            ),
            other => other.into(),
        })?;
    award(store, id, now).await
}
