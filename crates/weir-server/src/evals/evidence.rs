//! Evidence that a hazard domain cannot be ruled out, and its review by operators.

use crate::auth::Caller;
use crate::extract::RequestMeta;
use crate::extract::{Json as JsonBody, Path};
use crate::lookup::Visible;
use crate::{ApiError, AppState, iso8601, now};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use weir_authz::Action;
use weir_registry::evidence;
use weir_wire::evals as wire;

pub(super) fn evidence_json(e: &weir_store::evals::Evidence, show_summary: bool) -> wire::Evidence {
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
pub(super) async fn list_evidence(
    State(state): State<AppState>,
    caller: Caller,
    Visible { repo, facts: _ }: Visible,
) -> Result<Json<wire::EvidenceList>, ApiError> {
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

/// `POST /api/v1/models/{ns}/{name}/evidence`: evidence that a hazard domain cannot be ruled
/// out (see [`weir_registry::evidence`]). Rate-limited per account.
pub(super) async fn file_evidence(
    State(state): State<AppState>,
    caller: Caller,
    meta: RequestMeta,
    Visible { repo, .. }: Visible,
    JsonBody(body): JsonBody<EvidenceBody>,
) -> Result<(StatusCode, Json<wire::Evidence>), ApiError> {
    let filed = evidence::file(
        &state.store,
        &repo,
        &caller.subject,
        &body.domain,
        &body.summary,
        &meta.context(&caller),
        now(),
    )
    .await?;
    let mut v = evidence_json(&filed.evidence, true);
    v.repo = Some(repo.repo_id.to_string());
    v.tier = Some(wire::TierMove {
        before: filed.before.as_str().to_string(),
        after: filed.after.as_str().to_string(),
    });
    Ok((StatusCode::CREATED, Json(v)))
}

#[derive(Deserialize)]
pub struct ReviewBody {
    decision: String,
    severity: Option<String>,
    reason: Option<String>,
}

pub(super) async fn review_evidence(
    State(state): State<AppState>,
    caller: Caller,
    meta: RequestMeta,
    Path(id): Path<i64>,
    JsonBody(body): JsonBody<ReviewBody>,
) -> Result<Json<wire::Evidence>, ApiError> {
    let r = evidence::review(
        &state.store,
        &caller.subject,
        id,
        evidence::ReviewInput {
            decision: body.decision,
            severity: body.severity,
            reason: body.reason.unwrap_or_default(),
        },
        &meta.context(&caller),
        now(),
    )
    .await?;
    let mut v = evidence_json(&r.evidence, true);
    v.minimum_tier = r.minimum_tier.map(|t| t.as_str().to_string());
    Ok(Json(v))
}
