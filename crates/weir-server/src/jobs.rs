//! Research-environment jobs over HTTP: submit, status, list, the public job log, cancel, logs,
//! outputs and their review; the rules are [`weir_registry::jobs`].

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use serde::Deserialize;
use weir_registry::jobs as svc;
use weir_store::jobs::Job;
use weir_wire::jobs as wire;

use crate::auth::Caller;
use crate::extract::RequestMeta;
use crate::extract::{Json as JsonBody, Path, Query};
use crate::{ApiError, AppState, iso8601, now};

pub fn routes() -> crate::routes::Routes {
    crate::routes::Routes::new()
        .add("/api/v1/jobs", &["GET", "POST"], get(list).post(submit))
        .add("/api/v1/jobs/log", &["GET"], get(public_log))
        .add("/api/v1/jobs/review", &["GET"], get(review_queue))
        .add("/api/v1/jobs/{id}", &["GET"], get(show))
        .add("/api/v1/jobs/{id}/cancel", &["POST"], post(cancel))
        .add("/api/v1/jobs/{id}/logs", &["GET"], get(logs))
        .add("/api/v1/jobs/{id}/outputs/{*path}", &["GET"], get(output))
        .add("/api/v1/jobs/{id}/review", &["POST"], post(review))
}

fn secs(ms: Option<i64>) -> Option<f64> {
    ms.map(svc::tenths)
}

/// A job's public facts (what the job log shows).
fn job_json(j: &Job) -> wire::Job {
    wire::Job {
        id: j.id,
        project: j.project.clone(),
        repo: j.repo.to_string(),
        revision: j.commit.to_string(),
        kind: j.kind.as_str().to_string(),
        state: j.state.as_str().to_string(),
        submitted_at: iso8601(j.submitted_at),
        started_at: j.started_at.map(iso8601),
        finished_at: j.finished_at.map(iso8601),
        ending: j.ending.clone(),
        cpu_seconds: secs(j.cpu_ms),
        wall_seconds: secs(j.wall_ms),
        peak_memory: j.peak_memory.map(svc::mib),
        charged_seconds: svc::tenths(j.charged_ms),
        outputs_state: j.outputs_state.clone(),
        output_rules: j.output_rules.clone(),
        submitted_by: None,
        params: None,
        outputs: vec![],
        held_files: 0,
        blocked_by: vec![],
        votes: vec![],
    }
}

async fn submit(
    State(state): State<AppState>,
    caller: Caller,
    meta: RequestMeta,
    JsonBody(body): JsonBody<wire::JobSubmission>,
) -> Result<(StatusCode, Json<wire::Job>), ApiError> {
    let mut inputs = Vec::with_capacity(body.inputs.len());
    for i in body.inputs {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(i.content_base64.as_bytes())
            .map_err(|_| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    weir_wire::ErrorCode::InvalidBody,
                    format!("input {}: content_base64 is not standard base64", i.path),
                )
            })?;
        inputs.push((i.path, bytes));
    }
    let sub = svc::Submission {
        project: body.project,
        repo: body.repo,
        revision: body.revision.unwrap_or_else(|| "main".into()),
        kind: body.kind,
        params: body.params,
        inputs,
    };
    let j = svc::submit(
        &state.store,
        state.enclave.as_deref(),
        &caller.subject,
        &sub,
        &meta.context(&caller),
        now(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(job_json(&j))))
}

async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<wire::Job>, ApiError> {
    let (j, p) = svc::show(&state.store, &caller.subject, id).await?;
    let checker = svc::checks(&state.store, &caller.subject, &j, &p)
        .await?
        .allow;
    let mut out = job_json(&j);
    out.submitted_by = Some(j.submitted_by.clone());
    out.params = serde_json::from_str(&j.params).ok();
    out.outputs = state
        .store
        .db
        .job_outputs(id)
        .await
        .map_err(weir_registry::ServiceError::from)?
        .into_iter()
        .map(|o| wire::JobOutput {
            findings: serde_json::from_str(&o.findings).unwrap_or_default(),
            path: o.path,
            sha256: o.sha256,
            size: o.size,
        })
        .collect();
    // Names, sizes and digests of held files are a channel out of the sandbox too: the team
    // sees them once the outputs are released, the output checkers (operators and designated
    // checkers) always; the team sees how many are held and which rules blocked them.
    out.held_files = out.outputs.len();
    if j.outputs_state != "released" && !checker {
        let mut rules: Vec<String> = out
            .outputs
            .iter()
            .flat_map(|o| o.findings.iter())
            .filter_map(|f| f.get("rule").and_then(|r| r.as_str()).map(str::to_string))
            .collect();
        rules.sort();
        rules.dedup();
        out.blocked_by = rules;
        out.outputs.clear();
    }
    let me = caller.subject.name().map(|n| n.to_string());
    let votes = state
        .store
        .db
        .output_votes(id)
        .await
        .map_err(weir_registry::ServiceError::from)?;
    out.votes = svc::visible_votes(votes, &j.outputs_state, me.as_deref(), checker)
        .into_iter()
        .map(|v| wire::OutputVote {
            path: v.path,
            reviewer: v.reviewer,
            vote: v.vote,
            reason: v.reason,
        })
        .collect();
    Ok(Json(out))
}

#[derive(Deserialize)]
pub struct ListQuery {
    project: Option<String>,
    before: Option<i64>,
    limit: Option<i64>,
}

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<ListQuery>,
) -> Result<Json<wire::Jobs>, ApiError> {
    let Some(project) = q.project else {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            weir_wire::ErrorCode::InvalidQuery,
            "name the project: ?project=NS/NAME",
        )
        .next("the public job log of every project is GET /api/v1/jobs/log"));
    };
    let jobs = svc::list(
        &state.store,
        &caller.subject,
        &project,
        q.before,
        q.limit.unwrap_or(100),
    )
    .await?;
    Ok(Json(wire::Jobs {
        jobs: jobs.iter().map(job_json).collect(),
    }))
}

#[derive(Deserialize)]
pub struct QueueQuery {
    limit: Option<i64>,
}

/// The output checkers' queue: the jobs awaiting review the caller may check, oldest first.
async fn review_queue(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<QueueQuery>,
) -> Result<Json<wire::Jobs>, ApiError> {
    let jobs = svc::review_queue(&state.store, &caller.subject, q.limit.unwrap_or(100)).await?;
    Ok(Json(wire::Jobs {
        jobs: jobs.iter().map(job_json).collect(),
    }))
}

#[derive(Deserialize)]
pub struct LogQuery {
    before: Option<i64>,
    limit: Option<i64>,
}

/// The public job log: every job on a model the caller may see.
async fn public_log(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<LogQuery>,
) -> Result<Json<wire::Jobs>, ApiError> {
    let jobs = svc::public_log(
        &state.store,
        &caller.subject,
        q.before,
        q.limit.unwrap_or(100),
    )
    .await?;
    Ok(Json(wire::Jobs {
        jobs: jobs.iter().map(job_json).collect(),
    }))
}

async fn cancel(
    State(state): State<AppState>,
    caller: Caller,
    meta: RequestMeta,
    Path(id): Path<i64>,
) -> Result<Json<wire::Job>, ApiError> {
    let j = svc::cancel(
        &state.store,
        &caller.subject,
        id,
        &meta.context(&caller),
        now(),
    )
    .await?;
    Ok(Json(job_json(&j)))
}

fn bytes_response(bytes: Vec<u8>, content_type: &'static str) -> Response {
    let mut resp = Body::from(bytes).into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp.headers_mut().insert(
        header::HeaderName::from_static("x-content-type-options"),
        HeaderValue::from_static("nosniff"),
    );
    resp
}

/// The job's stdout and stderr, once they may leave (the same checks as its outputs).
async fn logs(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    svc::output_access(&state.store, &caller.subject, id).await?;
    let mut text = Vec::new();
    for name in ["stdout", "stderr"] {
        let path = format!("{}/{name}.txt", svc::LOG_DIR);
        if let Some(b) = state
            .store
            .db
            .job_output_bytes(id, &path)
            .await
            .map_err(weir_registry::ServiceError::from)?
        {
            text.extend_from_slice(format!("== {name}\n").as_bytes());
            text.extend_from_slice(&b);
            if !b.ends_with(b"\n") {
                text.push(b'\n');
            }
        }
    }
    Ok(bytes_response(text, "text/plain; charset=utf-8"))
}

async fn output(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, path)): Path<(i64, String)>,
) -> Result<Response, ApiError> {
    let bytes = svc::output_file(&state.store, &caller.subject, id, &path).await?;
    Ok(bytes_response(bytes, "application/octet-stream"))
}

async fn review(
    State(state): State<AppState>,
    caller: Caller,
    meta: RequestMeta,
    Path(id): Path<i64>,
    JsonBody(body): JsonBody<wire::OutputReview>,
) -> Result<Json<wire::Reviewed>, ApiError> {
    let votes: Vec<svc::FileVote> = body
        .votes
        .into_iter()
        .map(|v| svc::FileVote {
            path: v.path,
            vote: v.vote,
            reason: v.reason,
        })
        .collect();
    let s = svc::review_outputs(
        &state.store,
        &caller.subject,
        id,
        &votes,
        &meta.context(&caller),
        now(),
    )
    .await?;
    Ok(Json(wire::Reviewed {
        job: id,
        outputs_state: s,
    }))
}
