//! The download check and a repo's terms (T1: accepting them is the access).

use crate::auth::Caller;
use crate::extract::Query;
use crate::extract::RequestMeta;
use crate::gate::{self};
use crate::lookup::Visible;
use crate::lookup::{resolve_revision, visible_repo};
use crate::{ApiError, AppState, now};
use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use weir_core::{RepoId, Tier};
use weir_store::Repo;
use weir_wire::ErrorCode;
use weir_wire::access as wire;

#[derive(Deserialize)]
pub struct CheckQuery {
    repo: String,
    revision: Option<String>,
}

/// `GET /api/v1/access/check?repo=&revision=`: allow or deny, with the reason and the next step,
/// before any download.
pub(super) async fn check(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<CheckQuery>,
) -> Result<Json<wire::AccessCheck>, ApiError> {
    let id = RepoId::parse(&q.repo)
        .map_err(|e| ApiError::bad_request(ErrorCode::InvalidRepoId, e.to_string()))?;
    let (repo, _) = visible_repo(&state, &caller, id.namespace.as_str(), id.name.as_str()).await?;
    let rev = q.revision.unwrap_or_else(|| "main".into());
    let commit = resolve_revision(&state, &repo, &rev).await?;
    let at = now();
    let g = gate::check_at(&state, &caller, &repo, &commit).await?;
    let request = match caller.name() {
        Some(n) => state.store.db.access_request(&repo, n.as_str()).await?,
        None => None,
    };
    let (message, next) = match &g.error {
        Some(e) => (e.message.clone(), e.next.clone()),
        None => ("download allowed".to_string(), None),
    };
    Ok(Json(wire::AccessCheck {
        repo: repo.repo_id.to_string(),
        revision: rev,
        commit: commit.to_string(),
        allow: g.decision.allow,
        reason: g.decision.reason.code().to_string(),
        message,
        next,
        tier: repo.tier.as_str().to_string(),
        tier_name: repo.tier.name().to_string(),
        your_level: caller.level().as_str().to_string(),
        required_level: (repo.tier == Tier::T2).then(|| repo.gating.min_level.as_str().to_string()),
        request: request.map(|r| gate::request_json(&repo.repo_id.to_string(), &r, at)),
    }))
}

pub(super) async fn terms(
    State(state): State<AppState>,
    caller: Caller,
    Visible { repo, facts: _ }: Visible,
) -> Result<Json<wire::Terms>, ApiError> {
    let accepted = match caller.name() {
        Some(n) => state.store.db.terms_accepted(&repo, n.as_str()).await?,
        None => false,
    };
    Ok(Json(wire::Terms {
        repo: repo.repo_id.to_string(),
        tier: repo.tier.as_str().to_string(),
        terms: terms_text(&repo),
        accepted,
        required_fields: repo.gating.required_fields.clone(),
    }))
}

pub(super) fn terms_text(repo: &Repo) -> String {
    if repo.gating.terms.is_empty() {
        format!(
            "By downloading {} you agree to its licence and acceptable-use terms as stated in its model card, and that your downloads are recorded.",
            repo.repo_id
        )
    } else {
        repo.gating.terms.clone()
    }
}

pub(super) async fn accept_terms(
    State(state): State<AppState>,
    caller: Caller,
    meta: RequestMeta,
    Visible { repo, .. }: Visible,
) -> Result<Json<wire::TermsAccepted>, ApiError> {
    weir_registry::access::accept_terms(
        &state.store,
        &repo,
        &caller.subject,
        &meta.context(&caller),
        now(),
    )
    .await?;
    Ok(Json(wire::TermsAccepted {
        repo: repo.repo_id.to_string(),
        accepted: true,
        tier: repo.tier.as_str().to_string(),
    }))
}
