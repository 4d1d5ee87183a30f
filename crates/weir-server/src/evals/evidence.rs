//! Evidence that a hazard domain cannot be ruled out, and its review by operators.

use crate::auth::Caller;
use crate::extract::RequestMeta;
use crate::extract::{Json as JsonBody, Path};
use crate::limits::EVIDENCE_PER_DAY;
use crate::lookup::visible_repo;
use crate::{ApiError, AppState, gate, iso8601, now};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::json;
use weir_authz::Action;
use weir_core::eval::Domain;
use weir_core::policy::HazardSeverity;
use weir_registry::classification::Lowering;
use weir_registry::classification::reclassify;
use weir_wire::ErrorCode;
use weir_wire::evals as wire;

/// Longest evidence summary.
pub(super) const MAX_SUMMARY: usize = 20_000;

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

/// Working days an operator has to triage evidence from an account that is not accredited.
pub const TRIAGE_WORKING_DAYS: u32 = 2;

/// `POST /api/v1/models/{ns}/{name}/evidence`: evidence that a hazard domain cannot be ruled
/// out. From an `accredited` account it makes the domain `ambiguous` at once (the tier follows
/// if the policy now asks for more); from anyone else it waits in `pending_triage` (operators
/// and the publisher are notified; triage is due in 2 working days) and changes nothing until
/// an operator confirms it, so one account cannot freeze a model. Rate-limited per account.
pub(super) async fn file_evidence(
    State(state): State<AppState>,
    caller: Caller,
    meta: RequestMeta,
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
        &meta,
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

pub(super) async fn review_evidence(
    State(state): State<AppState>,
    caller: Caller,
    meta: RequestMeta,
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
        &meta,
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
