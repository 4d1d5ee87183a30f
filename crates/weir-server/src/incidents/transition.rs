//! `POST /api/v1/incidents/{id}/transition`: triage, confirm, reject, mitigate, disclose, withdraw (through `weir_registry::incidents::transition`).

use crate::auth::Caller;
use crate::extract::RequestMeta;
use crate::extract::{Json as JsonBody, Path};
use crate::lookup::resolve_revision;
use crate::{ApiError, AppState, iso8601, now};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::json;
use weir_core::eval::Domain;
use weir_core::incident::{Role, Severity, State as IState};
use weir_wire::ErrorCode;
use weir_wire::incidents as wire;

use super::*;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct TransitionBody {
    pub(crate) to: String,
    pub(crate) reason: String,
    #[serde(default)]
    pub(crate) severity: Option<String>,
    /// On confirm: hold new deliveries of the affected revisions.
    #[serde(default)]
    pub(crate) hold: bool,
    /// On confirm: raise this hazard domain to `ambiguous` (re-classifies through the policy).
    #[serde(default)]
    pub(crate) raise_domain: Option<String>,
    /// On mitigate: the revision that fixes it.
    #[serde(default)]
    pub(crate) fixed_revision: Option<String>,
    /// Any time before disclosure (reviewers): a per-record embargo date.
    #[serde(default)]
    pub(crate) embargo_until: Option<String>,
    #[serde(default)]
    pub(crate) in_the_wild: Option<bool>,
}

pub(crate) async fn transition(
    State(state): State<AppState>,
    caller: Caller,
    meta: RequestMeta,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<TransitionBody>,
) -> Result<Json<wire::Incident>, ApiError> {
    let (i, repo, role) = load(&state, &caller, &meta, &id).await?;
    let role = role.ok_or_else(|| {
        ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::NotReviewer,
            "Only operators, the publisher and the reporter act on an incident.",
        )
    })?;
    let to = IState::parse(&body.to).ok_or_else(|| {
        bad(
            ErrorCode::InvalidState,
            format!("unknown state {:?}", body.to),
        )
        .next("use triaged, confirmed, rejected, mitigated, disclosed or withdrawn")
    })?;
    let reason = body.reason.trim();
    if reason.is_empty() {
        return Err(bad(
            ErrorCode::MissingReason,
            "every transition needs a reason",
        ));
    }
    check_text("reason", reason, MAX_REASON)?;
    // Who may make this move, and whether it exists, are decided before any field is parsed or
    // revision resolved, so a caller without the role learns nothing else. (An operator may
    // change the embargo or the in-the-wild flag in the same request, so the disclosure date is
    // left to the service for them.)
    let due = if role == Role::Reviewer {
        i64::MAX
    } else {
        incident::disclosure_due(&times(&i))
    };
    match incident::transition(i.state, to, role, due, now()) {
        Err(e @ incident::TransitionError::Role { .. }) => {
            return Err(
                ApiError::new(StatusCode::FORBIDDEN, ErrorCode::NotAllowed, e.to_string()).next(
                    format!(
                        "add what you know with POST /api/v1/incidents/{id}/updates; operators decide (another operator, if you reported it)"
                    ),
                ),
            );
        }
        Err(e @ incident::TransitionError::NotAllowed { .. }) => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                ErrorCode::InvalidTransition,
                e.to_string(),
            ));
        }
        // An embargo is the service's to answer, with the date.
        Err(incident::TransitionError::Embargoed { .. }) | Ok(()) => {}
    }
    if role != Role::Reviewer && (body.embargo_until.is_some() || body.in_the_wild.is_some()) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::NotOperator,
            "Only operators set an embargo or change whether it is exploited in the wild.",
        )
        .next("say so in an update; an operator decides"));
    }
    let severity = body
        .severity
        .as_deref()
        .filter(|_| matches!(to, IState::Triaged | IState::Confirmed))
        .map(|s| {
            Severity::parse(s).ok_or_else(|| {
                bad(
                    ErrorCode::InvalidSeverity,
                    format!("unknown severity {s:?}"),
                )
                .next("use low, medium, high or critical")
            })
        })
        .transpose()?;
    let raise_domain = body
        .raise_domain
        .as_deref()
        .filter(|_| to == IState::Confirmed)
        .map(|d| {
            Domain::parse(d).ok_or_else(|| {
                bad(
                    ErrorCode::InvalidDomain,
                    format!("unknown hazard domain {d:?}"),
                )
            })
        })
        .transpose()?;
    let fixed_revision = match body.fixed_revision.as_deref() {
        Some(f) if to == IState::Mitigated => Some(resolve_revision(&state, &repo, f).await?),
        _ => None,
    };
    let embargo_until = body
        .embargo_until
        .as_deref()
        .map(|e| parse_time("embargo_until", e))
        .transpose()?;
    let actor = match role {
        Role::Reporter if caller.anonymous() => "reporter (follow-up token)".to_string(),
        _ => caller
            .name()
            .map(|n| n.to_string())
            .unwrap_or_else(|| "anonymous".into()),
    };
    let at = now();
    let done = weir_registry::incidents::transition(
        &state.store,
        &repo,
        &i,
        role,
        &actor,
        &meta.context(&caller),
        weir_registry::incidents::Transition {
            to,
            reason: reason.to_string(),
            severity,
            hold: body.hold,
            raise_domain,
            fixed_revision,
            embargo_until,
            in_the_wild: body.in_the_wild,
        },
        at,
    )
    .await?;
    let next = &done.incident;
    if !done.notified.is_empty() {
        let accounts = done.notified.clone();
        crate::webhook::spawn_webhooks(
            &state,
            accounts,
            json!({
                "type": "incident.confirmed",
                "incident": i.osv_id,
                "repo": repo.repo_id.to_string(),
                "revisions": i.revisions,
                "hold": next.hold,
                "summary": i.summary,
                "at": iso8601(at),
                "url": format!("{}/api/v1/incidents/{}", state.config.public_url, i.osv_id),
            }),
        );
    }
    let mut v = incident_json(next, &repo, Some(role), now());
    v.notified = Some(done.notified.len());
    Ok(Json(v))
}
