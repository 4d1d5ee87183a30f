//! The secure research environment over HTTP: research projects, applied for by researchers and
//! decided by operators; the rules are [`weir_registry::research`].

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde::Deserialize;
use weir_registry::research as svc;
use weir_store::research::Project;
use weir_wire::research as wire;

use crate::auth::Caller;
use crate::extract::RequestMeta;
use crate::extract::{Json as JsonBody, Path, Query};
use crate::{ApiError, AppState, iso8601, now};

pub fn routes() -> crate::routes::Routes {
    crate::routes::Routes::new()
        .add("/api/v1/projects", &["GET", "POST"], get(list).post(apply))
        .add("/api/v1/projects/{ns}/{name}", &["GET"], get(show))
        .add(
            "/api/v1/projects/{ns}/{name}/decision",
            &["POST"],
            post(decide),
        )
}

/// A project on the wire, its standing computed now.
pub fn project_json(p: &Project, at: i64) -> wire::Project {
    let show_people = !p.members.is_empty();
    wire::Project {
        id: p.id,
        name: p.full_name(),
        purpose: p.purpose.clone(),
        state: format!("{:?}", p.state.at(at, p.expires_at)).to_lowercase(),
        applied_by: show_people.then(|| p.applied_by.clone()),
        applied_at: iso8601(p.applied_at),
        decided_at: p.decided_at.map(iso8601),
        decision_reason: p.decision_reason.clone(),
        expires_at: p.expires_at.map(iso8601),
        members: p.members.clone(),
        models: p
            .models
            .iter()
            .map(|m| wire::ProjectModel {
                repo: m.repo.to_string(),
                revision: m.commit.to_string(),
                level: m.level.as_str().to_string(),
            })
            .collect(),
        standin: p.standin.as_ref().map(|r| r.to_string()),
        quota_cpu_seconds: p.quota_cpu_seconds,
    }
}

async fn apply(
    State(state): State<AppState>,
    caller: Caller,
    meta: RequestMeta,
    JsonBody(body): JsonBody<wire::ProjectApplication>,
) -> Result<(StatusCode, Json<wire::Project>), ApiError> {
    let app = svc::Application {
        project: body.name,
        purpose: body.purpose,
        members: body.members,
        models: body
            .models
            .into_iter()
            .map(|m| svc::ModelAsk {
                repo: m.repo,
                revision: m.revision.unwrap_or_else(|| "main".into()),
                level: m.level,
            })
            .collect(),
        standin: body.standin,
        quota_cpu_seconds: body.quota_cpu_seconds,
    };
    let at = now();
    let p = svc::apply(
        &state.store,
        &caller.subject,
        &app,
        &meta.context(&caller),
        at,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(project_json(&p, at))))
}

async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path((ns, name)): Path<(String, String)>,
) -> Result<Json<wire::Project>, ApiError> {
    let p = svc::find(&state.store, &format!("{ns}/{name}")).await?;
    let p = svc::redact(&state.store, &caller.subject, p).await?;
    Ok(Json(project_json(&p, now())))
}

#[derive(Deserialize)]
pub struct ListQuery {
    state: Option<String>,
    #[serde(default)]
    mine: bool,
    limit: Option<i64>,
}

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<ListQuery>,
) -> Result<Json<wire::Projects>, ApiError> {
    let at = now();
    let ps = svc::list(
        &state.store,
        &caller.subject,
        q.state.as_deref(),
        q.mine,
        q.limit.unwrap_or(100),
    )
    .await?;
    Ok(Json(wire::Projects {
        projects: ps.iter().map(|p| project_json(p, at)).collect(),
    }))
}

async fn decide(
    State(state): State<AppState>,
    caller: Caller,
    meta: RequestMeta,
    Path((ns, name)): Path<(String, String)>,
    JsonBody(body): JsonBody<wire::ProjectDecision>,
) -> Result<Json<wire::Project>, ApiError> {
    let verdict = svc::Verdict::parse(&body.decision).ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            weir_wire::ErrorCode::InvalidDecision,
            format!("unknown decision {:?}", body.decision),
        )
        .next("use approve, reject or revoke")
    })?;
    let at = now();
    let p = svc::decide(
        &state.store,
        &caller.subject,
        &format!("{ns}/{name}"),
        &svc::Review {
            verdict,
            reason: body.reason,
            expires_days: body.expires_days,
            quota_cpu_seconds: body.quota_cpu_seconds,
        },
        &meta.context(&caller),
        at,
    )
    .await?;
    let p = svc::redact(&state.store, &caller.subject, p).await?;
    Ok(Json(project_json(&p, at)))
}
