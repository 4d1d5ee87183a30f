//! Gated delivery: the facts the authorization module needs about a repo and a caller's standing
//! on it, the detailed error each denial reason turns into (with what to do next), and audit
//! events. Every byte path (`/resolve`, `auth-check`, `access/check`) goes through [`check`].

use axum::http::StatusCode;
use serde_json::Value;
use weir_authz::{AccessStanding, Action, Decision, Reason};
use weir_core::{Event, GrantState, Tier};
use weir_store::{AccessRequest, Repo};

use crate::auth::Caller;
use crate::{ApiError, AppState, iso8601, now};

pub use weir_registry::access::facts;

/// The caller's terms acceptance and access request for a repo, at `at`.
pub async fn standing(
    state: &AppState,
    caller: &Caller,
    repo: &Repo,
    at: i64,
) -> Result<(AccessStanding, Option<AccessRequest>), ApiError> {
    let Some(name) = caller.name() else {
        return Ok((AccessStanding::NONE, None));
    };
    if repo.tier == Tier::T0 {
        return Ok((AccessStanding::NONE, None));
    }
    let terms_accepted = state.store.db.terms_accepted(repo, name.as_str()).await?;
    let request = state.store.db.access_request(repo, name.as_str()).await?;
    let grant = GrantState::of(
        request.as_ref().map(|r| r.state),
        request.as_ref().and_then(|r| r.expires_at),
        at,
    );
    Ok((
        AccessStanding {
            terms_accepted,
            grant,
        },
        request,
    ))
}

/// The outcome of a download check: the decision and the error the client gets if denied.
pub struct Gate {
    pub decision: Decision,
    pub error: Option<ApiError>,
}

/// Decides whether the caller may download this revision of the repo now (a revision under an
/// incident delivery hold is refused to everyone). The one check every gated route uses: it
/// always knows the revision, so no route can skip the hold.
pub async fn check_at(
    state: &AppState,
    caller: &Caller,
    repo: &Repo,
    commit: &weir_core::CommitId,
) -> Result<Gate, ApiError> {
    let at = now();
    let mut f = facts(repo);
    // A copy is held with the revision of its source it was made from.
    f.held = state
        .store
        .db
        .is_held_here_or_at_source(repo.id, commit.as_str())
        .await?;
    let (st, request) = standing(state, caller, repo, at).await?;
    let decision = caller.authorize(&Action::Download(&f, st));
    let error =
        (!decision.allow).then(|| gate_error(decision.reason, repo, caller, request.as_ref(), at));
    Ok(Gate { decision, error })
}

fn date(t: i64) -> String {
    iso8601(t).chars().take(10).collect()
}

/// The error a denied download gets: the Hub's `GatedRepo` code (401 anonymous, 403 signed in,
/// 451 for region blocks), our reason code, and the next step.
pub fn gate_error(
    reason: Reason,
    repo: &Repo,
    caller: &Caller,
    request: Option<&AccessRequest>,
    at: i64,
) -> ApiError {
    let id = repo.repo_id.to_string();
    let tier = format!("{} {}", repo.tier.as_str(), repo.tier.name());
    let gated = |status: StatusCode, message: String, next: String| {
        ApiError::new(status, crate::error::reason_code(reason), message)
            .hub("GatedRepo")
            .next(next)
    };
    let forbidden = StatusCode::FORBIDDEN;
    match reason {
        Reason::NotVisible => ApiError::repo_not_found(&id, caller.anonymous()),
        Reason::NotSignedIn => gated(
            StatusCode::UNAUTHORIZED,
            format!("Access to model {id} is restricted (tier {tier}). You must be authenticated to access it."),
            "sign in: pass a token (HF_TOKEN for huggingface_hub, WEIR_TOKEN or 'weir login' for weir)".into(),
        ),
        Reason::TermsNotAccepted => gated(
            forbidden,
            format!("Access to model {id} requires accepting its terms of use (tier {tier})."),
            format!("read and accept them: weir access accept {id}"),
        ),
        Reason::IdentityLevel => gated(
            forbidden,
            format!(
                "Access to model {id} requires identity level '{}'; yours is '{}'.",
                repo.gating.min_level.as_str(),
                caller.level().as_str()
            ),
            "obtain an attestation from an accredited verifier and submit it: weir identity submit FILE".into(),
        ),
        Reason::NotRequested => gated(
            forbidden,
            format!("Access to model {id} is restricted (tier {tier}) and you have no approved access request."),
            format!("request access: weir access request {id} --purpose \"...\""),
        ),
        Reason::Pending => {
            let due = request.map(|r| date(r.due_at)).unwrap_or_default();
            let overdue = request.is_some_and(|r| r.due_at < at);
            gated(
                forbidden,
                format!("Your access request for {id} is pending review (due {due}{}).", if overdue { ", overdue" } else { "" }),
                format!("check with: weir access status {id}"),
            )
        }
        Reason::Rejected => {
            let why = request.and_then(|r| r.reason.clone()).unwrap_or_else(|| "no reason given".into());
            let again = request
                .and_then(|r| r.decided_at)
                .map(|d| date(d + weir_core::access::REJECTION_COOL_DOWN_SECS))
                .unwrap_or_default();
            gated(
                forbidden,
                format!("Your access request for {id} was rejected: {why}."),
                format!("you may request again from {again} (weir access request {id}), or appeal to the publisher"),
            )
        }
        Reason::Expired => gated(
            forbidden,
            format!(
                "Your access to {id} expired on {}.",
                request.and_then(|r| r.expires_at).map(date).unwrap_or_default()
            ),
            format!("request again: weir access request {id} --purpose \"...\""),
        ),
        Reason::Revoked => {
            let why = request.and_then(|r| r.reason.clone()).unwrap_or_else(|| "no reason given".into());
            gated(
                forbidden,
                format!("Your access to {id} was revoked: {why}."),
                format!("request again (weir access request {id}) or contact the publisher"),
            )
        }
        Reason::Region => gated(
            StatusCode::UNAVAILABLE_FOR_LEGAL_REASONS,
            format!("Model {id} is not available in your region."),
            "contact the publisher if you believe this is wrong".into(),
        ),
        Reason::TierNoEgress => gated(
            forbidden,
            format!("The weights of {id} are never downloaded (tier {tier}): reason tier_no_egress."),
            "run jobs in the secure research environment, or request a custodial export for an accredited organization".into(),
        ),
        other => ApiError::denied(other, &id, caller.anonymous()),
    }
}

/// Builds an event from the request's headers.
pub fn event(
    caller: &Caller,
    meta: &crate::extract::RequestMeta,
    action: &str,
    repo: Option<&Repo>,
    decision: &str,
    reason: &str,
    details: Value,
) -> Event {
    Event {
        at: now(),
        actor: caller.name().map(|n| n.to_string()),
        action: action.to_string(),
        repo: repo.map(|r| r.repo_id.to_string()),
        subject: None,
        decision: decision.to_string(),
        reason: reason.to_string(),
        request_id: meta.request_id.clone(),
        user_agent: meta.user_agent.clone(),
        details,
    }
}

/// JSON view of a request for the API.
pub fn request_json(repo: &str, r: &AccessRequest, at: i64) -> weir_wire::access::AccessRequest {
    let grant = GrantState::of(Some(r.state), r.expires_at, at);
    weir_wire::access::AccessRequest {
        repo: repo.to_string(),
        user: r.account.clone(),
        state: grant.as_str().to_string(),
        purpose: r.purpose.clone(),
        fields: r.fields.clone(),
        requested_at: iso8601(r.requested_at),
        due_at: iso8601(r.due_at),
        overdue: grant == GrantState::Pending && r.due_at < at,
        decided_by: r.decided_by.clone(),
        decided_at: r.decided_at.map(iso8601),
        reason: r.reason.clone(),
        expires_at: r.expires_at.map(iso8601),
        requester: None,
    }
}
