//! The native JSON API under `/api/v1/`: what `weir pull` and `weir push` need beyond the Hub
//! surface, starting with a revision's manifest (every path with its size and SHA-256).

use crate::extract::Path;
use axum::Json;
use axum::extract::State;
use axum::routing::get;
use serde_json::{Value, json};

use crate::auth::Caller;
use crate::lookup::Visible;
use crate::lookup::resolve_revision;
use crate::{ApiError, AppState};

pub fn routes() -> crate::routes::Routes {
    crate::routes::Routes::new()
        .add("/api/v1/health", &["GET"], get(health))
        .add(
            "/api/v1/repos/{ns}/{name}/manifest/{rev}",
            &["GET"],
            get(manifest),
        )
}

async fn health() -> Json<Value> {
    Json(json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")}))
}

/// `GET /api/v1/repos/{ns}/{name}/manifest/{rev}`: the commit a revision resolves to and every
/// file with its size and SHA-256, so a client can verify every byte it downloads.
async fn manifest(
    State(state): State<AppState>,
    _caller: Caller,
    Visible { repo, facts: _ }: Visible,
    Path((_, _, rev)): Path<(String, String, String)>,
) -> Result<Json<Value>, ApiError> {
    let commit = resolve_revision(&state, &repo, &rev).await?;
    let files = state.store.db.files(&repo, &commit).await?;
    let files: Vec<Value> = files
        .iter()
        .map(|f| json!({"path": f.path.as_str(), "size": f.size, "sha256": f.sha256.as_str(), "lfs": f.lfs}))
        .collect();
    Ok(Json(
        json!({"repo": repo.repo_id.to_string(), "revision": rev, "commit": commit.as_str(), "files": files}),
    ))
}
