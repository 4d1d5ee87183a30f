//! A repo's gating settings: minimum level, automatic approval, blocked countries, required fields, terms.

use crate::auth::Caller;
use crate::extract::RequestMeta;
use crate::extract::{Json as JsonBody, Path};
use crate::gate::{self};
use crate::lookup::visible_repo;
use crate::{ApiError, AppState};
use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use serde_json::json;
use weir_authz::Action;
use weir_core::IdentityLevel;
use weir_wire::ErrorCode;
use weir_wire::access as wire;

use super::*;

/// A repo's own terms of use.
pub const MAX_TERMS: usize = 64 * 1024;

#[derive(Deserialize)]
pub struct GatingBody {
    min_level: Option<String>,
    auto_approve_level: Option<String>,
    blocked_countries: Option<Vec<String>>,
    required_fields: Option<Vec<String>>,
    terms: Option<String>,
}

pub(super) fn parse_level(s: &str) -> Result<IdentityLevel, ApiError> {
    IdentityLevel::parse(s).ok_or_else(|| {
        ApiError::bad_request(
            ErrorCode::InvalidLevel,
            format!("unknown identity level {s:?}"),
        )
        .next("use anonymous, account, affiliated, identified or accredited")
    })
}

pub(super) async fn set_gating(
    State(state): State<AppState>,
    caller: Caller,
    meta: RequestMeta,
    Path((ns, name)): Path<(String, String)>,
    JsonBody(body): JsonBody<GatingBody>,
) -> Result<Json<wire::Gating>, ApiError> {
    let (repo, f) = visible_repo(&state, &caller, &ns, &name).await?;
    require(&caller, &Action::Review(&f), &repo)?;
    let mut g = repo.gating.clone();
    if let Some(l) = body.min_level.as_deref() {
        g.min_level = parse_level(l)?;
    }
    if let Some(l) = body.auto_approve_level.as_deref() {
        g.auto_approve_level = if l.is_empty() || l == "none" {
            None
        } else {
            Some(parse_level(l)?)
        };
    }
    if let Some(c) = &body.blocked_countries
        && c.len() > 300
    {
        return Err(ApiError::bad_request(
            ErrorCode::InvalidCountry,
            "at most 300 blocked countries",
        ));
    }
    if let Some(c) = body.blocked_countries {
        g.blocked_countries = c
            .iter()
            .map(|c| {
                weir_core::identity::parse_country(c).ok_or_else(|| {
                    ApiError::bad_request(
                        ErrorCode::InvalidCountry,
                        format!("{c:?} is not an ISO 3166-1 alpha-2 code"),
                    )
                })
            })
            .collect::<Result<_, _>>()?;
    }
    if let Some(fields) = body.required_fields {
        if fields.len() > MAX_REQUEST_FIELDS
            || fields
                .iter()
                .any(|f| f.len() > MAX_FIELD_NAME || f.chars().any(char::is_control))
        {
            return Err(ApiError::bad_request(
                ErrorCode::InvalidRequiredFields,
                format!(
                    "at most {MAX_REQUEST_FIELDS} required fields, each at most {MAX_FIELD_NAME} bytes without control characters"
                ),
            ));
        }
        g.required_fields = fields
            .into_iter()
            .map(|f| f.trim().to_string())
            .filter(|f| !f.is_empty())
            .collect();
        g.required_fields.dedup();
    }
    if let Some(t) = body.terms {
        if t.len() > MAX_TERMS {
            return Err(ApiError::bad_request(
                ErrorCode::TermsTooLong,
                format!("the terms are {} bytes; at most {MAX_TERMS}", t.len()),
            )
            .next("link to the full licence from the model card"));
        }
        g.terms = t;
    }
    let e = gate::event(
        &caller,
        &meta,
        "gating.set",
        Some(&repo),
        "change",
        "updated",
        json!({"min_level": g.min_level.as_str()}),
    );
    state.store.db.set_gating_logged(&repo, &g, &e).await?;
    Ok(Json(wire::Gating {
        repo: Some(repo.repo_id.to_string()),
        min_level: Some(g.min_level.as_str().to_string()),
        auto_approve_level: g.auto_approve_level.map(|l| l.as_str().to_string()),
        blocked_countries: Some(g.blocked_countries.clone()),
        required_fields: Some(g.required_fields.clone()),
        terms: Some(g.terms.clone()),
    }))
}
