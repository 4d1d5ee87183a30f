//! A repo's gating settings: minimum level, automatic approval, blocked countries, required fields, terms.

use crate::auth::Caller;
use crate::extract::Json as JsonBody;
use crate::extract::RequestMeta;
use crate::lookup::Visible;
use crate::{ApiError, AppState, now};
use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use weir_registry::access::GatingChange;
use weir_wire::access as wire;

#[derive(Deserialize)]
pub struct GatingBody {
    min_level: Option<String>,
    auto_approve_level: Option<String>,
    blocked_countries: Option<Vec<String>>,
    required_fields: Option<Vec<String>>,
    terms: Option<String>,
    research_level: Option<String>,
}

pub(super) async fn set_gating(
    State(state): State<AppState>,
    caller: Caller,
    meta: RequestMeta,
    Visible { repo, .. }: Visible,
    JsonBody(body): JsonBody<GatingBody>,
) -> Result<Json<wire::Gating>, ApiError> {
    let g = weir_registry::access::set_gating(
        &state.store,
        &repo,
        &caller.subject,
        GatingChange {
            min_level: body.min_level,
            auto_approve_level: body.auto_approve_level,
            blocked_countries: body.blocked_countries,
            required_fields: body.required_fields,
            terms: body.terms,
            research_level: body.research_level,
        },
        &meta.context(&caller),
        now(),
    )
    .await?;
    Ok(Json(wire::Gating {
        repo: Some(repo.repo_id.to_string()),
        min_level: Some(g.min_level.as_str().to_string()),
        auto_approve_level: g.auto_approve_level.map(|l| l.as_str().to_string()),
        blocked_countries: Some(g.blocked_countries),
        required_fields: Some(g.required_fields),
        terms: Some(g.terms),
        research_level: Some(g.research_level.as_str().to_string()),
    }))
}
