//! The public accountability record of a publisher and the standing it leads to (DESIGN.md §5):
//! releases and the share made with complete accepted pre-release evaluations, incidents by
//! kind and severity, median time to triage, overdue reports, releases later re-classified
//! upwards. Standing follows by the policy's `[standing]` rules; the release gate applies it.

use weir_wire::ErrorCode;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::json;
use weir_authz::Action;

use crate::auth::Caller;
use crate::extract::RequestMeta;
use crate::extract::{Json as JsonBody, Path};
use crate::lookup::Visible;
use crate::lookup::resolve_revision;
use crate::{ApiError, AppState, gate, iso8601};

pub fn routes() -> crate::routes::Routes {
    crate::routes::Routes::new()
        .add(
            "/api/v1/publishers/{name}/record",
            &["GET"],
            get(get_record),
        )
        .add(
            "/api/v1/repos/{ns}/{name}/releases/{rev}/signoff",
            &["POST"],
            post(signoff),
        )
}

async fn get_record(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<weir_wire::incidents::PublisherRecord>, ApiError> {
    if state.store.db.account(&name).await?.is_none() {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::PublisherNotFound,
            format!("no publisher {name:?}"),
        ));
    }
    let rec =
        weir_registry::standing::update_standing(&state.store, &name, None, crate::now()).await?;
    let mut v = rec.view;
    v.standing_since = state
        .store
        .db
        .standing(&name)
        .await?
        .map(|s| iso8601(s.since));
    Ok(Json(v))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignoffBody {
    reason: String,
}

/// `POST /api/v1/repos/{ns}/{name}/releases/{rev}/signoff`: an operator signs off releasing a
/// revision (required while the publisher is on probation).
async fn signoff(
    State(state): State<AppState>,
    caller: Caller,
    meta: RequestMeta,
    Visible { repo, facts: f }: Visible,
    Path((_, _, rev)): Path<(String, String, String)>,
    JsonBody(body): JsonBody<SignoffBody>,
) -> Result<Json<weir_wire::incidents::Signoff>, ApiError> {
    caller.require(&Action::SignOffRelease(&f), &repo.repo_id.to_string())?;
    let reason = body.reason.trim();
    if reason.is_empty() || reason.len() > 4096 {
        return Err(ApiError::bad_request(
            ErrorCode::MissingReason,
            "a sign-off needs a reason (at most 4096 bytes)",
        ));
    }
    let commit = resolve_revision(&state, &repo, &rev).await?;
    let reviewer = caller.require_user()?.to_string();
    let e = gate::event(
        &caller,
        &meta,
        "release.signoff",
        Some(&repo),
        "change",
        "signed_off",
        json!({"public": {"repo": repo.repo_id.to_string(), "commit": commit.as_str()}, "reason": reason}),
    );
    state
        .store
        .db
        .put_signoff_logged(&repo, commit.as_str(), &reviewer, reason, &e)
        .await?;
    Ok(Json(weir_wire::incidents::Signoff {
        repo: repo.repo_id.to_string(),
        commit: commit.to_string(),
        signed_off_by: reviewer,
    }))
}
