//! Compute grants over HTTP: calls (operators open them, anyone reads them), applications (a
//! research project's team applies, operators review), awards (public), their usage
//! statements, progress reports and tranches; the rules are [`weir_registry::grants`].

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde::Deserialize;
use weir_core::IdentityLevel;
use weir_core::grants::{HOUR_MS, ReviewMode, Route};
use weir_core::research::AccessLevel;
use weir_registry::grants as svc;
use weir_store::grants::Call;
use weir_wire::ErrorCode;
use weir_wire::grants as wire;

use crate::auth::Caller;
use crate::extract::RequestMeta;
use crate::extract::{Json as JsonBody, Path, Query};
use crate::{ApiError, AppState, iso8601, now};

pub fn routes() -> crate::routes::Routes {
    crate::routes::Routes::new()
        .add(
            "/api/v1/grants/calls",
            &["GET", "POST"],
            get(calls).post(open_call),
        )
        .add("/api/v1/grants/calls/{name}", &["GET"], get(call))
        .add(
            "/api/v1/grants/calls/{name}/close",
            &["POST"],
            post(close_call),
        )
        .add(
            "/api/v1/grants/applications",
            &["GET", "POST"],
            get(applications).post(apply),
        )
        .add(
            "/api/v1/grants/applications/{id}",
            &["GET"],
            get(application),
        )
        .add(
            "/api/v1/grants/applications/{id}/review",
            &["POST"],
            post(review),
        )
        .add(
            "/api/v1/grants/applications/{id}/withdraw",
            &["POST"],
            post(withdraw),
        )
        .add("/api/v1/grants/awards", &["GET"], get(awards))
        .add("/api/v1/grants/awards/{id}", &["GET"], get(award))
        .add("/api/v1/grants/awards/{id}/usage", &["GET"], get(usage))
        .add("/api/v1/grants/awards/{id}/report", &["POST"], post(report))
        .add("/api/v1/grants/awards/{id}/accept", &["POST"], post(accept))
        .add("/api/v1/grants/awards/{id}/revoke", &["POST"], post(revoke))
}

fn bad(code: ErrorCode, message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, code, message)
}

fn hours(ms: i64) -> f64 {
    // To a tenth of a CPU-second: exact figures would be a timing channel out of the sandbox.
    weir_registry::jobs::tenths(ms) / 3600.0
}

fn route_json(r: &Route) -> wire::GrantRoute {
    wire::GrantRoute {
        name: r.name.clone(),
        gpu_hours: r.gpu_hours,
        cpu_hours: r.cpu_hours,
        months: r.months,
        review: r.review.as_str().to_string(),
        review_days: r.review_days,
    }
}

fn call_json(c: &Call, at: i64) -> Result<wire::Call, ApiError> {
    Ok(wire::Call {
        name: c.name.clone(),
        title: c.title.clone(),
        open: svc::call_open(c, at),
        opened_at: iso8601(c.opened_at),
        closes_at: iso8601(c.closes_at),
        closed_at: c.closed_at.map(iso8601),
        auto_level: c.auto_level.clone(),
        fields: svc::fields_of(c)?,
        routes: svc::routes_of(c)?.iter().map(route_json).collect(),
        models: c
            .models
            .iter()
            .map(|(_, repo, level)| wire::CallModel {
                repo: repo.clone(),
                level: level.clone(),
            })
            .collect(),
    })
}

/// An award; its usage only for the project's team and operators (`full`).
fn award_json(v: &svc::AwardView, full: bool) -> wire::Award {
    let a = &v.award;
    wire::Award {
        id: a.id,
        application: a.application_id,
        call: v.application.call.clone(),
        route: v.application.route.clone(),
        project: v.project.clone(),
        cpu_hours: a.cpu_ms as f64 / HOUR_MS as f64,
        gpu_hours: a.gpu_ms as f64 / HOUR_MS as f64,
        released_cpu_hours: a.released_cpu_ms as f64 / HOUR_MS as f64,
        released_gpu_hours: a.released_gpu_ms as f64 / HOUR_MS as f64,
        used_cpu_hours: full.then(|| hours(v.used_cpu_ms)),
        jobs: full.then_some(v.jobs),
        starts_at: iso8601(a.starts_at),
        ends_at: iso8601(a.ends_at),
        state: v.standing.as_str().to_string(),
        reported_at: a.reported_at.map(iso8601),
        report_accepted_at: a.report_accepted_at.map(iso8601),
        revoked_at: a.revoked_at.map(iso8601),
        report_sha256: a.report.as_deref().map(svc::report_sha256),
    }
}

/// Whether `caller` sees an award's usage: its project's team and operators.
async fn sees_usage(
    state: &AppState,
    caller: &Caller,
    v: &svc::AwardView,
) -> Result<bool, ApiError> {
    let p = state
        .store
        .db
        .project_by_id(v.award.project_id)
        .await
        .map_err(weir_registry::ServiceError::from)?;
    let member = p.is_some_and(|p| {
        caller
            .subject
            .name()
            .is_some_and(|n| p.is_member(n.as_str()))
    });
    Ok(weir_authz::authorize(&caller.subject, &weir_authz::Action::ReadGrant { member }).allow)
}

async fn application_json(
    state: &AppState,
    s: svc::Shown,
    at: i64,
) -> Result<wire::Application, ApiError> {
    let a = s.application;
    // Whoever sees the application is on the team or an operator: the award in full.
    let report = s.award.as_ref().and_then(|a| a.report.clone());
    let award = match s.award {
        Some(aw) => Some(award_json(
            &svc::award(&state.store, aw.id, at).await?,
            true,
        )),
        None => None,
    };
    Ok(wire::Application {
        id: a.id,
        call: a.call.clone(),
        route: a.route.clone(),
        project: s.project,
        applicant: a.applicant.clone(),
        purpose: a.purpose.clone(),
        report,
        plan: a.plan.clone(),
        answers: serde_json::from_str(&a.answers).unwrap_or_default(),
        cpu_hours: a.cpu_ms as f64 / HOUR_MS as f64,
        gpu_hours: a.gpu_ms as f64 / HOUR_MS as f64,
        overdue: a.state == "submitted" && at > a.review_due_at,
        state: a.state.clone(),
        submitted_at: iso8601(a.submitted_at),
        review_due_at: iso8601(a.review_due_at),
        decided_at: a.decided_at.map(iso8601),
        decision: a.decision.clone(),
        reviews: s
            .reviews
            .into_iter()
            .map(|r| wire::GrantReview {
                reviewer: r.reviewer,
                vote: r.vote,
                reason: r.reason,
                at: iso8601(r.at),
            })
            .collect(),
        award,
    })
}

fn parse_time(field: &str, s: &str) -> Result<i64, ApiError> {
    if let Ok(t) = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339) {
        return Ok(t.unix_timestamp());
    }
    time::Date::parse(s, time::macros::format_description!("[year]-[month]-[day]"))
        .map(|d| d.midnight().assume_utc().unix_timestamp())
        .map_err(|_| {
            bad(
                ErrorCode::InvalidDate,
                format!("{field} {s:?} is not a date (YYYY-MM-DD or RFC 3339)"),
            )
        })
}

async fn open_call(
    State(state): State<AppState>,
    caller: Caller,
    meta: RequestMeta,
    JsonBody(body): JsonBody<wire::CallSubmission>,
) -> Result<(StatusCode, Json<wire::Call>), ApiError> {
    let closes_at = parse_time("closes_at", &body.closes_at)?;
    let auto_level = match body.auto_level.as_deref() {
        None => IdentityLevel::Identified,
        Some(l) => IdentityLevel::parse(l).ok_or_else(|| {
            bad(
                ErrorCode::InvalidLevel,
                format!("unknown identity level {l:?}"),
            )
        })?,
    };
    let routes = match body.routes {
        None => None,
        Some(rs) => Some(
            rs.into_iter()
                .map(|r| {
                    let review = match r.review.as_str() {
                        "automatic" => ReviewMode::Automatic,
                        "single" => ReviewMode::Single,
                        "panel" => ReviewMode::Panel,
                        other => {
                            return Err(bad(
                                ErrorCode::InvalidField,
                                format!(
                                    "route {}: unknown review {other:?} (automatic, single, panel)",
                                    r.name
                                ),
                            ));
                        }
                    };
                    Ok(Route {
                        name: r.name,
                        gpu_hours: r.gpu_hours,
                        cpu_hours: r.cpu_hours,
                        months: r.months,
                        review,
                        review_days: r.review_days,
                    })
                })
                .collect::<Result<Vec<_>, ApiError>>()?,
        ),
    };
    let models = body
        .models
        .into_iter()
        .map(|m| {
            AccessLevel::parse(&m.level)
                .map(|l| (m.repo.clone(), l))
                .ok_or_else(|| {
                    bad(
                        ErrorCode::InvalidLevel,
                        format!(
                            "{}: unknown access level {:?} (AL1, AL2, AL3)",
                            m.repo, m.level
                        ),
                    )
                })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    let spec = svc::CallSpec {
        name: body.name,
        title: body.title,
        closes_at,
        routes,
        fields: body.fields,
        auto_level,
        models,
    };
    let at = now();
    let c = svc::open_call(
        &state.store,
        &caller.subject,
        &spec,
        &meta.context(&caller),
        at,
    )
    .await?;
    let c = svc::visible_call(&state.store, &caller.subject, c).await?;
    Ok((StatusCode::CREATED, Json(call_json(&c, at)?)))
}

async fn calls(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<wire::Calls>, ApiError> {
    let at = now();
    let mut out = Vec::new();
    for c in state
        .store
        .db
        .calls()
        .await
        .map_err(weir_registry::ServiceError::from)?
    {
        let c = svc::visible_call(&state.store, &caller.subject, c).await?;
        out.push(call_json(&c, at)?);
    }
    Ok(Json(wire::Calls { calls: out }))
}

async fn call(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<wire::Call>, ApiError> {
    let c = state
        .store
        .db
        .call(&name)
        .await
        .map_err(weir_registry::ServiceError::from)?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                ErrorCode::CallNotFound,
                format!("no call {name}"),
            )
            .next("list the calls: weir grant call list")
        })?;
    let c = svc::visible_call(&state.store, &caller.subject, c).await?;
    Ok(Json(call_json(&c, now())?))
}

async fn close_call(
    State(state): State<AppState>,
    caller: Caller,
    meta: RequestMeta,
    Path(name): Path<String>,
) -> Result<Json<wire::Call>, ApiError> {
    let at = now();
    let c = svc::close_call(
        &state.store,
        &caller.subject,
        &name,
        &meta.context(&caller),
        at,
    )
    .await?;
    let c = svc::visible_call(&state.store, &caller.subject, c).await?;
    Ok(Json(call_json(&c, at)?))
}

async fn apply(
    State(state): State<AppState>,
    caller: Caller,
    meta: RequestMeta,
    JsonBody(body): JsonBody<wire::ApplicationSubmission>,
) -> Result<(StatusCode, Json<wire::Application>), ApiError> {
    let spec = svc::ApplicationSpec {
        call: body.call,
        route: body.route,
        project: body.project,
        purpose: body.purpose,
        plan: body.plan,
        answers: body.answers,
        cpu_hours: body.cpu_hours,
        gpu_hours: body.gpu_hours,
    };
    let at = now();
    let s = svc::apply(
        &state.store,
        &caller.subject,
        &spec,
        &meta.context(&caller),
        at,
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(application_json(&state, s, at).await?),
    ))
}

#[derive(Deserialize)]
pub struct ApplicationsQuery {
    call: Option<String>,
}

async fn applications(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<ApplicationsQuery>,
) -> Result<Json<wire::Applications>, ApiError> {
    let at = now();
    let mut out = Vec::new();
    for s in svc::list(&state.store, &caller.subject, q.call.as_deref()).await? {
        out.push(application_json(&state, s, at).await?);
    }
    Ok(Json(wire::Applications { applications: out }))
}

async fn application(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<wire::Application>, ApiError> {
    let s = svc::show(&state.store, &caller.subject, id).await?;
    Ok(Json(application_json(&state, s, now()).await?))
}

async fn review(
    State(state): State<AppState>,
    caller: Caller,
    meta: RequestMeta,
    Path(id): Path<i64>,
    JsonBody(body): JsonBody<wire::GrantReviewSubmission>,
) -> Result<Json<wire::Application>, ApiError> {
    let at = now();
    let s = svc::review(
        &state.store,
        &caller.subject,
        id,
        &body.vote,
        &body.reason,
        &meta.context(&caller),
        at,
    )
    .await?;
    Ok(Json(application_json(&state, s, at).await?))
}

async fn withdraw(
    State(state): State<AppState>,
    caller: Caller,
    meta: RequestMeta,
    Path(id): Path<i64>,
) -> Result<Json<wire::Application>, ApiError> {
    let at = now();
    let s = svc::withdraw(
        &state.store,
        &caller.subject,
        id,
        &meta.context(&caller),
        at,
    )
    .await?;
    Ok(Json(application_json(&state, s, at).await?))
}

#[derive(Deserialize)]
pub struct AwardsQuery {
    before: Option<i64>,
    limit: Option<i64>,
}

async fn awards(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<AwardsQuery>,
) -> Result<Json<wire::Awards>, ApiError> {
    let v = svc::awards(&state.store, q.before, q.limit.unwrap_or(100), now()).await?;
    let mut out = Vec::with_capacity(v.len());
    for a in &v {
        out.push(award_json(a, sees_usage(&state, &caller, a).await?));
    }
    Ok(Json(wire::Awards { awards: out }))
}

async fn award(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<wire::Award>, ApiError> {
    let v = svc::award(&state.store, id, now()).await?;
    let full = sees_usage(&state, &caller, &v).await?;
    Ok(Json(award_json(&v, full)))
}

async fn usage(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<wire::UsageStatement>, ApiError> {
    let (v, jobs) = svc::usage(&state.store, &caller.subject, id, now()).await?;
    // Each line to a tenth of a second; the total is the sum of the lines.
    let deci = |ms: i64| (ms + 50).div_euclid(100);
    let total: i64 = jobs.iter().map(|j| deci(j.charged_ms)).sum();
    let remaining = deci((v.award.released_cpu_ms - v.used_cpu_ms).max(0));
    let disbursements = state
        .store
        .db
        .award_disbursements(id)
        .await
        .map_err(weir_registry::ServiceError::from)?
        .iter()
        .map(|e| crate::funding::entry_json(e, &state.config.currency, &caller))
        .collect();
    Ok(Json(wire::UsageStatement {
        award: award_json(&v, true),
        disbursements,
        jobs: jobs
            .iter()
            .map(|j| wire::UsageLine {
                job: j.id,
                kind: j.kind.as_str().to_string(),
                repo: j.repo.to_string(),
                revision: j.commit.to_string(),
                finished_at: j.finished_at.map(iso8601),
                ending: j.ending.clone(),
                charged_cpu_seconds: deci(j.charged_ms) as f64 / 10.0,
            })
            .collect(),
        total_cpu_seconds: total as f64 / 10.0,
        remaining_released_cpu_seconds: remaining as f64 / 10.0,
    }))
}

async fn report(
    State(state): State<AppState>,
    caller: Caller,
    meta: RequestMeta,
    Path(id): Path<i64>,
    JsonBody(body): JsonBody<wire::ProgressReport>,
) -> Result<Json<wire::Award>, ApiError> {
    let v = svc::report(
        &state.store,
        &caller.subject,
        id,
        &body.report,
        &meta.context(&caller),
        now(),
    )
    .await?;
    Ok(Json(award_json(&v, true)))
}

async fn accept(
    State(state): State<AppState>,
    caller: Caller,
    meta: RequestMeta,
    Path(id): Path<i64>,
    JsonBody(body): JsonBody<wire::ReportAcceptance>,
) -> Result<Json<wire::Award>, ApiError> {
    let v = svc::accept_report(
        &state.store,
        &caller.subject,
        id,
        &body.report_sha256,
        &body.reason,
        &meta.context(&caller),
        now(),
    )
    .await?;
    Ok(Json(award_json(&v, true)))
}

async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    meta: RequestMeta,
    Path(id): Path<i64>,
    JsonBody(body): JsonBody<wire::GrantDecision>,
) -> Result<Json<wire::Award>, ApiError> {
    let v = svc::revoke(
        &state.store,
        &caller.subject,
        id,
        &body.reason,
        &meta.context(&caller),
        now(),
    )
    .await?;
    Ok(Json(award_json(&v, true)))
}
