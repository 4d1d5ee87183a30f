//! `PUT /api/v1/repos/{ns}/{name}/tier`: never below the policy's minimum; lowering needs an operator and a reason.

use crate::auth::Caller;
use crate::extract::RequestMeta;
use crate::extract::{Json as JsonBody, Path};
use crate::gate::{self};
use crate::lookup::visible_repo;
use crate::{ApiError, AppState};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::json;
use weir_authz::Action;
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
    Path((ns, name)): Path<(String, String)>,
    JsonBody(body): JsonBody<TierBody>,
) -> Result<Json<wire::TierChange>, ApiError> {
    let (repo, f) = visible_repo(&state, &caller, &ns, &name).await?;
    let to = Tier::parse(&body.tier).ok_or_else(|| {
        ApiError::bad_request(
            ErrorCode::InvalidTier,
            format!("unknown tier {:?}", body.tier),
        )
        .next("use T0, T1, T2, T3 or T4")
    })?;
    let reason = body
        .reason
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty());
    let d = caller.authorize(&Action::SetTier {
        repo: &f,
        to,
        has_reason: reason.is_some(),
    });
    if !d.allow {
        let id = repo.repo_id.to_string();
        return Err(match d.reason {
            weir_authz::Reason::TierLowering => ApiError::new(
                StatusCode::FORBIDDEN,
                ErrorCode::TierLowering,
                format!(
                    "Lowering {id} from {} to {} needs an operator and a recorded reason.",
                    repo.tier.as_str(),
                    to.as_str()
                ),
            )
            .next(
                "an operator runs: weir tier set NS/NAME TIER --reason TEXT (with an admin token)",
            ),
            r => ApiError::denied(r, &id, caller.anonymous()),
        });
    }
    // An operator lowering with a reason corrects the record: the minimum counts what the card
    // declares now (a misdeclared compute, a base model named by mistake), and the card's
    // earlier declarations are forgotten once the tier is set.
    let correction = to < repo.tier && caller.authorize(&Action::Administer).allow;
    // The policy's minimum for the repo's main revision: no tier below it, whoever asks.
    if let Some(head) = state
        .store
        .db
        .resolve(
            &repo,
            &weir_core::Revision::parse("main").map_err(|_| ApiError::internal())?,
        )
        .await?
    {
        let c = if correction {
            weir_registry::classification::minimum_for_current_card(&state.store, &repo, &head)
                .await?
        } else {
            weir_registry::classification::minimum_for(&state.store, &repo, &head).await?
        };
        if to < c.minimum_tier {
            let mut at = repo.clone();
            at.tier = to;
            return Err(weir_registry::classification::below_minimum(&at, &head, "set", &c).into());
        }
    }
    let e = gate::event(
        &caller,
        &meta,
        "tier.set",
        Some(&repo),
        "change",
        to.as_str(),
        json!({"from": repo.tier.as_str(), "to": to.as_str(), "reason": reason, "declarations_reset": correction}),
    );
    state.store.db.set_tier_logged(&repo, to, &e).await?;
    if correction {
        state.store.db.reset_declarations(&repo).await?;
    }
    Ok(Json(wire::TierChange {
        repo: repo.repo_id.to_string(),
        tier: to.as_str().to_string(),
        previous: repo.tier.as_str().to_string(),
    }))
}
