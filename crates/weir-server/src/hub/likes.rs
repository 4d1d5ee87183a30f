//! Likes, as the Hub keeps them: `unlike` (and the like it undoes), `list_repo_likers`,
//! `list_liked_repos`. A like needs an account and a repo the account may see; a user's likes
//! list only the repos the caller may see (a private repo is absent, as if missing).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};
use weir_authz::Action;
use weir_wire::ErrorCode;

use crate::auth::Caller;
use crate::extract::Path;
use crate::lookup::Visible;
use crate::{ApiError, AppState, iso8601, now};

pub(super) async fn like(
    State(state): State<AppState>,
    caller: Caller,
    Visible { repo, .. }: Visible,
) -> Result<Json<Value>, ApiError> {
    let user = caller.require_user()?;
    state.store.db.like(&repo, user.as_str(), now()).await?;
    Ok(Json(json!({})))
}

pub(super) async fn unlike(
    State(state): State<AppState>,
    caller: Caller,
    Visible { repo, .. }: Visible,
) -> Result<Json<Value>, ApiError> {
    let user = caller.require_user()?;
    state.store.db.unlike(&repo, user.as_str()).await?;
    Ok(Json(json!({})))
}

pub(super) async fn likers(
    State(state): State<AppState>,
    _caller: Caller,
    Visible { repo, .. }: Visible,
) -> Result<Json<Value>, ApiError> {
    let likers = state.store.db.likers(&repo).await?;
    Ok(Json(Value::Array(
        likers
            .into_iter()
            .map(|(user, fullname)| {
                json!({"user": user, "fullname": fullname.unwrap_or_else(|| user.clone()), "avatarUrl": "", "type": "user"})
            })
            .collect(),
    )))
}

pub(super) async fn liked_by(
    State(state): State<AppState>,
    caller: Caller,
    Path(user): Path<String>,
) -> Result<Json<Value>, ApiError> {
    if state.store.db.account(&user).await?.is_none() {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::UserNotFound,
            format!("no user {user}"),
        ));
    }
    let mut out = Vec::new();
    for id in state.store.db.liked_by(&user).await? {
        let Some(repo) = state.store.db.repo_by_id(id).await? else {
            continue;
        };
        // Whoever may not see a repo does not learn that it is liked, or that it exists.
        if !caller
            .authorize(&Action::ReadMetadata(&crate::gate::facts(&repo)))
            .allow
        {
            continue;
        }
        out.push(json!({
            "createdAt": iso8601(repo.created_at),
            "repo": {"name": repo.repo_id.to_string(), "type": "model"},
        }));
    }
    Ok(Json(Value::Array(out)))
}
