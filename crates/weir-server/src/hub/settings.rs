//! `PUT /api/models/{ns}/{name}/settings` (`update_repo_settings`): visibility, and `gated`
//! mapped onto the tiers (`false` T0, `"auto"` T1, `"manual"` T2). Raising a tier is the
//! owner's right; lowering follows the tier rules (an operator with a reason, never below the
//! policy's minimum), and a refusal says which rule. Every change is an event.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value, json};
use weir_core::Tier;
use weir_wire::ErrorCode;

use crate::auth::Caller;
use crate::extract::{Json as JsonBody, RequestMeta};
use crate::lookup::Visible;
use crate::{ApiError, AppState, now};

#[derive(Deserialize)]
pub struct SettingsBody {
    #[serde(default)]
    gated: Option<Value>,
    #[serde(default)]
    visibility: Option<String>,
    #[serde(default)]
    private: Option<bool>,
}

pub(super) async fn update_settings(
    State(state): State<AppState>,
    caller: Caller,
    meta: RequestMeta,
    Visible { repo, .. }: Visible,
    JsonBody(body): JsonBody<SettingsBody>,
) -> Result<Json<Value>, ApiError> {
    let bad = |m: String| ApiError::bad_request(ErrorCode::InvalidField, m);
    let tier = match &body.gated {
        None => None,
        Some(Value::Bool(false)) => Some(Tier::T0),
        Some(Value::String(s)) if s == "auto" => Some(Tier::T1),
        Some(Value::String(s)) if s == "manual" => Some(Tier::T2),
        Some(other) => {
            return Err(bad(format!(
                "gated is false, \"auto\" or \"manual\", not {other}"
            ))
            .next("for T3 and T4 use PUT /api/v1/repos/NS/NAME/tier"));
        }
    };
    let private = match (body.visibility.as_deref(), body.private) {
        (Some("private"), None | Some(true)) => Some(true),
        (Some("public"), None | Some(false)) => Some(false),
        (Some(v @ ("private" | "public")), Some(p)) => {
            return Err(bad(format!(
                "visibility {v:?} and private {p} contradict each other"
            )));
        }
        (Some(other), _) => {
            return Err(bad(format!(
                "visibility is public or private, not {other:?}"
            )));
        }
        (None, p) => p,
    };
    let ctx = meta.context(&caller);
    let at = now();
    // Each change is asked for itself. The visibility's permission is asked before the tier
    // changes, and a refused tier change comes before the visibility changes: a refusal of
    // either leaves both as they were.
    if private.is_some() {
        weir_registry::access::require(
            &caller.subject,
            &weir_authz::Action::Review(&weir_registry::access::facts(&repo)),
            &repo,
        )?;
    }
    let mut tier_now = repo.tier;
    if let Some(to) = tier
        && to != repo.tier
    {
        weir_registry::access::set_tier(&state.store, &repo, &caller.subject, to, None, &ctx, at)
            .await?;
        tier_now = to;
    }
    let mut private_now = repo.private;
    if let Some(p) = private {
        weir_registry::access::set_visibility(&state.store, &repo, &caller.subject, p, &ctx, at)
            .await?;
        private_now = p;
    }
    Ok(Json(json!({
        "private": private_now,
        "gated": crate::views::gated(tier_now),
        "weir": {"tier": tier_now.as_str(), "tierName": tier_now.name()},
    })))
}
