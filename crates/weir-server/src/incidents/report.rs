//! `POST /api/v1/incidents`: a report, from anyone, bounded and rate-limited.

use crate::auth::Caller;
use crate::extract::Json as JsonBody;
use crate::extract::RequestMeta;
use crate::lookup::{resolve_revision, visible_repo};
use crate::{ApiError, AppState, now};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use weir_authz::Action;
use weir_core::RepoId;
use weir_core::eval::Domain;
use weir_core::incident::{self, Class, Kind, Role};
use weir_store::incidents::Incident;
use weir_wire::ErrorCode;
use weir_wire::incidents as wire;

use super::*;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ReportBody {
    pub(crate) repo: String,
    #[serde(default)]
    pub(crate) revisions: Vec<String>,
    pub(crate) kind: String,
    pub(crate) class: String,
    pub(crate) summary: String,
    #[serde(default)]
    pub(crate) details: Map<String, Value>,
    #[serde(default)]
    pub(crate) domain: Option<String>,
    #[serde(default)]
    pub(crate) aliases: Vec<String>,
    /// The reporter says it is exploited in the wild: recorded with the report; an operator
    /// decides (it shortens disclosure).
    #[serde(default)]
    pub(crate) in_the_wild: bool,
    /// The reporter agrees to show their identity to the publisher (operators always see it).
    #[serde(default)]
    pub(crate) share_identity: bool,
}

/// `POST /api/v1/incidents`: anyone, signed in or not. Anonymous reporters get a follow-up
/// token (shown once, stored hashed) to read their report, attach files and withdraw it.
/// The client address a request came from (absent when the router is driven without a
/// connection, as in tests that call it directly: counted as one address).
pub(super) fn client_key(addr: Option<&axum::Extension<crate::conn::ClientAddr>>) -> String {
    // IPv6 by its /64: one host rotating through its own range is one address.
    addr.map(|a| crate::conn::address_key(a.0.0.ip()).to_string())
        .unwrap_or_else(|| "local".into())
}

pub(super) fn rate_limited(what: &str, retry_after: i64) -> ApiError {
    ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::RateLimited,
        format!(
            "too many {what}; try again in {} minutes",
            ((retry_after + 59) / 60).max(1)
        ),
    )
    .with("retry_after_secs", json!(retry_after))
    .next("sign in with an account for higher limits, or wait")
}

pub(crate) async fn report(
    State(state): State<AppState>,
    caller: Caller,
    meta: RequestMeta,
    addr: Option<axum::Extension<crate::conn::ClientAddr>>,
    JsonBody(body): JsonBody<ReportBody>,
) -> Result<(StatusCode, Json<wire::Incident>), ApiError> {
    let id = RepoId::parse(&body.repo).map_err(|e| bad(ErrorCode::InvalidRepoId, e.to_string()))?;
    let (repo, f) = visible_repo(&state, &caller, id.namespace.as_str(), id.name.as_str()).await?;
    caller.require(&Action::ReportIncident(&f), &repo.repo_id.to_string())?;
    let kind = Kind::parse(&body.kind).ok_or_else(|| {
        bad(
            ErrorCode::InvalidKind,
            format!("unknown kind {:?}", body.kind),
        )
        .next("use incident, hazard or vulnerability")
    })?;
    let class = Class::parse(&body.class).ok_or_else(|| {
        bad(
            ErrorCode::InvalidClass,
            format!("unknown class {:?}", body.class),
        )
        .next(format!("use one of: {}", Class::names()))
    })?;
    let summary = body.summary.trim();
    if summary.is_empty() {
        return Err(bad(
            ErrorCode::MissingSummary,
            "a report needs a one-line summary",
        ));
    }
    check_text("summary", summary, MAX_SUMMARY)?;
    if summary.contains('\n') {
        return Err(bad(ErrorCode::InvalidText, "the summary is one line"));
    }
    for (k, v) in &body.details {
        if !DETAIL_FIELDS.contains(&k.as_str()) {
            return Err(bad(
                ErrorCode::UnknownField,
                format!("unknown details field {k:?}"),
            )
            .next(format!("use: {}", DETAIL_FIELDS.join(", "))));
        }
        let s = v.as_str().ok_or_else(|| {
            bad(
                ErrorCode::InvalidField,
                format!("details.{k} must be a string"),
            )
        })?;
        check_text(&format!("details.{k}"), s, MAX_FIELD)?;
        if k.ends_with("_date") {
            check_date(&format!("details.{k}"), s)?;
        }
    }
    let domain = match body.domain.as_deref() {
        None | Some("") => None,
        Some(d) => Some(
            Domain::parse(d)
                .ok_or_else(|| {
                    bad(
                        ErrorCode::InvalidDomain,
                        format!("unknown hazard domain {d:?}"),
                    )
                    .next("use bio, chem, cyber, autonomy or manipulation")
                })?
                .as_str()
                .to_string(),
        ),
    };
    if body.aliases.len() > MAX_ALIASES {
        return Err(bad(
            ErrorCode::TooManyAliases,
            format!("at most {MAX_ALIASES} aliases"),
        ));
    }
    for a in &body.aliases {
        if !incident::valid_alias(a) {
            return Err(bad(
                ErrorCode::InvalidAlias,
                format!("{a:?} is not an AVID, AIID or CVE id"),
            )
            .next("use AVID-YYYY-RNNNN, AIID-N or CVE-YYYY-NNNN"));
        }
    }
    if body.revisions.len() > MAX_REVISIONS {
        return Err(bad(
            ErrorCode::TooManyRevisions,
            format!("at most {MAX_REVISIONS} revisions"),
        ));
    }
    let mut revisions = Vec::new();
    let asked = if body.revisions.is_empty() {
        vec!["main".to_string()]
    } else {
        body.revisions.clone()
    };
    for r in &asked {
        let c = resolve_revision(&state, &repo, r).await?;
        if !revisions.contains(&c.to_string()) {
            revisions.push(c.to_string());
        }
    }
    let reporter = caller.name().map(|n| n.to_string());
    // Counted only once the report is valid: per account, or per address for anonymous ones.
    let (key, limit) = match &reporter {
        Some(r) => (
            format!("report:account:{r}"),
            crate::limits::ACCOUNT_REPORTS,
        ),
        None => (
            format!("report:addr:{}", client_key(addr.as_ref())),
            crate::limits::ANON_REPORTS,
        ),
    };
    state
        .store
        .db
        .take_rate(&key, 1, limit, now())
        .await?
        .map_err(|retry| rate_limited("incident reports", retry))?;
    let token = reporter.is_none().then(|| {
        let mut b = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut b);
        format!("weirf_{}", hex::encode(b))
    });
    let at = now();
    let mut details = body.details;
    if body.in_the_wild && caller.scope() != Some(weir_core::Scope::Admin) {
        details.insert("reported_in_the_wild".into(), Value::Bool(true));
    }
    let mut new = Incident::received(
        repo.id,
        kind,
        class,
        summary,
        Value::Object(details).to_string(),
        revisions,
        reporter.clone(),
        at,
    );
    new.domain = domain;
    new.aliases = body.aliases;
    // Only an operator's own report sets it at once; anyone else's claim waits for an operator.
    new.in_the_wild = body.in_the_wild && caller.scope() == Some(weir_core::Scope::Admin);
    new.reporter_shared = body.share_identity && reporter.is_some();
    new.followup_hash = token.as_deref().map(followup_hash);
    let i = weir_registry::incidents::report(
        &state.store,
        &repo,
        &new,
        &meta.context(&caller),
        &state.config.osv_prefix,
        at,
    )
    .await?;
    let mut v = incident_json(&i, &repo, Some(Role::Reporter), at);
    if let Some(t) = token {
        v.followup_token = Some(t);
        v.followup = Some(
            "keep this token: it is shown once; send it as X-Weir-Followup to read, attach to or withdraw this report".into(),
        );
    }
    Ok((StatusCode::CREATED, Json(v)))
}
