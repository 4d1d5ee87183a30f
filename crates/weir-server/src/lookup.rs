//! Repo lookups every route shares: find a repo the caller may see (a hidden one answers exactly
//! like a missing one), resolve a revision in it, find a repo the caller may write to; and the
//! extractors [`Visible`] and [`Writable`] that do it for a route's `{ns}/{name}`.

use weir_authz::{Action, RepoFacts};
use weir_core::{CommitId, RepoId, Revision};
use weir_store::Repo;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::auth::Caller;
use crate::extract::Path;
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

/// [`visible_repo`], or a 307 for a moved repo's former name (for handlers that read the repo's
/// name themselves).
pub(crate) async fn visible_or_moved(
    state: &AppState,
    caller: &Caller,
    uri: &axum::http::Uri,
    ns: &str,
    name: &str,
) -> Result<(Repo, RepoFacts), ApiError> {
    match visible_repo(state, caller, ns, name).await {
        Ok(found) => Ok(found),
        Err(e) => {
            let p = RepoParams {
                ns: ns.to_string(),
                name: name.to_string(),
            };
            Err(redirect_if_moved(state, caller, uri, &p, e).await)
        }
    }
}

/// For a former name of a moved repo the caller may see: a 307 to the same route under the
/// current name. Otherwise the lookup's own error (a hidden repo's former name is missing).
async fn redirect_if_moved(
    state: &AppState,
    caller: &Caller,
    uri: &axum::http::Uri,
    p: &RepoParams,
    not_found: ApiError,
) -> ApiError {
    let Ok(id) = RepoId::new(&p.ns, &p.name) else {
        return not_found;
    };
    let Ok(Some(target)) = state.store.db.redirect_target(&id).await else {
        return not_found;
    };
    let facts = weir_registry::access::facts(&target);
    if !caller.authorize(&Action::ReadMetadata(&facts)).allow {
        return not_found;
    }
    let path = uri.path();
    let old = format!("/{}/{}", p.ns, p.name);
    let Some(at) = path.find(&old).filter(|i| {
        matches!(
            path.as_bytes().get(i + old.len()),
            None | Some(b'/') | Some(b'.')
        )
    }) else {
        return not_found;
    };
    // Relative, as the Hub answers (its client follows relative redirects on HEAD too).
    let location = format!(
        "{}/{}{}{}",
        &path[..at],
        target.repo_id,
        &path[at + old.len()..],
        uri.query().map(|q| format!("?{q}")).unwrap_or_default()
    );
    ApiError::moved(&id.to_string(), &target.repo_id.to_string(), location)
}

/// The `{ns}/{name}` of a route (other path parameters are read by the handler).
#[derive(serde::Deserialize)]
struct RepoParams {
    ns: String,
    name: String,
}

/// Extractor: the repo the route's `{ns}/{name}` names, which the caller may see (a hidden repo
/// is refused exactly like a missing one, before any body is read), with its authorization
/// facts. Like crates.io's `CratePath`: handlers never look repos up themselves.
pub struct Visible {
    pub repo: Repo,
    pub facts: RepoFacts,
}

impl FromRequestParts<AppState> for Visible {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Visible, ApiError> {
        let caller = Caller::from_request_parts(parts, state).await?;
        let Path(p) = Path::<RepoParams>::from_request_parts(parts, state).await?;
        let (repo, facts) = match visible_repo(state, &caller, &p.ns, &p.name).await {
            Ok(found) => found,
            Err(e) => return Err(redirect_if_moved(state, &caller, &parts.uri, &p, e).await),
        };
        Ok(Visible { repo, facts })
    }
}

/// Extractor: the repo the route's `{ns}/{name}` names, which the caller may write to.
pub struct Writable(pub Repo);

impl FromRequestParts<AppState> for Writable {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Writable, ApiError> {
        let caller = Caller::from_request_parts(parts, state).await?;
        let Path(p) = Path::<RepoParams>::from_request_parts(parts, state).await?;
        // A hidden or missing repo fails at the lookup, a former name redirects, and only then
        // is write access asked.
        let (repo, facts) = match visible_repo(state, &caller, &p.ns, &p.name).await {
            Ok(found) => found,
            Err(e) => return Err(redirect_if_moved(state, &caller, &parts.uri, &p, e).await),
        };
        caller.require(&Action::Write(&facts), &repo.repo_id.to_string())?;
        Ok(Writable(repo))
    }
}
