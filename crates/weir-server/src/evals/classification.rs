//! `GET /api/v1/models/{ns}/{name}/classification`, the decision rule by rule, and the presumption's notification clock.

use crate::auth::Caller;
use crate::extract::RequestMeta;
use crate::extract::{Json as JsonBody, Query};
use crate::lookup::Visible;
use crate::lookup::resolve_revision;
use crate::views::{card_json, notification};
use crate::{ApiError, AppState, gate, now};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::json;
use weir_authz::Action;
use weir_registry::classification::classify_at;
use weir_registry::policy::policy_in_force;
use weir_wire::ErrorCode;
use weir_wire::evals as wire;

/// The snake_case text a serde enum serializes to.
pub(super) fn wire_str<T: serde::Serialize>(t: &T) -> String {
    serde_json::to_value(t)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

#[derive(Deserialize)]
pub struct RevQuery {
    revision: Option<String>,
}

/// `GET /api/v1/models/{ns}/{name}/classification?revision=`: the decision rule by rule.
pub(super) async fn get_classification(
    State(state): State<AppState>,
    _caller: Caller,
    Visible { repo, facts: _ }: Visible,
    Query(q): Query<RevQuery>,
) -> Result<Json<wire::Classification>, ApiError> {
    let rev = q.revision.unwrap_or_else(|| "main".into());
    let commit = resolve_revision(&state, &repo, &rev).await?;
    let (c, card, policy) = classify_at(&state.store, &repo, &commit).await?;
    let stored = state.store.db.classification(&repo).await?;
    let since = if c.presumption {
        stored.as_ref().and_then(|s| s.presumption_since)
    } else {
        None
    };
    let notified = stored.as_ref().and_then(|s| s.notified.as_ref());
    Ok(Json(wire::Classification {
        repo: repo.repo_id.to_string(),
        revision: rev,
        tier: repo.tier.as_str().to_string(),
        explanation: c.explain(),
        policy: wire::PolicyRef {
            version: policy.policy.version.clone(),
            sha256: policy.sha256.clone(),
        },
        notification: notification(since, notified, &policy.policy, now()),
        card: card_json(&card),
        policy_version: c.policy_version.clone(),
        minimum_tier: c.minimum_tier.as_str().to_string(),
        deciding_rule: c.deciding_rule.map(str::to_string),
        domains: c
            .domains
            .iter()
            .map(|d| wire::DomainOutcome {
                domain: d.domain.as_str().to_string(),
                outcome: wire_str(&d.outcome),
                evidence: d.evidence.clone(),
            })
            .collect(),
        rules: c
            .rules
            .iter()
            .map(|r| wire::RuleOutcome {
                rule: r.rule.to_string(),
                source: r.source.clone(),
                fired: r.fired,
                tier: r.tier.map(|t| t.as_str().to_string()),
                detail: r.detail.clone(),
            })
            .collect(),
        ignored_results: c
            .ignored_results
            .iter()
            .map(|i| wire::IgnoredResult {
                id: i.id.clone(),
                suite: i.suite.clone(),
                reason: wire_str(&i.reason),
                why: i.why.to_string(),
            })
            .collect(),
        counted_results: c.counted_results,
        presumption: c.presumption,
        reassessment_due: c.reassessment_due,
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifiedBody {
    reference: String,
}

/// `POST /api/v1/models/{ns}/{name}/classification/notified`: the publisher (or an operator)
/// records that the notification the compute presumption asks for was made, with its reference;
/// the clock is met.
pub(super) async fn record_notification(
    State(state): State<AppState>,
    caller: Caller,
    meta: RequestMeta,
    Visible { repo, facts: f }: Visible,
    JsonBody(body): JsonBody<NotifiedBody>,
) -> Result<Json<wire::NotificationRecorded>, ApiError> {
    caller.require(&Action::RecordNotification(&f), &repo.repo_id.to_string())?;
    let reference = body.reference.trim();
    if reference.is_empty() || reference.len() > 500 || reference.chars().any(char::is_control) {
        return Err(ApiError::bad_request(
            ErrorCode::InvalidReference,
            "the notification's reference is 1–500 characters on one line",
        ));
    }
    let at = now();
    let e = gate::event(
        &caller,
        &meta,
        "presumption.notified",
        Some(&repo),
        "change",
        "notified",
        json!({"public": {"repo": repo.repo_id.to_string()}, "reference": reference}),
    );
    state
        .store
        .db
        .set_presumption_notified_logged(&repo, at, reference, &e)
        .await
        .map_err(|err| match err {
            weir_store::StoreError::NotFound(_) => ApiError::new(
                StatusCode::CONFLICT,
                ErrorCode::NoNotificationClock,
                format!("{} has no running notification clock", repo.repo_id),
            )
            .next("the clock starts when the policy's compute presumption applies"),
            other => other.into(),
        })?;
    let stored = state.store.db.classification(&repo).await?;
    let policy = policy_in_force(&state.store).await?;
    Ok(Json(wire::NotificationRecorded {
        repo: repo.repo_id.to_string(),
        notification: notification(
            stored.as_ref().and_then(|s| s.presumption_since),
            stored.as_ref().and_then(|s| s.notified.as_ref()),
            &policy.policy,
            at,
        ),
    }))
}
