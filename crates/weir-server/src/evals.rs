//! Evaluations and policy-driven classification over HTTP (DESIGN.md §4).
//!
//! - the policy in force (`GET /api/v1/policy`), signed with the log key;
//! - suites and accredited evaluators (read-only here; operators change them with `weir admin`);
//! - results: a raw harness log is uploaded, stored as a blob and parsed *here*, so the record an
//!   evaluator signs is what weir derived from the log, never numbers a client typed;
//! - evidence that a hazard domain cannot be ruled out, and its review by operators;
//! - classification per revision, and [`reclassify`], which stores a repo's classification and
//!   raises its tier at once when the policy asks for more (with a logged event).
//!
//! Every decision goes through `weir_authz`; every change commits with its event.

use weir_wire::ErrorCode;
use weir_wire::evals as wire;

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use weir_authz::Action;
use weir_core::RepoId;
use weir_core::card::CardFacts;
use weir_core::eval::{Domain, ResultRecord};
use weir_core::policy::{HazardSeverity, Policy};
use weir_store::Repo;
use weir_store::blobs::Expect;
use weir_store::evals::StoredResult;

use weir_registry::classification::reclassify;
use weir_registry::classification::{Lowering, classify_at, reclassify_logged};
use weir_registry::policy::{policy_in_force, policy_note_text};
use weir_registry::results::new_result;

use crate::auth::Caller;
use crate::extract::{Json as JsonBody, Path, Query};
use crate::lookup::{resolve_revision, visible_repo};
use crate::{ApiError, AppState, gate, iso8601, now};

/// Largest raw evaluation log accepted (Inspect logs with samples can be large).
pub const MAX_RAW_LOG: u64 = 4 << 30;
/// Longest evidence summary.
const MAX_SUMMARY: usize = 20_000;

pub fn routes() -> crate::routes::Routes {
    crate::routes::Routes::new()
        .add("/api/v1/policy", &["GET"], get(get_policy))
        .add("/api/v1/eval/suites", &["GET"], get(list_suites))
        .add("/api/v1/evaluators", &["GET"], get(list_evaluators))
        .add(
            "/api/v1/models/{ns}/{name}/classification",
            &["GET"],
            get(get_classification),
        )
        .add(
            "/api/v1/models/{ns}/{name}/classification/notified",
            &["POST"],
            post(record_notification),
        )
        .add(
            "/api/v1/models/{ns}/{name}/evaluations",
            &["GET", "POST"],
            get(list_results).post(import_result),
        )
        .add("/api/v1/evaluations/{id}", &["GET"], get(get_result))
        .add("/api/v1/evaluations/{id}/raw", &["GET"], get(raw_log))
        .add(
            "/api/v1/evaluations/{id}/signature",
            &["POST"],
            post(sign_result),
        )
        .add(
            "/api/v1/models/{ns}/{name}/evidence",
            &["GET", "POST"],
            get(list_evidence).post(file_evidence),
        )
        .add(
            "/api/v1/evidence/{id}/review",
            &["POST"],
            post(review_evidence),
        )
        .add(
            "/api/v1/models/{ns}/{name}/documentation",
            &["GET"],
            get(documentation),
        )
}

// ---- the policy in force ------------------------------------------------------------------------

async fn get_policy(State(state): State<AppState>) -> Result<Json<wire::PolicyInForce>, ApiError> {
    let p = policy_in_force(&state.store).await?;
    let signature = match p.signature {
        Some(s) => s,
        None => weir_tlog::note::Note::sign(
            &policy_note_text(&p.policy.version, &p.sha256),
            &[&state.config.log_signer],
        )
        .map_err(|e| {
            tracing::error!(error = %e, "signing the policy");
            ApiError::internal()
        })?
        .to_text(),
    };
    Ok(Json(wire::PolicyInForce {
        version: p.policy.version.clone(),
        description: p.policy.description.clone(),
        sha256: p.sha256,
        default: p.set_by.is_none(),
        set_by: p.set_by,
        set_at: p.set_at.map(iso8601),
        signature,
        verification_key: state.config.log_signer.verifier().vkey(),
        policy: serde_json::to_value(&p.policy).map_err(|_| ApiError::internal())?,
        text: p.text,
    }))
}

async fn list_suites(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!({"suites": state.store.db.suites().await?})))
}

async fn list_evaluators(
    State(state): State<AppState>,
) -> Result<Json<wire::Evaluators>, ApiError> {
    let list: Vec<_> = state
        .store
        .db
        .evaluators()
        .await?
        .into_iter()
        .map(|e| wire::Evaluator {
            name: e.name,
            public_key: e.public_key,
            accredited: e.revoked_at.is_none(),
            accredited_at: iso8601(e.created_at),
            revoked_at: e.revoked_at.map(iso8601),
        })
        .collect();
    Ok(Json(wire::Evaluators { evaluators: list }))
}

// ---- classification -----------------------------------------------------------------------------

/// The notification clock of the compute presumption, when it runs: due `notify_days` after the
/// presumption started, met when the notification is recorded.
pub fn notification(
    since: Option<i64>,
    notified: Option<&(i64, String)>,
    policy: &Policy,
    at: i64,
) -> Option<wire::NotificationClock> {
    let s = since?;
    let due = s + policy.compute_presumption.notify_days * 86_400;
    Some(wire::NotificationClock {
        rule: "compute_presumption".into(),
        started_at: iso8601(s),
        due: iso8601(due),
        days_left: (due - at + 86_399).div_euclid(86_400),
        notified_at: notified.map(|(t, _)| iso8601(*t)),
        reference: notified.map(|(_, r)| r.clone()),
        overdue: notified.is_none() && at > due,
    })
}

pub fn card_json(card: &CardFacts) -> wire::Card {
    wire::Card {
        license: card.license.clone(),
        base_model: card.base_models.clone(),
        tags: card.tags.clone(),
        training_compute_flop: card.training_compute_flop,
        parameters: card.parameters,
        closed_weights: card.closed_weights,
        hazard_domains: card
            .hazard_domains
            .iter()
            .map(|d| d.as_str().to_string())
            .collect(),
        contact: card.contact.clone(),
        errors: card.errors.clone(),
    }
}

/// The snake_case text a serde enum serializes to.
fn wire_str<T: serde::Serialize>(t: &T) -> String {
    serde_json::to_value(t)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

#[derive(Deserialize)]
pub struct RevQuery {
    revision: Option<String>,
}

/// `GET /api/v1/models/{ns}/{name}/classification?revision=`: the decision rule by rule.
async fn get_classification(
    State(state): State<AppState>,
    caller: Caller,
    Path((ns, name)): Path<(String, String)>,
    Query(q): Query<RevQuery>,
) -> Result<Json<wire::Classification>, ApiError> {
    let (repo, _) = visible_repo(&state, &caller, &ns, &name).await?;
    let rev = q.revision.unwrap_or_else(|| "main".into());
    let commit = resolve_revision(&state, &repo, &rev).await?;
    let (c, card, policy) = classify_at(&state.store, &repo, &commit).await?;
    let stored = state.store.db.classification(&repo).await?;
    let since = if c.presumption {
        stored.as_ref().and_then(|s| s.presumption_since)
    } else {
        None
    };
    let notified = stored.as_ref().and_then(|s| s.notified.as_ref());
    Ok(Json(wire::Classification {
        repo: repo.repo_id.to_string(),
        revision: rev,
        tier: repo.tier.as_str().to_string(),
        explanation: c.explain(),
        policy: wire::PolicyRef {
            version: policy.policy.version.clone(),
            sha256: policy.sha256.clone(),
        },
        notification: notification(since, notified, &policy.policy, now()),
        card: card_json(&card),
        policy_version: c.policy_version.clone(),
        minimum_tier: c.minimum_tier.as_str().to_string(),
        deciding_rule: c.deciding_rule.map(str::to_string),
        domains: c
            .domains
            .iter()
            .map(|d| wire::DomainOutcome {
                domain: d.domain.as_str().to_string(),
                outcome: wire_str(&d.outcome),
                evidence: d.evidence.clone(),
            })
            .collect(),
        rules: c
            .rules
            .iter()
            .map(|r| wire::RuleOutcome {
                rule: r.rule.to_string(),
                source: r.source.clone(),
                fired: r.fired,
                tier: r.tier.map(|t| t.as_str().to_string()),
                detail: r.detail.clone(),
            })
            .collect(),
        ignored_results: c
            .ignored_results
            .iter()
            .map(|i| wire::IgnoredResult {
                id: i.id.clone(),
                suite: i.suite.clone(),
                reason: wire_str(&i.reason),
                why: i.why.to_string(),
            })
            .collect(),
        counted_results: c.counted_results,
        presumption: c.presumption,
        reassessment_due: c.reassessment_due,
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifiedBody {
    reference: String,
}

/// `POST /api/v1/models/{ns}/{name}/classification/notified`: the publisher (or an operator)
/// records that the notification the compute presumption asks for was made, with its reference;
/// the clock is met.
async fn record_notification(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path((ns, name)): Path<(String, String)>,
    JsonBody(body): JsonBody<NotifiedBody>,
) -> Result<Json<wire::NotificationRecorded>, ApiError> {
    let (repo, f) = visible_repo(&state, &caller, &ns, &name).await?;
    caller.require(&Action::RecordNotification(&f), &repo.repo_id.to_string())?;
    let reference = body.reference.trim();
    if reference.is_empty() || reference.len() > 500 || reference.chars().any(char::is_control) {
        return Err(ApiError::bad_request(
            ErrorCode::InvalidReference,
            "the notification's reference is 1–500 characters on one line",
        ));
    }
    let at = now();
    let e = gate::event(
        &caller,
        &headers,
        "presumption.notified",
        Some(&repo),
        "change",
        "notified",
        json!({"public": {"repo": repo.repo_id.to_string()}, "reference": reference}),
    );
    state
        .store
        .db
        .set_presumption_notified_logged(&repo, at, reference, &e)
        .await
        .map_err(|err| match err {
            weir_store::StoreError::NotFound(_) => ApiError::new(
                StatusCode::CONFLICT,
                ErrorCode::NoNotificationClock,
                format!("{} has no running notification clock", repo.repo_id),
            )
            .next("the clock starts when the policy's compute presumption applies"),
            other => other.into(),
        })?;
    let stored = state.store.db.classification(&repo).await?;
    let policy = policy_in_force(&state.store).await?;
    Ok(Json(wire::NotificationRecorded {
        repo: repo.repo_id.to_string(),
        notification: notification(
            stored.as_ref().and_then(|s| s.presumption_since),
            stored.as_ref().and_then(|s| s.notified.as_ref()),
            &policy.policy,
            at,
        ),
    }))
}

// ---- results ------------------------------------------------------------------------------------

fn result_json(r: &StoredResult) -> wire::EvalResult {
    let record: Value = serde_json::from_str(&r.payload).unwrap_or(Value::Null);
    wire::EvalResult {
        id: r.id.clone(),
        repo: record
            .get("repo")
            .and_then(Value::as_str)
            .map(str::to_string),
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
    }
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
async fn import_result(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path((ns, name)): Path<(String, String)>,
    Query(q): Query<ImportQuery>,
    body: Body,
) -> Result<(StatusCode, Json<wire::EvalResult>), ApiError> {
    let (repo, f) = visible_repo(&state, &caller, &ns, &name).await?;
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
    let path = state.store.blobs.path_of(&sha);
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
        &headers,
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
    Ok((status, Json(result_json(&r))))
}

/// Removes a just-ingested blob that nothing references (a rejected upload changes nothing).
async fn forget_blob(state: &AppState, sha: &weir_core::Sha256Hex) {
    if let Ok(None) = state.store.db.blob_size(sha).await {
        let _ = tokio::fs::remove_file(state.store.blobs.path_of(sha)).await;
    }
}

async fn list_results(
    State(state): State<AppState>,
    caller: Caller,
    Path((ns, name)): Path<(String, String)>,
) -> Result<Json<wire::EvalResults>, ApiError> {
    let (repo, _) = visible_repo(&state, &caller, &ns, &name).await?;
    let list: Vec<_> = state
        .store
        .db
        .eval_results(&repo)
        .await?
        .iter()
        .map(result_json)
        .collect();
    Ok(Json(wire::EvalResults {
        repo: repo.repo_id.to_string(),
        results: list,
    }))
}

async fn result_and_repo(
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

async fn get_result(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<wire::EvalResult>, ApiError> {
    let (r, _) = result_and_repo(&state, &caller, &id).await?;
    Ok(Json(result_json(&r)))
}

/// The raw log, for those who may download the model's files (logs can hold model outputs).
async fn raw_log(
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
    let file = tokio::fs::File::open(state.store.blobs.path_of(&sha))
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
async fn sign_result(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
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
        &headers,
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
    Ok(Json(result_json(&r)))
}

// ---- evidence -----------------------------------------------------------------------------------

fn evidence_json(e: &weir_store::evals::Evidence, show_summary: bool) -> wire::Evidence {
    wire::Evidence {
        id: e.id,
        domain: e.domain.clone(),
        state: e.state.clone(),
        severity: e.severity.clone(),
        summary: show_summary.then(|| e.summary.clone()),
        filed_by: show_summary.then(|| e.filed_by.clone()),
        filed_at: iso8601(e.created_at),
        reviewer: e.reviewer.clone(),
        review_reason: e.review_reason.clone(),
        reviewed_at: e.reviewed_at.map(iso8601),
        triage_due: e.triage_due.map(iso8601),
        triage_overdue: e.state == "pending_triage" && e.triage_due.is_some_and(|d| now() > d),
        repo: None,
        tier: None,
        minimum_tier: None,
    }
}

/// Evidence is listed to everyone who can see the repo; its text only to operators and to the
/// account that filed it (it may describe a hazard).
async fn list_evidence(
    State(state): State<AppState>,
    caller: Caller,
    Path((ns, name)): Path<(String, String)>,
) -> Result<Json<wire::EvidenceList>, ApiError> {
    let (repo, _) = visible_repo(&state, &caller, &ns, &name).await?;
    let operator = caller.authorize(&Action::Administer).allow;
    let me = caller.name().map(|n| n.to_string());
    let list: Vec<_> = state
        .store
        .db
        .evidence_for_repo(&repo)
        .await?
        .iter()
        .map(|e| evidence_json(e, operator || me.as_deref() == Some(e.filed_by.as_str())))
        .collect();
    Ok(Json(wire::EvidenceList {
        repo: repo.repo_id.to_string(),
        evidence: list,
    }))
}

#[derive(Deserialize)]
pub struct EvidenceBody {
    domain: String,
    summary: String,
}

use crate::limits::EVIDENCE_PER_DAY;
/// Working days an operator has to triage evidence from an account that is not accredited.
pub const TRIAGE_WORKING_DAYS: u32 = 2;

/// `POST /api/v1/models/{ns}/{name}/evidence`: evidence that a hazard domain cannot be ruled
/// out. From an `accredited` account it makes the domain `ambiguous` at once (the tier follows
/// if the policy now asks for more); from anyone else it waits in `pending_triage` (operators
/// and the publisher are notified; triage is due in 2 working days) and changes nothing until
/// an operator confirms it, so one account cannot freeze a model. Rate-limited per account.
async fn file_evidence(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path((ns, name)): Path<(String, String)>,
    JsonBody(body): JsonBody<EvidenceBody>,
) -> Result<(StatusCode, Json<wire::Evidence>), ApiError> {
    let (repo, f) = visible_repo(&state, &caller, &ns, &name).await?;
    caller.require(&Action::Contribute(&f), &repo.repo_id.to_string())?;
    let user = caller.require_user()?.to_string();
    let domain = Domain::parse(&body.domain).ok_or_else(|| {
        ApiError::bad_request(
            ErrorCode::InvalidDomain,
            format!("unknown hazard domain {:?}", body.domain),
        )
        .next("use bio, chem, cyber, autonomy or manipulation")
    })?;
    let summary = body.summary.trim();
    if summary.is_empty() {
        return Err(ApiError::bad_request(
            ErrorCode::MissingSummary,
            "evidence needs a summary of what was observed",
        ));
    }
    if summary.len() > MAX_SUMMARY {
        return Err(ApiError::bad_request(
            ErrorCode::SummaryTooLong,
            format!(
                "the summary is {} bytes; at most {MAX_SUMMARY}",
                summary.len()
            ),
        )
        .next("summarize, and attach details through an incident report"));
    }
    let at = now();
    let filed = state
        .store
        .db
        .evidence_filed_since(&user, at - 86_400)
        .await?;
    if filed >= EVIDENCE_PER_DAY {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::RateLimited,
            format!("you filed {filed} pieces of evidence in the last 24 hours; at most {EVIDENCE_PER_DAY}"),
        )
        .next("wait, or report an incident with the details"));
    }
    let accredited = caller.level() >= weir_core::IdentityLevel::Accredited;
    let (ev_state, triage_due) = if accredited {
        ("open", None)
    } else {
        (
            "pending_triage",
            Some(weir_core::access::add_working_days(at, TRIAGE_WORKING_DAYS)),
        )
    };
    // Operators triage it; the publisher (the namespace's owners) hears of it at once.
    let mut notify: Vec<(String, String)> = Vec::new();
    let message = format!(
        "{} filed on {} ({}): {}",
        if accredited {
            "evidence"
        } else {
            "evidence awaiting triage"
        },
        repo.repo_id,
        domain.as_str(),
        if accredited {
            "the domain is ambiguous until reviewed".to_string()
        } else {
            format!(
                "triage due {}; review with: weir evidence review ID confirm|dismiss --reason TEXT",
                triage_due.map(iso8601).unwrap_or_default()
            )
        }
    );
    for op in state.store.db.operators().await? {
        notify.push((op, message.clone()));
    }
    for owner in state
        .store
        .db
        .owners_of(repo.repo_id.namespace.as_str())
        .await?
    {
        if !notify.iter().any(|(a, _)| *a == owner) {
            notify.push((owner, message.clone()));
        }
    }
    let before = repo.tier;
    let e = gate::event(
        &caller,
        &headers,
        "evidence.filed",
        Some(&repo),
        "change",
        domain.as_str(),
        json!({"public": {"repo": repo.repo_id.to_string(), "domain": domain.as_str()}, "summary": summary}),
    );
    let ev = state
        .store
        .db
        .file_evidence_logged(
            &repo,
            domain.as_str(),
            summary,
            &user,
            ev_state,
            triage_due,
            &e,
            &notify,
        )
        .await?;
    reclassify(
        &state.store,
        &repo.repo_id,
        Some(&user),
        Lowering::Never,
        crate::now(),
    )
    .await?;
    let after = state
        .store
        .db
        .repo(&repo.repo_id)
        .await?
        .map(|r| r.tier)
        .unwrap_or(before);
    let mut v = evidence_json(&ev, true);
    v.repo = Some(repo.repo_id.to_string());
    v.tier = Some(wire::TierMove {
        before: before.as_str().to_string(),
        after: after.as_str().to_string(),
    });
    Ok((StatusCode::CREATED, Json(v)))
}

#[derive(Deserialize)]
pub struct ReviewBody {
    decision: String,
    severity: Option<String>,
    reason: Option<String>,
}

async fn review_evidence(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<i64>,
    JsonBody(body): JsonBody<ReviewBody>,
) -> Result<Json<wire::Evidence>, ApiError> {
    let not_found = || {
        ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::EvidenceNotFound,
            format!("no evidence #{id}"),
        )
    };
    let ev = state.store.db.evidence(id).await?.ok_or_else(not_found)?;
    let repo = state
        .store
        .db
        .repo_by_id(ev.repo_id)
        .await?
        .ok_or_else(not_found)?;
    let f = gate::facts(&repo);
    if !caller.authorize(&Action::ReadMetadata(&f)).allow {
        return Err(not_found());
    }
    let d = caller.authorize(&Action::ReviewEvidence {
        repo: &f,
        filed_by: &ev.filed_by,
    });
    if !d.allow {
        return Err(match d.reason {
            weir_authz::Reason::NotOperator => ApiError::new(
                StatusCode::FORBIDDEN,
                ErrorCode::NotOperator,
                "Only operators review hazard evidence; a publisher does not judge evidence about its own model.",
            )
            .next(format!("an operator reviews it with: weir evidence review {id} confirm|dismiss --reason TEXT (admin token)")),
            r => ApiError::denied(r, &repo.repo_id.to_string(), caller.anonymous()),
        });
    }
    let reason = body.reason.as_deref().map(str::trim).unwrap_or("");
    if reason.is_empty() || reason.len() > MAX_SUMMARY {
        return Err(ApiError::bad_request(
            ErrorCode::MissingReason,
            "a review needs a reason (at most 20000 bytes)",
        ));
    }
    let (state_str, severity) = match body.decision.as_str() {
        "confirm" => {
            let sev = match body.severity.as_deref() {
                None | Some("") | Some("ambiguous") => None,
                Some(s) => Some(HazardSeverity::parse(s).ok_or_else(|| {
                    ApiError::bad_request(
                        ErrorCode::InvalidSeverity,
                        format!("unknown severity {s:?}"),
                    )
                    .next("use high or critical (or leave it out to confirm as ambiguous)")
                })?),
            };
            ("confirmed", sev)
        }
        "dismiss" => ("dismissed", None),
        other => {
            return Err(ApiError::bad_request(
                ErrorCode::InvalidDecision,
                format!("unknown decision {other:?}"),
            )
            .next("use confirm or dismiss"));
        }
    };
    if ev.state != "open" && ev.state != "pending_triage" {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::AlreadyReviewed,
            format!("evidence #{id} is already {}", ev.state),
        ));
    }
    let sev_str = severity.map(|s| match s {
        HazardSeverity::High => "high",
        HazardSeverity::Critical => "critical",
    });
    let e = gate::event(
        &caller,
        &headers,
        "evidence.reviewed",
        Some(&repo),
        "change",
        state_str,
        json!({"public": {"repo": repo.repo_id.to_string(), "evidence": id, "domain": ev.domain, "decision": state_str, "severity": sev_str}, "reason": reason}),
    );
    let reviewer = caller.require_user()?.to_string();
    state
        .store
        .db
        .review_evidence_logged(id, state_str, sev_str, &reviewer, reason, &e)
        .await?;
    let c = reclassify(
        &state.store,
        &repo.repo_id,
        Some(&reviewer),
        Lowering::AfterReview,
        crate::now(),
    )
    .await?;
    let ev = state.store.db.evidence(id).await?.ok_or_else(not_found)?;
    let mut v = evidence_json(&ev, true);
    v.minimum_tier = c.map(|c| c.minimum_tier.as_str().to_string());
    Ok(Json(v))
}

// ---- model documentation ------------------------------------------------------------------------

#[derive(Deserialize)]
pub struct DocQuery {
    revision: Option<String>,
    format: Option<String>,
}

fn field(id: &str, name: &str, value: Value, source: &str) -> Value {
    let known = !value.is_null();
    json!({"id": id, "field": name, "value": value, "source": if known { source } else { "unknown" }})
}

fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

/// `GET /api/v1/models/{ns}/{name}/documentation?revision=&format=json|markdown`: the fields of
/// the EU GPAI Code of Practice Model Documentation Form that the registry knows, each with
/// where the value comes from (`registry`, `card`, or `unknown`).
async fn documentation(
    State(state): State<AppState>,
    caller: Caller,
    Path((ns, name)): Path<(String, String)>,
    Query(q): Query<DocQuery>,
) -> Result<Response, ApiError> {
    let (repo, _) = visible_repo(&state, &caller, &ns, &name).await?;
    let markdown = match q.format.as_deref() {
        None | Some("json") => false,
        Some("markdown") | Some("md") => true,
        Some(other) => {
            return Err(ApiError::bad_request(
                ErrorCode::InvalidFormat,
                format!("unknown format {other:?}"),
            )
            .next("use json or markdown"));
        }
    };
    let releases = state.store.db.releases_of(&repo).await?;
    // The documented revision: the one asked for, else the latest release, else main.
    let commit = match (&q.revision, releases.first()) {
        (Some(r), _) => resolve_revision(&state, &repo, r).await?,
        (None, Some(rel)) => rel.commit.clone(),
        (None, None) => resolve_revision(&state, &repo, "main").await?,
    };
    let (c, card, policy) = classify_at(&state.store, &repo, &commit).await?;
    let release = releases.iter().find(|r| r.commit == commit);
    let base_url = &state.config.public_url;
    let mut deps = Vec::new();
    for b in &card.base_models {
        let mut d = json!({"model": b, "in_registry": false});
        // A base the caller cannot see is documented exactly like one not in the registry.
        if let Ok(id) = RepoId::parse(b)
            && let Some(base) = state.store.db.repo(&id).await?
            && caller
                .authorize(&Action::ReadMetadata(&crate::gate::facts(&base)))
                .allow
        {
            d["in_registry"] = json!(true);
            d["tier"] = json!(base.tier.as_str());
            if let Some(r) = state.store.db.releases_of(&base).await?.first() {
                d["release"] = json!({
                    "commit": r.commit.as_str(),
                    "bundle_sha256": sha256_hex(&r.bundle),
                    "bundle_url": format!("{base_url}/api/v1/models/{id}/releases/{}/model.sig", r.commit),
                });
            }
        }
        deps.push(d);
    }
    let data = |k: &str| card.data.get(k).cloned().unwrap_or(Value::Null);
    let stored = state.store.db.classification(&repo).await?;
    let owner = state
        .store
        .db
        .account(repo.repo_id.namespace.as_str())
        .await?;
    let fields = vec![
        field("1.1", "Provider", json!(owner.map(|a| a.name.to_string())), "registry"),
        field("1.2", "Model name", json!(repo.repo_id.to_string()), "registry"),
        field(
            "1.2",
            "Public versions",
            json!(releases.iter().map(|r| json!({"commit": r.commit.as_str(), "released_at": iso8601(r.created_at)})).collect::<Vec<_>>()),
            "registry",
        ),
        field(
            "1.3",
            "Model authenticity (secure hash)",
            match release {
                Some(r) => json!({
                    "algorithm": "sha256",
                    "revision": commit.as_str(),
                    "signed_manifest_sha256": sha256_hex(&r.bundle),
                    "bundle_url": format!("{base_url}/api/v1/models/{}/releases/{commit}/model.sig", repo.repo_id),
                    "transparency_log_proof_url": format!("{base_url}/api/v1/models/{}/releases/{commit}/model.sig.tlog-proof", repo.repo_id),
                }),
                None => Value::Null,
            },
            "registry",
        ),
        field("1.4", "Release date", json!(release.map(|r| iso8601(r.created_at))), "registry"),
        field("1.5", "Union market release date", Value::Null, "unknown"),
        field("1.6", "Model dependencies", if card.base_models.is_empty() { json!("N/A") } else { json!(deps) }, "card"),
        field("2.1", "Architecture", data("architecture"), "card"),
        field("2.3", "Modalities (pipeline tag)", data("pipeline_tag"), "card"),
        field(
            "2.x",
            "Total parameters",
            json!(card.parameters.map(|p| format!("{p:.1e}"))),
            "card",
        ),
        field("3.x", "Licence", json!(card.license), "card"),
        field(
            "3.x",
            "Distribution channels",
            json!(format!("weir registry {base_url}/{}, tier {} ({})", repo.repo_id, repo.tier.as_str(), repo.tier.name())),
            "registry",
        ),
        field("4.x", "Acceptable use policy (access terms)", if repo.gating.terms.trim().is_empty() { Value::Null } else { json!(repo.gating.terms) }, "registry"),
        field("5.x", "Training data", data("datasets"), "card"),
        field(
            "6.x",
            "Training compute (FLOP)",
            json!(card.training_compute_flop.map(|x| format!("{x:.2e}"))),
            "card",
        ),
        field("6.x", "Training time", data("training_time"), "card"),
        field("6.x", "Energy consumption", data("energy_kwh"), "card"),
        field(
            "7.x",
            "Systemic risk",
            json!({
                "presumed": c.presumption,
                "rule": "EU AI Act art. 51(2) (policy: compute_presumption)",
                "notification": notification(stored.as_ref().and_then(|s| s.presumption_since).filter(|_| c.presumption), stored.as_ref().and_then(|s| s.notified.as_ref()), &policy.policy, now()),
                "minimum_tier": c.minimum_tier.as_str(),
                "deciding_rule": c.deciding_rule,
                "counted_evaluations": c.counted_results,
                "policy_version": policy.policy.version,
            }),
            "registry",
        ),
        field("-", "Responsible contact", json!(card.contact), "card"),
    ];
    let doc = json!({
        "form": "EU GPAI Code of Practice, Transparency chapter: Model Documentation Form (fields the registry knows)",
        "repo": repo.repo_id.to_string(),
        "revision": commit.as_str(),
        "generated_at": iso8601(now()),
        "fields": fields,
    });
    if !markdown {
        return Ok(Json(doc).into_response());
    }
    let mut md = format!(
        "# Model documentation: {}\n\nRevision `{}`. Generated {} by the weir registry from what it knows; \
         fields marked *unknown* are for the provider to complete.\n\n| # | Field | Value | Source |\n|---|---|---|---|\n",
        repo.repo_id,
        commit.as_str(),
        iso8601(now())
    );
    for f in doc["fields"].as_array().into_iter().flatten() {
        let value = match &f["value"] {
            Value::Null => "*unknown*".to_string(),
            Value::String(s) => s.clone(),
            other => format!("`{other}`"),
        };
        md.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            f["id"].as_str().unwrap_or(""),
            f["field"].as_str().unwrap_or(""),
            md_cell(&value),
            f["source"].as_str().unwrap_or("")
        ));
    }
    Ok((
        [(
            axum::http::header::CONTENT_TYPE,
            "text/markdown; charset=utf-8",
        )],
        md,
    )
        .into_response())
}

/// A value inside a Markdown table cell: no pipes or newlines, no HTML (rendered inertly).
fn md_cell(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace(['\n', '\r'], " ")
}
