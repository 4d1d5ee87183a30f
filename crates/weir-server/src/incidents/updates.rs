//! `POST /api/v1/incidents/{id}/updates`: intermediate and final reports.

use crate::auth::Caller;
use crate::extract::RequestMeta;
use crate::extract::{Json as JsonBody, Path};
use crate::{ApiError, AppState, gate, now};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::json;
use weir_core::incident::Role;
use weir_store::incidents::LogLine;
use weir_wire::ErrorCode;
use weir_wire::incidents as wire;

use super::*;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateBody {
    pub(crate) note: String,
    #[serde(default)]
    pub(crate) r#final: bool,
}

/// An intermediate report (every 4 weeks until resolved) or, with `final`, the final report
/// (within 60 days of resolution).
pub(crate) async fn add_update(
    State(state): State<AppState>,
    caller: Caller,
    meta: RequestMeta,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<UpdateBody>,
) -> Result<Json<wire::Incident>, ApiError> {
    let (i, repo, role) = load(&state, &caller, &meta, &id).await?;
    // The reporter may add notes (kept in the history; they are not regulatory reports and move
    // no clock); operators and the publisher file the reports.
    let reporter_note = match role {
        Some(Role::Reviewer | Role::Publisher) => false,
        Some(Role::Reporter) if !body.r#final => true,
        _ => {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                ErrorCode::NotReviewer,
                "Only operators and the publisher file incident reports; the reporter may add notes.",
            ));
        }
    };
    let note = body.note.trim();
    if note.is_empty() {
        return Err(bad(ErrorCode::MissingNote, "an update needs its text"));
    }
    check_text("note", note, MAX_FIELD)?;
    let at = now();
    let mut next = i.clone();
    if reporter_note {
        // no clock moves
    } else if body.r#final {
        if i.resolved_at.is_none() {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                ErrorCode::NotResolved,
                "the final report follows the resolution (mitigated)",
            ));
        }
        next.final_report_at = Some(at);
    } else {
        next.last_update_at = Some(at);
    }
    next.updated_at = at;
    let kind = if reporter_note {
        "reporter_note"
    } else if body.r#final {
        "final_report"
    } else {
        "update"
    };
    let mut e = gate::event(
        &caller,
        &meta,
        &format!("incident.{kind}"),
        Some(&repo),
        "change",
        kind,
        json!({"public": {"id": i.osv_id, "repo": repo.repo_id.to_string(), "report": kind}, "note": note}),
    );
    e.subject = Some(i.osv_id.clone());
    let actor = match (role, caller.name()) {
        (_, Some(n)) => n.to_string(),
        (Some(Role::Reporter), None) => "reporter (follow-up token)".to_string(),
        _ => String::new(),
    };
    state
        .store
        .db
        .update_incident_logged(
            &next,
            i.state,
            &LogLine {
                kind: kind.into(),
                from_state: None,
                to_state: None,
                actor: actor.clone(),
                note: note.into(),
                at,
            },
            &[e],
            &[],
        )
        .await?;
    weir_registry::standing::update_standing(
        &state.store,
        repo.repo_id.namespace.as_str(),
        Some(&actor),
        crate::now(),
    )
    .await?;
    let i = state
        .store
        .db
        .incident_by_osv(&id)
        .await?
        .ok_or_else(ApiError::internal)?;
    Ok(Json(incident_json(&i, &repo, role, at)))
}
