//! The Hugging Face Hub surface (`../shared/reference/hf-hub-protocol.md`): what
//! `huggingface_hub` 2.4 calls to read and write model repos. Only model repos exist here;
//! dataset, space and kernel routes answer `RepoNotFound`.

mod download;
mod upload;

use axum::routing::{get, post};
use weir_authz::{Action, RepoFacts};
use weir_core::{CommitId, RepoId, Revision};
use weir_store::Repo;

use crate::auth::Caller;
use crate::{ApiError, AppState};

pub fn routes() -> crate::routes::Routes {
    crate::routes::Routes::new()
        .add("/api/whoami-v2", &["GET"], get(download::whoami))
        .add(
            "/api/agent-harnesses",
            &["GET"],
            get(download::agent_harnesses),
        )
        .add(
            "/api/models/{ns}/{name}",
            &["GET"],
            get(download::model_info),
        )
        .add(
            "/api/models/{ns}/{name}/revision/{rev}",
            &["GET"],
            get(download::model_info_at),
        )
        .add(
            "/api/models/{ns}/{name}/tree/{rev}",
            &["GET"],
            get(download::tree_root),
        )
        .add(
            "/api/models/{ns}/{name}/tree/{rev}/{*path}",
            &["GET"],
            get(download::tree_path),
        )
        .add(
            "/api/models/{ns}/{name}/refs",
            &["GET"],
            get(download::refs),
        )
        .add(
            "/api/models/{ns}/{name}/auth-check",
            &["GET"],
            get(download::auth_check),
        )
        .add(
            "/{ns}/{name}/resolve/{rev}/{*path}",
            &["GET", "HEAD"],
            get(download::resolve).head(download::resolve),
        )
        .add("/api/repos/create", &["POST"], post(upload::create_repo))
        .add(
            "/api/models/{ns}/{name}/preupload/{rev}",
            &["POST"],
            post(upload::preupload),
        )
        .add(
            "/api/models/{ns}/{name}/commit/{rev}",
            &["POST"],
            post(upload::commit),
        )
        .add(
            "/api/models/{ns}/{name}/branch/{branch}",
            &["POST"],
            post(upload::create_branch),
        )
        .add(
            "/api/models/{ns}/{name}/tag/{rev}",
            &["POST"],
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
