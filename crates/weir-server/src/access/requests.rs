//! Access requests and their review (T2): request, list, decide, with the bounds on their fields.

use crate::auth::Caller;
use crate::extract::RequestMeta;
use crate::extract::{Json as JsonBody, Path, Query};
use crate::gate::{self, facts};
use crate::lookup::visible_repo;
use crate::{ApiError, AppState, iso8601, now};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::json;
use std::collections::BTreeMap;
use weir_authz::Action;
use weir_core::access::{
    REVIEW_WORKING_DAYS, ReviewAction, TransitionError, add_working_days, can_request, review,
};
use weir_core::{RequestState, Tier};
use weir_store::{AccessRequest, Repo};
use weir_wire::ErrorCode;
use weir_wire::access as wire;

use super::*;

/// Fields of an access request (a repo's `required_fields`): how many, how long.
pub const MAX_REQUEST_FIELDS: usize = 32;

pub const MAX_FIELD_NAME: usize = 64;

pub const MAX_FIELD_VALUE: usize = 4096;

/// The longest grant a review may give.
pub const MAX_EXPIRES_DAYS: u32 = 5 * 366;

#[derive(Deserialize)]
pub struct RequestBody {
    purpose: String,
    #[serde(default)]
    fields: BTreeMap<String, String>,
}

pub(super) async fn request_access(
    State(state): State<AppState>,
    caller: Caller,
    meta: RequestMeta,
    Path((ns, name)): Path<(String, String)>,
    JsonBody(body): JsonBody<RequestBody>,
) -> Result<(StatusCode, Json<wire::RequestAnswer>), ApiError> {
    let (repo, f) = visible_repo(&state, &caller, &ns, &name).await?;
    require(&caller, &Action::RequestAccess(&f), &repo)?;
    let user = caller.require_user()?.to_string();
    let id = repo.repo_id.to_string();
    let purpose = body.purpose.trim();
    if purpose.is_empty() || purpose.len() > 4000 {
        return Err(ApiError::bad_request(
            ErrorCode::InvalidPurpose,
            "state the purpose of your access in 1 to 4000 characters",
        )
        .next(format!(
            "weir access request {id} --purpose \"what you will do with the weights\""
        )));
    }
    // Bounded: only the fields the repo asks for, each short.
    if body.fields.len() > MAX_REQUEST_FIELDS {
        return Err(ApiError::bad_request(
            ErrorCode::TooManyFields,
            format!("at most {MAX_REQUEST_FIELDS} fields"),
        ));
    }
    for (k, v) in &body.fields {
        if k.len() > MAX_FIELD_NAME || v.len() > MAX_FIELD_VALUE {
            return Err(ApiError::bad_request(
                ErrorCode::FieldTooLong,
                format!(
                    "field names are at most {MAX_FIELD_NAME} bytes and values {MAX_FIELD_VALUE}"
                ),
            ));
        }
        if !repo.gating.required_fields.contains(k) {
            return Err(ApiError::bad_request(
                ErrorCode::UnknownField,
                format!("{id} does not ask for the field {k:?}"),
            )
            .next(format!(
                "send only the fields it asks for: {}",
                repo.gating.required_fields.join(", ")
            )));
        }
    }
    for field in &repo.gating.required_fields {
        if body.fields.get(field).is_none_or(|v| v.trim().is_empty()) {
            return Err(ApiError::bad_request(
                ErrorCode::MissingField,
                format!("{id} requires the field {field:?}"),
            )
            .next(format!("add --field {field}=VALUE")));
        }
    }
    let at = now();
    if repo.tier == Tier::T1 {
        // T1 is automatic: accepting the terms is the request.
        accept(&state, &caller, &meta, &repo, &user).await?;
        return Ok((
            StatusCode::OK,
            Json(wire::RequestAnswer::Terms(wire::TermsApproval {
                repo: id,
                user,
                state: "approved".into(),
                terms_accepted: true,
            })),
        ));
    }
    let existing = state.store.db.access_request(&repo, &user).await?;
    can_request(
        existing.as_ref().map(|r| r.state),
        existing.as_ref().and_then(|r| r.expires_at),
        existing.as_ref().and_then(|r| r.decided_at),
        at,
    )
    .map_err(|e| transition_error(e, &id))?;
    let auto = repo
        .gating
        .auto_approve_level
        .is_some_and(|l| caller.level() >= l)
        && !caller
            .country()
            .is_some_and(|c| repo.gating.blocked_countries.iter().any(|b| b == c));
    let req = AccessRequest {
        account: user.clone(),
        state: if auto {
            RequestState::Approved
        } else {
            RequestState::Pending
        },
        purpose: purpose.to_string(),
        fields: body.fields,
        requested_at: at,
        due_at: add_working_days(at, REVIEW_WORKING_DAYS),
        decided_by: auto.then(|| "auto".to_string()),
        decided_at: auto.then_some(at),
        reason: auto.then(|| "automatic approval rule".to_string()),
        expires_at: None,
    };
    let mut e = gate::event(
        &caller,
        &meta,
        "access.request",
        Some(&repo),
        "change",
        req.state.as_str(),
        json!({"auto": auto}),
    );
    e.subject = Some(user);
    state
        .store
        .db
        .put_access_request_logged(&repo, &req, &e)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(wire::RequestAnswer::Request(gate::request_json(
            &id, &req, at,
        ))),
    ))
}

pub(super) fn transition_error(e: TransitionError, repo: &str) -> ApiError {
    match e {
        TransitionError::CoolDown { until } => ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::CoolDown,
            format!("Your last request for {repo} was rejected."),
        )
        .next(format!("you may request again from {}", iso8601(until))),
        TransitionError::AlreadyPending => ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::AlreadyPending,
            e.to_string(),
        )
        .next(format!("check with: weir access status {repo}")),
        TransitionError::AlreadyApproved => ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::AlreadyApproved,
            e.to_string(),
        ),
        TransitionError::Invalid { .. } => ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::InvalidTransition,
            e.to_string(),
        ),
    }
}

pub(super) async fn my_requests(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<BTreeMap<String, String>>,
) -> Result<Json<wire::AccessRequests>, ApiError> {
    let user = caller.require_user()?.to_string();
    let at = now();
    let filter = q.get("repo");
    let rows = state.store.db.requests_of_user(&user).await?;
    let requests = rows
        .iter()
        .filter(|(id, _)| filter.is_none_or(|f| *f == id.to_string()))
        .map(|(id, r)| gate::request_json(&id.to_string(), r, at))
        .collect();
    Ok(Json(wire::AccessRequests {
        repo: None,
        requests,
        user: Some(user),
    }))
}

pub(super) async fn list_requests(
    State(state): State<AppState>,
    caller: Caller,
    Path((ns, name)): Path<(String, String)>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Result<Json<wire::AccessRequests>, ApiError> {
    let (repo, f) = visible_repo(&state, &caller, &ns, &name).await?;
    require(&caller, &Action::Review(&f), &repo)?;
    let filter = match q.get("state").map(String::as_str) {
        None | Some("") | Some("all") => None,
        Some(s) => Some(RequestState::parse(s).ok_or_else(|| {
            ApiError::bad_request(ErrorCode::InvalidState, format!("unknown state {s:?}"))
                .next("use pending, approved, rejected, revoked or reset")
        })?),
    };
    let at = now();
    let id = repo.repo_id.to_string();
    let rows = state.store.db.requests_for_repo(&repo, filter).await?;
    let requests = rows
        .iter()
        .map(|r| gate::request_json(&id, r, at))
        .collect();
    Ok(Json(wire::AccessRequests {
        repo: Some(id),
        requests,
        user: None,
    }))
}

#[derive(Deserialize)]
pub struct ReviewBody {
    action: String,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    expires_days: Option<u32>,
}

/// A reviewer's decision as received.
pub(super) struct ReviewInput {
    pub(super) action: ReviewAction,
    pub(super) reason: Option<String>,
    pub(super) expires_days: Option<u32>,
}

/// Applies a reviewer's decision. Shared by the native endpoint and the Hub's owner endpoints.
pub(super) async fn apply_review(
    state: &AppState,
    caller: &Caller,
    meta: &RequestMeta,
    repo: &Repo,
    user: &str,
    input: ReviewInput,
) -> Result<wire::AccessRequest, ApiError> {
    let ReviewInput {
        action,
        reason,
        expires_days,
    } = input;
    let f = facts(repo);
    require(caller, &Action::Review(&f), repo)?;
    let id = repo.repo_id.to_string();
    if expires_days.is_some_and(|d| d > MAX_EXPIRES_DAYS) {
        return Err(ApiError::bad_request(
            ErrorCode::InvalidExpiry,
            format!("expires_days is at most {MAX_EXPIRES_DAYS} (five years)"),
        ));
    }
    let reason = reason
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty());
    if matches!(
        action,
        ReviewAction::Reject | ReviewAction::Revoke | ReviewAction::Reset
    ) && reason.is_none()
    {
        return Err(ApiError::bad_request(
            ErrorCode::ReasonRequired,
            "rejecting, revoking or resetting access needs a reason the user will see",
        )
        .next("pass --reason TEXT"));
    }
    if state.store.db.account(user).await?.is_none() {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::UserNotFound,
            format!("no user {user}"),
        ));
    }
    let at = now();
    let existing = state.store.db.access_request(repo, user).await?;
    let next_state =
        review(existing.as_ref().map(|r| r.state), action).map_err(|e| transition_error(e, &id))?;
    let mut req = existing.unwrap_or_else(|| AccessRequest {
        account: user.to_string(),
        state: RequestState::Pending,
        purpose: "granted by a reviewer".into(),
        fields: BTreeMap::new(),
        requested_at: at,
        due_at: add_working_days(at, REVIEW_WORKING_DAYS),
        decided_by: None,
        decided_at: None,
        reason: None,
        expires_at: None,
    });
    req.state = next_state;
    req.decided_by = caller.name().map(|n| n.to_string());
    req.decided_at = Some(at);
    req.reason = reason.clone();
    req.expires_at = match action {
        ReviewAction::Approve => expires_days.map(|d| at + i64::from(d) * 86_400),
        _ => req.expires_at,
    };
    let mut e = gate::event(
        caller,
        meta,
        "access.review",
        Some(repo),
        "change",
        next_state.as_str(),
        json!({"reason": reason, "expires_at": req.expires_at}),
    );
    e.subject = Some(user.to_string());
    state
        .store
        .db
        .put_access_request_logged(repo, &req, &e)
        .await?;
    Ok(gate::request_json(&id, &req, at))
}

pub(super) fn review_action(s: &str) -> Result<ReviewAction, ApiError> {
    match s {
        "approve" | "accepted" | "accept" | "grant" => Ok(ReviewAction::Approve),
        "reject" | "rejected" => Ok(ReviewAction::Reject),
        "revoke" | "revoked" => Ok(ReviewAction::Revoke),
        "reset" | "pending" => Ok(ReviewAction::Reset),
        other => Err(ApiError::bad_request(
            ErrorCode::InvalidAction,
            format!("unknown review action {other:?}"),
        )
        .next("use approve, reject, revoke or reset")),
    }
}

pub(super) async fn review_request(
    State(state): State<AppState>,
    caller: Caller,
    meta: RequestMeta,
    Path((ns, name, user)): Path<(String, String, String)>,
    JsonBody(body): JsonBody<ReviewBody>,
) -> Result<Json<wire::AccessRequest>, ApiError> {
    let (repo, _) = visible_repo(&state, &caller, &ns, &name).await?;
    let action = review_action(&body.action)?;
    Ok(Json(
        apply_review(
            &state,
            &caller,
            &meta,
            &repo,
            &user,
            ReviewInput {
                action,
                reason: body.reason,
                expires_days: body.expires_days,
            },
        )
        .await?,
    ))
}
