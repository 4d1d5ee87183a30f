//! The Hub's owner endpoints (`huggingface_hub`'s list/accept/reject/cancel access requests and `grant_access`), on the same review as the native routes.

use crate::auth::Caller;
use crate::extract::RequestMeta;
use crate::extract::{Json as JsonBody, Path};
use crate::lookup::Visible;
use crate::{ApiError, AppState, iso8601, now};
use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value, json};
use weir_authz::Action;
use weir_core::GrantState;
use weir_core::access::ReviewAction;
use weir_wire::ErrorCode;
use weir_wire::access as wire;

use super::*;
use weir_registry::access::Decision;

pub(super) async fn hf_list(
    State(state): State<AppState>,
    caller: Caller,
    Visible { repo, facts: f }: Visible,
    Path((_, _, status)): Path<(String, String, String)>,
) -> Result<Json<Value>, ApiError> {
    require(&caller, &Action::Review(&f), &repo)?;
    let at = now();
    let want = match status.as_str() {
        "pending" => GrantState::Pending,
        "accepted" => GrantState::Approved,
        "rejected" => GrantState::Rejected,
        other => {
            return Err(ApiError::bad_request(
                ErrorCode::InvalidStatus,
                format!("unknown status {other:?}"),
            )
            .next("use pending, accepted or rejected"));
        }
    };
    let mut out = Vec::new();
    for r in state.store.db.requests_for_repo(&repo, None).await? {
        if GrantState::of(Some(r.state), r.expires_at, at) != want {
            continue;
        }
        let account = state.store.db.account(&r.account).await?;
        out.push(json!({
            "user": {"user": r.account, "fullname": account.as_ref().and_then(|a| a.fullname.clone()).unwrap_or_else(|| r.account.clone()),
                     "email": account.and_then(|a| a.email), "type": "user"},
            "requestId": r.account,
            "status": status,
            "timestamp": iso8601(r.requested_at),
            "fields": r.fields,
        }));
    }
    Ok(Json(Value::Array(out)))
}

#[derive(Deserialize)]
pub struct HfHandle {
    user: Option<String>,
    #[serde(rename = "requestId")]
    request_id: Option<String>,
    status: String,
    #[serde(rename = "rejectionReason")]
    rejection_reason: Option<String>,
}

pub(super) async fn hf_handle(
    State(state): State<AppState>,
    caller: Caller,
    meta: RequestMeta,
    Visible { repo, facts: _ }: Visible,
    JsonBody(body): JsonBody<HfHandle>,
) -> Result<Json<wire::AccessRequest>, ApiError> {
    let user = body
        .user
        .or(body.request_id)
        .ok_or_else(|| ApiError::bad_request(ErrorCode::MissingField, "pass 'user'"))?;
    let action = review_action(&body.status)?;
    let reason = body.rejection_reason.or_else(|| match action {
        ReviewAction::Approve => None,
        _ => Some(format!("set to {} by the publisher", body.status)),
    });
    Ok(Json(
        apply_review(
            &state,
            &caller,
            &meta,
            &repo,
            &user,
            Decision {
                action,
                reason,
                expires_days: None,
            },
        )
        .await?,
    ))
}

#[derive(Deserialize)]
pub struct HfGrant {
    user: String,
}

pub(super) async fn hf_grant(
    State(state): State<AppState>,
    caller: Caller,
    meta: RequestMeta,
    Visible { repo, facts: _ }: Visible,
    JsonBody(body): JsonBody<HfGrant>,
) -> Result<Json<wire::AccessRequest>, ApiError> {
    Ok(Json(
        apply_review(
            &state,
            &caller,
            &meta,
            &repo,
            &body.user,
            Decision {
                action: ReviewAction::Approve,
                reason: None,
                expires_days: None,
            },
        )
        .await?,
    ))
}
