//! Repo lookups every route shares: find a repo the caller may see (a hidden one answers exactly
//! like a missing one), resolve a revision in it, find a repo the caller may write to.

use weir_authz::{Action, RepoFacts};
use weir_core::{CommitId, RepoId, Revision};
use weir_store::Repo;

use crate::auth::Caller;
use crate::{ApiError, AppState};

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
