//! Evaluation results: a raw harness log is uploaded, stored as a blob and parsed here, so the record an evaluator signs is what weir derived from the log; results, raw logs and evaluator signatures.

use crate::auth::Caller;
use crate::extract::RequestMeta;
use crate::extract::{Json as JsonBody, Path, Query};
use crate::lookup::Visible;
use crate::lookup::{resolve_revision, visible_repo};
use crate::{ApiError, AppState, gate, iso8601};
use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use weir_authz::Action;
use weir_core::RepoId;
use weir_core::eval::ResultRecord;
use weir_registry::classification::{Lowering, reclassify_logged};
use weir_registry::results::new_result;
use weir_store::Repo;
use weir_store::blobs::Expect;
use weir_store::evals::StoredResult;
use weir_wire::ErrorCode;
use weir_wire::evals as wire;

/// Largest raw evaluation log accepted (Inspect logs with samples can be large).
pub const MAX_RAW_LOG: u64 = 4 << 30;

/// The wire view of a stored result. A payload that is not a result record is a corrupt row
/// (the server wrote it), never shown as something else.
pub(super) fn result_json(r: &StoredResult) -> Result<wire::EvalResult, ApiError> {
    let record: wire::ResultRecord = serde_json::from_str(&r.payload).map_err(|e| {
        tracing::error!(result = %r.id, error = %e, "stored result payload is not a record");
        ApiError::internal()
    })?;
    Ok(wire::EvalResult {
        id: r.id.clone(),
        repo: Some(record.repo.clone()),
        commit: r.commit.clone(),
        suite: r.suite.clone(),
        record,
        payload: r.payload.clone(),
        raw_log_sha256: r.raw_log_sha256.clone(),
        raw_log_name: r.raw_log_name.clone(),
        imported_by: r.imported_by.clone(),
        imported_at: iso8601(r.created_at),
        signed: r.signature.is_some(),
        evaluator: r.evaluator.clone(),
        signature: r.signature.clone(),
        signed_at: r.signed_at.map(iso8601),
    })
}

#[derive(Deserialize)]
pub struct ImportQuery {
    revision: Option<String>,
    suite: String,
    filename: Option<String>,
}

/// `POST /api/v1/models/{ns}/{name}/evaluations?revision=&suite=&filename=` with the raw log as
/// the body. The log is stored as a blob, parsed here and normalized for the suite; the result
/// is unsigned until an accredited evaluator signs its payload.
pub(super) async fn import_result(
    State(state): State<AppState>,
    caller: Caller,
    meta: RequestMeta,
    Visible { repo, facts: f }: Visible,
    Query(q): Query<ImportQuery>,
    body: Body,
) -> Result<(StatusCode, Json<wire::EvalResult>), ApiError> {
    caller.require(&Action::Contribute(&f), &repo.repo_id.to_string())?;
    let user = caller.require_user()?.to_string();
    let rev = q.revision.unwrap_or_else(|| "main".into());
    let commit = resolve_revision(&state, &repo, &rev).await?;
    let suites = state.store.db.suites().await?;
    let suite = suites
        .iter()
        .find(|s| s.name == q.suite)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                ErrorCode::UnknownSuite,
                format!("no evaluation suite {:?}", q.suite),
            )
            .next(format!(
                "use one of: {}",
                suites
                    .iter()
                    .map(|s| s.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?
        .clone();
    let raw_name: String = q
        .filename
        .unwrap_or_else(|| "log".into())
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect();
    let (sha, size) = state
        .store
        .blobs
        .ingest(
            body.into_data_stream(),
            Expect {
                max_size: Some(MAX_RAW_LOG),
                ..Expect::default()
            },
        )
        .await?;
    if size == 0 {
        forget_blob(&state, &sha).await;
        return Err(
            ApiError::bad_request(ErrorCode::EmptyLog, "the evaluation log is empty")
                .next("send the harness's results file as the request body"),
        );
    }
    let path = state
        .store
        .blobs
        .local_path(&sha)
        .await
        .map_err(|_| ApiError::internal())?;
    let parsed = tokio::task::spawn_blocking(move || {
        let f = std::fs::File::open(&path).map_err(|e| weir_eval::EvalError::Io(e.to_string()))?;
        weir_eval::parse(std::io::BufReader::new(f))
    })
    .await
    .map_err(|_| ApiError::internal())?;
    let record = parsed.and_then(|p| {
        weir_eval::normalize(
            &p,
            &suite,
            &repo.repo_id.to_string(),
            commit.as_str(),
            sha.as_str(),
        )
    });
    let record = match record {
        Ok(r) => r,
        Err(e) => {
            forget_blob(&state, &sha).await;
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::InvalidEvalLog,
                e.to_string(),
            )
            .next("upload the harness's own output: an lm-eval results_*.json, or an Inspect .eval or .json log"));
        }
    };
    state.store.db.record_blob(&sha, size).await?;
    let stored = new_result(&repo, &record, &raw_name, &user, crate::now());
    let id = stored.id.clone();
    let e = gate::event(
        &caller,
        &meta,
        "eval.imported",
        Some(&repo),
        "change",
        "imported",
        json!({"public": {"result": id, "repo": repo.repo_id.to_string(), "commit": commit.as_str(), "suite": suite.name, "raw_log_sha256": sha.as_str(), "complete": record.complete()}}),
    );
    let (r, created) = state.store.db.insert_result_logged(&stored, &e).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(result_json(&r)?)))
}

/// Removes a just-ingested blob that nothing references (a rejected upload changes nothing).
pub(super) async fn forget_blob(state: &AppState, sha: &weir_core::Sha256Hex) {
    if let Ok(None) = state.store.db.blob_size(sha).await {
        let _ = state.store.blobs.remove(sha).await;
    }
}

pub(super) async fn list_results(
    State(state): State<AppState>,
    _caller: Caller,
    Visible { repo, facts: _ }: Visible,
) -> Result<Json<wire::EvalResults>, ApiError> {
    let list: Vec<_> = state
        .store
        .db
        .eval_results(&repo)
        .await?
        .iter()
        .map(result_json)
        .collect::<Result<_, _>>()?;
    Ok(Json(wire::EvalResults {
        repo: repo.repo_id.to_string(),
        results: list,
    }))
}

pub(super) async fn result_and_repo(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> Result<(StoredResult, Repo), ApiError> {
    let not_found = || {
        ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::ResultNotFound,
            format!("no evaluation result {id}"),
        )
    };
    if id.len() != 64 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(not_found());
    }
    let r = state
        .store
        .db
        .eval_result(id)
        .await?
        .ok_or_else(not_found)?;
    let record: ResultRecord =
        serde_json::from_str(&r.payload).map_err(|_| ApiError::internal())?;
    let rid = RepoId::parse(&record.repo).map_err(|_| ApiError::internal())?;
    // The result is visible exactly when its repo is.
    let (repo, _) = visible_repo(state, caller, rid.namespace.as_str(), rid.name.as_str())
        .await
        .map_err(|_| not_found())?;
    Ok((r, repo))
}

pub(super) async fn get_result(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<wire::EvalResult>, ApiError> {
    let (r, _) = result_and_repo(&state, &caller, &id).await?;
    Ok(Json(result_json(&r)?))
}

/// The raw log, for those who may download the model's files (logs can hold model outputs).
pub(super) async fn raw_log(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let (r, repo) = result_and_repo(&state, &caller, &id).await?;
    // Gated like the evaluated revision's weights, its incident holds included.
    let commit = weir_core::CommitId::parse(&r.commit).map_err(|_| ApiError::internal())?;
    let g = gate::check_at(&state, &caller, &repo, &commit).await?;
    if let Some(e) = g.error {
        return Err(e);
    }
    let sha = weir_core::Sha256Hex::parse(&r.raw_log_sha256).map_err(|_| ApiError::internal())?;
    let path = state
        .store
        .blobs
        .local_path(&sha)
        .await
        .map_err(|_| ApiError::internal())?;
    let file = tokio::fs::File::open(path)
        .await
        .map_err(|_| ApiError::internal())?;
    let stream = tokio_util::io::ReaderStream::new(file);
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/octet-stream")],
        Body::from_stream(stream),
    )
        .into_response())
}

#[derive(Deserialize)]
pub struct SignatureBody {
    evaluator: String,
    signature: String,
}

/// `POST /api/v1/evaluations/{id}/signature`: an accredited evaluator's signature over the
/// result payload. The signature is the credential: no account is needed to submit it.
pub(super) async fn sign_result(
    State(state): State<AppState>,
    caller: Caller,
    meta: RequestMeta,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<SignatureBody>,
) -> Result<Json<wire::EvalResult>, ApiError> {
    let (r, repo) = result_and_repo(&state, &caller, &id).await?;
    if r.signature.is_some() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::AlreadySigned,
            format!(
                "result {id} is already signed by {}",
                r.evaluator.as_deref().unwrap_or("?")
            ),
        ));
    }
    let evaluator = state
        .store
        .db
        .evaluators()
        .await?
        .into_iter()
        .find(|e| e.name == body.evaluator && e.revoked_at.is_none())
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::FORBIDDEN,
                ErrorCode::EvaluatorNotAccredited,
                format!("{:?} is not an accredited evaluator", body.evaluator),
            )
            .next("an operator accredits evaluators with: weir admin --data DIR evaluator add NAME --key FILE")
        })?;
    weir_signing::verify_result(
        &r.payload,
        &body.signature,
        &evaluator.public_key,
        &evaluator.name,
    )
    .map_err(|e| {
        ApiError::new(StatusCode::FORBIDDEN, ErrorCode::BadSignature, e.to_string())
            .next("sign the result's payload exactly as served, with: weir eval submit ID --evaluator NAME --key FILE")
    })?;
    let mut e = gate::event(
        &caller,
        &meta,
        "eval.signed",
        Some(&repo),
        "change",
        "signed",
        json!({"public": {"result": id, "repo": repo.repo_id.to_string(), "commit": r.commit, "suite": r.suite, "evaluator": evaluator.name, "payload_sha256": id}}),
    );
    e.subject = Some(evaluator.name.clone());
    state
        .store
        .db
        .sign_result_logged(&id, &evaluator.name, body.signature.trim(), &e)
        .await?;
    // Signed by an accredited evaluator, the result counts: bounty pools that pay for
    // evaluations propose their payout to whoever imported it (a failure is logged: the
    // signature is recorded).
    if let Err(err) = weir_registry::funding::propose_for_evaluation(
        &state.store,
        &id,
        &r.suite,
        &r.imported_by,
        &repo,
        &meta.context(&caller),
        crate::now(),
    )
    .await
    {
        tracing::error!(result = %id, error = %err, "proposing evaluation payouts");
    }
    let actor = caller.name().map(|n| n.to_string());
    // An accredited evaluator's signature can rule a domain out.
    reclassify_logged(
        &state.store,
        &repo.repo_id,
        actor.as_deref(),
        Lowering::AfterReview,
        crate::now(),
    )
    .await;
    let r = state
        .store
        .db
        .eval_result(&id)
        .await?
        .ok_or_else(ApiError::internal)?;
    Ok(Json(result_json(&r)?))
}
