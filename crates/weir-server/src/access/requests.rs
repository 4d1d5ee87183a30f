//! Access requests and their review (T2): request, list, decide, with the bounds on their fields.

use crate::auth::Caller;
use crate::extract::RequestMeta;
use crate::extract::{Json as JsonBody, Path, Query};
use crate::gate;
use crate::lookup::Visible;
use crate::{ApiError, AppState, now};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use std::collections::BTreeMap;
use weir_authz::Action;
use weir_core::RequestState;
use weir_core::access::ReviewAction;
use weir_registry::access::{self, Decision, Filed, Filing};
use weir_store::Repo;
use weir_wire::ErrorCode;
use weir_wire::access as wire;

use super::*;

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
    Visible { repo, .. }: Visible,
    JsonBody(body): JsonBody<RequestBody>,
) -> Result<(StatusCode, Json<wire::RequestAnswer>), ApiError> {
    let at = now();
    let filed = access::request(
        &state.store,
        &repo,
        &caller.subject,
        Filing {
            purpose: body.purpose,
            fields: body.fields,
        },
        &meta.context(&caller),
        at,
    )
    .await?;
    let id = repo.repo_id.to_string();
    Ok(match filed {
        // T1 is automatic: accepting the terms is the request.
        Filed::TermsAccepted { user } => (
            StatusCode::OK,
            Json(wire::RequestAnswer::Terms(wire::TermsApproval {
                repo: id,
                user,
                state: "approved".into(),
                terms_accepted: true,
            })),
        ),
        Filed::Request(req) => (
            StatusCode::CREATED,
            Json(wire::RequestAnswer::Request(gate::request_json(
                &id, &req, at,
            ))),
        ),
    })
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
    Visible { repo, facts: f }: Visible,
    Query(q): Query<BTreeMap<String, String>>,
) -> Result<Json<wire::AccessRequests>, ApiError> {
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
    let mut requests = Vec::with_capacity(rows.len());
    for r in &rows {
        let mut v = gate::request_json(&id, r, at);
        // Reviewers see each requester as they are now, and whether an approval would serve.
        v.requester = Some(Box::new(
            access::requester(&state.store, &repo, &r.account, at).await?,
        ));
        requests.push(v);
    }
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

/// Applies a reviewer's decision. Shared by the native endpoint and the Hub's owner endpoints.
pub(super) async fn apply_review(
    state: &AppState,
    caller: &Caller,
    meta: &RequestMeta,
    repo: &Repo,
    user: &str,
    decision: Decision,
) -> Result<wire::AccessRequest, ApiError> {
    let at = now();
    let req = access::review(
        &state.store,
        repo,
        &caller.subject,
        user,
        decision,
        &meta.context(caller),
        at,
    )
    .await?;
    Ok(gate::request_json(&repo.repo_id.to_string(), &req, at))
}

pub(super) fn review_action(s: &str) -> Result<ReviewAction, ApiError> {
    match s {
        "approve" | "accepted" | "accept" | "grant" => Ok(ReviewAction::Approve),
        "reject" | "rejected" => Ok(ReviewAction::Reject),
        "revoke" | "revoked" => Ok(ReviewAction::Revoke),
        "reset" => Ok(ReviewAction::Reset),
        "pending" => Ok(ReviewAction::Return),
        other => Err(ApiError::bad_request(
            ErrorCode::InvalidAction,
            format!("unknown review action {other:?}"),
        )
        .next("use approve, reject, revoke, reset or pending")),
    }
}

pub(super) async fn review_request(
    State(state): State<AppState>,
    caller: Caller,
    meta: RequestMeta,
    Visible { repo, facts: _ }: Visible,
    Path((_, _, user)): Path<(String, String, String)>,
    JsonBody(body): JsonBody<ReviewBody>,
) -> Result<Json<wire::AccessRequest>, ApiError> {
    let action = review_action(&body.action)?;
    Ok(Json(
        apply_review(
            &state,
            &caller,
            &meta,
            &repo,
            &user,
            Decision {
                action,
                reason: body.reason,
                expires_days: body.expires_days,
            },
        )
        .await?,
    ))
}
