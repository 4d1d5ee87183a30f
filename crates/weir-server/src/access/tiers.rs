//! `PUT /api/v1/repos/{ns}/{name}/tier`: never below the policy's minimum; lowering needs an operator and a reason.

use crate::auth::Caller;
use crate::extract::Json as JsonBody;
use crate::extract::RequestMeta;
use crate::lookup::Visible;
use crate::{ApiError, AppState, now};
use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use weir_core::Tier;
use weir_wire::ErrorCode;
use weir_wire::access as wire;

#[derive(Deserialize)]
pub struct TierBody {
    tier: String,
    #[serde(default)]
    reason: Option<String>,
}

pub(super) async fn set_tier(
    State(state): State<AppState>,
    caller: Caller,
    meta: RequestMeta,
    Visible { repo, .. }: Visible,
    JsonBody(body): JsonBody<TierBody>,
) -> Result<Json<wire::TierChange>, ApiError> {
    let to = Tier::parse(&body.tier).ok_or_else(|| {
        ApiError::bad_request(
            ErrorCode::InvalidTier,
            format!("unknown tier {:?}", body.tier),
        )
        .next("use T0, T1, T2, T3 or T4")
    })?;
    let previous = weir_registry::access::set_tier(
        &state.store,
        &repo,
        &caller.subject,
        to,
        body.reason,
        &meta.context(&caller),
        now(),
    )
    .await?;
    Ok(Json(wire::TierChange {
        repo: repo.repo_id.to_string(),
        tier: to.as_str().to_string(),
        previous: previous.as_str().to_string(),
    }))
}
