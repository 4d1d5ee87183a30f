//! `GET /api/v1/incidents/{id}`: one incident, with its history for those handling it.

use crate::auth::Caller;
use crate::extract::Path;
use crate::extract::RequestMeta;
use crate::{ApiError, AppState, iso8601, now};
use axum::Json;
use axum::extract::State;
use weir_core::incident::Role;
use weir_wire::incidents as wire;

use super::*;

pub(crate) async fn show(
    State(state): State<AppState>,
    caller: Caller,
    meta: RequestMeta,
    Path(id): Path<String>,
) -> Result<Json<wire::Incident>, ApiError> {
    let (i, repo, r) = load(&state, &caller, &meta, &id).await?;
    let mut v = incident_json(&i, &repo, r, now());
    if r.is_some() {
        v.history = Some(
            state
                .store
                .db
                .incident_log(i.id)
                .await?
                .iter()
                .map(|l| wire::HistoryLine {
                    kind: l.kind.clone(),
                    from: l.from_state.clone(),
                    to: l.to_state.clone(),
                    by: actor_for(&i, r, &l.actor),
                    note: l.note.clone(),
                    at: iso8601(l.at),
                })
                .collect(),
        );
        v.attachments = Some(
            state
                .store
                .db
                .attachments(i.id)
                .await?
                .iter()
                .map(|a| wire::AttachmentEntry {
                    name: a.name.clone(),
                    sha256: a.sha256.clone(),
                    size: a.size,
                    added_by: actor_for(&i, r, &a.added_by),
                    at: iso8601(a.at),
                })
                .collect(),
        );
        v.your_role = Some(
            match r {
                Some(Role::Reviewer) => "reviewer",
                Some(Role::Publisher) => "publisher",
                Some(Role::Reporter) => "reporter",
                None => "public",
            }
            .to_string(),
        );
    }
    Ok(Json(v))
}
