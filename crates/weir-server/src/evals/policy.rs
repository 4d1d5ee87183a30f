//! The policy in force (`GET /api/v1/policy`, with its signed note), suites and accredited evaluators (read-only here; operators change them with `weir admin`).

use crate::{ApiError, AppState, iso8601};
use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};
use weir_registry::policy::{policy_in_force, policy_note_text};
use weir_wire::evals as wire;

pub(super) async fn get_policy(
    State(state): State<AppState>,
) -> Result<Json<wire::PolicyInForce>, ApiError> {
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

pub(super) async fn list_suites(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!({"suites": state.store.db.suites().await?})))
}

pub(super) async fn list_evaluators(
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
