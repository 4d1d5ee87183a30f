//! The Hugging Face Hub surface (`../shared/reference/hf-hub-protocol.md`): what
//! `huggingface_hub` 2.4 calls to read and write model repos. Only model repos exist here;
//! dataset, space and kernel routes answer `RepoNotFound`.

mod download;
mod upload;

use axum::Router;
use axum::routing::{get, post};
use weir_authz::{Action, RepoFacts};
use weir_core::{CommitId, RepoId, Revision};
use weir_store::Repo;

use crate::auth::Caller;
use crate::{ApiError, AppState};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/whoami-v2", get(download::whoami))
        .route("/api/agent-harnesses", get(download::agent_harnesses))
        .route("/api/models/{ns}/{name}", get(download::model_info))
        .route(
            "/api/models/{ns}/{name}/revision/{rev}",
            get(download::model_info_at),
        )
        .route(
            "/api/models/{ns}/{name}/tree/{rev}",
            get(download::tree_root),
        )
        .route(
            "/api/models/{ns}/{name}/tree/{rev}/{*path}",
            get(download::tree_path),
        )
        .route("/api/models/{ns}/{name}/refs", get(download::refs))
        .route(
            "/api/models/{ns}/{name}/auth-check",
            get(download::auth_check),
        )
        .route(
            "/{ns}/{name}/resolve/{rev}/{*path}",
            get(download::resolve).head(download::resolve),
        )
        .route("/api/repos/create", post(upload::create_repo))
        .route(
            "/api/models/{ns}/{name}/preupload/{rev}",
            post(upload::preupload),
        )
        .route("/api/models/{ns}/{name}/commit/{rev}", post(upload::commit))
        .route(
            "/api/models/{ns}/{name}/branch/{branch}",
            post(upload::create_branch),
        )
        .route(
            "/api/models/{ns}/{name}/tag/{rev}",
            post(upload::create_tag),
        )
}

/// Looks a repo up and checks the caller may at least see it. A repo the caller may not see
/// answers exactly like a missing one.
pub(crate) async fn visible_repo(
    state: &AppState,
    caller: &Caller,
    ns: &str,
    name: &str,
) -> Result<(Repo, RepoFacts), ApiError> {
    let display = format!("{ns}/{name}");
    let id = RepoId::new(ns, name)
        .map_err(|_| ApiError::repo_not_found(&display, caller.anonymous()))?;
    let repo = state
        .store
        .db
        .repo(&id)
        .await?
        .ok_or_else(|| ApiError::repo_not_found(&display, caller.anonymous()))?;
    let facts = crate::gate::facts(&repo);
    caller.require(&Action::ReadMetadata(&facts), &display)?;
    Ok((repo, facts))
}

/// Resolves a (percent-decoded) revision to a commit of the repo.
pub(crate) async fn resolve_revision(
    state: &AppState,
    repo: &Repo,
    rev: &str,
) -> Result<CommitId, ApiError> {
    let display = repo.repo_id.to_string();
    let parsed = Revision::parse(rev).map_err(|_| ApiError::revision_not_found(&display, rev))?;
    state
        .store
        .db
        .resolve(repo, &parsed)
        .await?
        .ok_or_else(|| ApiError::revision_not_found(&display, rev))
}

/// Looks up a repo the caller may write to.
pub(crate) async fn writable_repo(
    state: &AppState,
    caller: &Caller,
    ns: &str,
    name: &str,
) -> Result<Repo, ApiError> {
    let (repo, facts) = visible_repo(state, caller, ns, name).await?;
    caller.require(&Action::Write(&facts), &repo.repo_id.to_string())?;
    Ok(repo)
}
