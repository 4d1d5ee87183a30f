//! `GET /api/v1/models/{ns}/{name}/holds`: the public notice of a repo's delivery holds.

use crate::auth::Caller;
use crate::lookup::Visible;
use crate::{ApiError, AppState, iso8601};
use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use super::*;

/// `GET /api/v1/models/{ns}/{name}/holds`: the public notice of a repo's delivery holds, for
/// anyone who can see the repo (what a denied download points at): the held revisions, since
/// when, the fixing revision once there is one, and the incident id once it is disclosed.
pub(super) async fn holds(
    State(state): State<AppState>,
    _caller: Caller,
    Visible { repo, facts: _ }: Visible,
) -> Result<Json<Value>, ApiError> {
    let mut out = Vec::new();
    for i in state.store.db.incidents(Some(repo.id)).await? {
        let active = i.hold && matches!(i.state.as_str(), "confirmed" | "mitigated" | "disclosed");
        if !active {
            continue;
        }
        out.push(json!({
            "revisions": i.revisions,
            "since": i.confirmed_at.map(iso8601),
            "fixed_revision": i.fixed_revision,
            "incident": is_public(&i).then_some(&i.osv_id),
        }));
    }
    Ok(Json(
        json!({"repo": repo.repo_id.to_string(), "holds": out}),
    ))
}
