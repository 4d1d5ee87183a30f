//! `GET /api/v1/incidents`: the incidents the caller may see.

use crate::auth::Caller;
use crate::extract::Query;
use crate::extract::RequestMeta;
use crate::lookup::visible_repo;
use crate::{ApiError, AppState, gate, now};
use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use weir_authz::Action;
use weir_core::RepoId;
use weir_core::incident::{self, State as IState};
use weir_registry::incident_rows::times;
use weir_wire::ErrorCode;
use weir_wire::incidents as wire;

use super::*;

#[derive(Deserialize, Default)]
pub struct ListQuery {
    pub(crate) repo: Option<String>,
    pub(crate) overdue: Option<bool>,
    pub(crate) state: Option<String>,
}

/// Incidents the caller may see: all for operators, their namespaces' for publishers, their own
/// reports, and every disclosed record.
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    meta: RequestMeta,
    Query(q): Query<ListQuery>,
) -> Result<Json<wire::Incidents>, ApiError> {
    let at = now();
    let filter_repo = match q.repo.as_deref() {
        Some(r) => {
            let id = RepoId::parse(r).map_err(|e| bad(ErrorCode::InvalidRepoId, e.to_string()))?;
            let (repo, _) =
                visible_repo(&state, &caller, id.namespace.as_str(), id.name.as_str()).await?;
            Some(repo.id)
        }
        None => None,
    };
    if let Some(s) = q.state.as_deref()
        && IState::parse(s).is_none()
    {
        return Err(bad(ErrorCode::InvalidState, format!("unknown state {s:?}")));
    }
    let repos = state.store.db.list_repos().await?;
    let mut out = Vec::new();
    for i in state.store.db.incidents(filter_repo).await? {
        let Some(repo) = repos.iter().find(|r| r.id == i.repo_id) else {
            continue;
        };
        if !caller
            .authorize(&Action::ReadMetadata(&gate::facts(repo)))
            .allow
        {
            continue;
        }
        let r = role(&caller, &meta, repo, &i);
        if r.is_none() && !is_public(&i) {
            continue;
        }
        if q.state.as_deref().is_some_and(|s| s != i.state.as_str()) {
            continue;
        }
        if q.overdue == Some(true) && !incident::overdue(i.class, i.state, &times(&i), at) {
            continue;
        }
        out.push(incident_json(&i, repo, r, at));
    }
    Ok(Json(wire::Incidents { incidents: out }))
}
