//! Incidents: a report received and a transition with everything it causes — the history line,
//! the log event, the notifications to those who received an affected revision (all in one
//! transaction, guarded by the state it was read in), hazard evidence and re-classification
//! when a confirmation raises a domain, and the publisher's standing. The HTTP handlers and
//! `--demo` both go through here; webhook delivery stays with the server.

use serde_json::json;
use weir_core::CommitId;
use weir_core::eval::Domain;
use weir_core::incident::{self, Role, Severity, State as IState};
use weir_store::incidents::{Incident, LogLine, NewNotification};
use weir_store::{Repo, Store, StoreError};
use weir_wire::ErrorCode;

use crate::classification::{Lowering, reclassify};
use crate::clock::iso8601;
use crate::incident_rows::times;
use crate::standing::update_standing;
use crate::{Context, Kind, ServiceError};

/// Files a report as received (the caller has checked its fields and bounds), with its event,
/// and recomputes the publisher's standing.
pub async fn report(
    store: &Store,
    repo: &Repo,
    new: &Incident,
    ctx: &Context,
    osv_prefix: &str,
    now: i64,
) -> Result<Incident, ServiceError> {
    let year = time::OffsetDateTime::from_unix_timestamp(now)
        .map(|t| t.year())
        .unwrap_or(2026);
    let e = ctx.event(
        now,
        "incident.reported",
        Some(repo),
        "received",
        json!({"public": {"repo": repo.repo_id.to_string(), "kind": new.kind.as_str(), "class": new.class.as_str(), "state": "received"}}),
    );
    let i = store
        .db
        .create_incident_logged(
            new,
            i64::from(year),
            |seq| incident::osv_id(osv_prefix, year, seq),
            &e,
        )
        .await?;
    update_standing(
        store,
        repo.repo_id.namespace.as_str(),
        ctx.actor.as_deref(),
        now,
    )
    .await?;
    Ok(i)
}

/// A requested transition, its fields parsed (the fixed revision resolved to a commit).
#[derive(Debug, Clone)]
pub struct Transition {
    pub to: IState,
    pub reason: String,
    /// Required to triage; may be revised on confirm.
    pub severity: Option<Severity>,
    /// On confirm: hold new deliveries of the affected revisions.
    pub hold: bool,
    /// On confirm: raise this hazard domain (open evidence; re-classifies through the policy).
    pub raise_domain: Option<Domain>,
    /// On mitigate: the revision that fixes it.
    pub fixed_revision: Option<CommitId>,
    /// Operators only, any time before disclosure.
    pub embargo_until: Option<i64>,
    /// Operators only.
    pub in_the_wild: Option<bool>,
}

impl Transition {
    pub fn to(to: IState, reason: &str) -> Transition {
        Transition {
            to,
            reason: reason.to_string(),
            severity: None,
            hold: false,
            raise_domain: None,
            fixed_revision: None,
            embargo_until: None,
            in_the_wild: None,
        }
    }
}

/// What a transition did: the incident as stored and who was notified.
#[derive(Debug)]
pub struct Transitioned {
    pub incident: Incident,
    pub notified: Vec<String>,
}

fn refused(kind: Kind, code: ErrorCode, message: impl Into<String>) -> ServiceError {
    ServiceError::refused(kind, code, message)
}

/// Moves `i` (read in its current state) to `t.to` as `role`; `actor` is the name the history
/// and the standing record show.
#[expect(
    clippy::too_many_arguments,
    reason = "the incident, who acts, and when"
)]
pub async fn transition(
    store: &Store,
    repo: &Repo,
    i: &Incident,
    role: Role,
    actor: &str,
    ctx: &Context,
    t: Transition,
    now: i64,
) -> Result<Transitioned, ServiceError> {
    let id = &i.osv_id;
    if i.repo_id != repo.id {
        return Err(
            StoreError::Corrupt(format!("incident {id} is not about {}", repo.repo_id)).into(),
        );
    }
    let from = i.state;
    let to = t.to;
    let mut next = i.clone();
    if let Some(e) = t.embargo_until {
        if role != Role::Reviewer {
            return Err(refused(
                Kind::Forbidden,
                ErrorCode::NotOperator,
                "Only operators set an embargo.",
            ));
        }
        next.embargo_until = Some(e);
    }
    if let Some(w) = t.in_the_wild {
        // Exploitation in the wild shortens disclosure to 7 days, and denying it lengthens it:
        // a disclosure-relevant fact, decided by operators, never by the publisher or reporter.
        if role != Role::Reviewer {
            return Err(refused(
                Kind::Forbidden,
                ErrorCode::NotOperator,
                "Only operators change whether it is exploited in the wild.",
            )
            .next("say so in an update; an operator decides"));
        }
        next.in_the_wild = w;
    }
    incident::transition(from, to, role, incident::disclosure_due(&times(&next)), now).map_err(
        |e| match e {
            incident::TransitionError::Embargoed { until } => refused(
                Kind::Conflict,
                ErrorCode::Embargoed,
                format!("{id} is embargoed until {}", iso8601(until)),
            )
            .next("disclose on or after that date (an operator may set another embargo_until)"),
            incident::TransitionError::Role { .. } => {
                refused(Kind::Forbidden, ErrorCode::NotAllowed, e.to_string()).next(format!(
                    "add what you know with POST /api/v1/incidents/{id}/updates; operators decide"
                ))
            }
            incident::TransitionError::NotAllowed { .. } => {
                refused(Kind::Conflict, ErrorCode::InvalidTransition, e.to_string())
            }
        },
    )?;
    next.state = to;
    next.updated_at = now;
    let mut raise_domain = None;
    match to {
        IState::Triaged => {
            let s = t.severity.ok_or_else(|| {
                refused(
                    Kind::Invalid,
                    ErrorCode::MissingSeverity,
                    "triage sets a severity",
                )
                .next("use low, medium, high or critical")
            })?;
            next.severity = Some(s);
            next.triaged_at = Some(now);
        }
        IState::Confirmed => {
            if let Some(s) = t.severity {
                next.severity = Some(s);
            }
            next.confirmed_at = Some(now);
            next.hold = t.hold;
            if let Some(d) = t.raise_domain {
                next.domain = Some(d.as_str().into());
                raise_domain = Some(d);
            }
        }
        IState::Mitigated => {
            let c = t.fixed_revision.ok_or_else(|| {
                refused(
                    Kind::Invalid,
                    ErrorCode::MissingFixedRevision,
                    "mitigation names the revision that fixes it",
                )
            })?;
            if next.revisions.contains(&c.to_string()) {
                return Err(refused(
                    Kind::Invalid,
                    ErrorCode::FixIsAffected,
                    format!("{c} is one of the affected revisions"),
                ));
            }
            next.fixed_revision = Some(c.to_string());
            next.resolved_at = Some(now);
        }
        IState::Disclosed => next.disclosed_at = Some(now),
        IState::Withdrawn => next.withdrawn_at = Some(now),
        IState::Rejected | IState::Received => {}
    }
    let mut e = ctx.event(
        now,
        "incident.transition",
        Some(repo),
        to.as_str(),
        json!({
            "public": {"id": i.osv_id, "repo": repo.repo_id.to_string(), "kind": i.kind.as_str(), "class": i.class.as_str(),
                       "from": from.as_str(), "to": to.as_str(), "severity": next.severity.map(Severity::as_str), "hold": next.hold},
            "reason": t.reason,
        }),
    );
    e.subject = Some(i.osv_id.clone());
    let mut notify = Vec::new();
    if to == IState::Confirmed {
        let message = format!(
            "Incident {} on {} was confirmed{}: {} Affected revisions: {}.",
            i.osv_id,
            repo.repo_id,
            if next.hold {
                "; new deliveries of the affected revisions are held"
            } else {
                ""
            },
            i.summary,
            i.revisions.join(", ")
        );
        for account in store.db.recipients(repo.id, &i.revisions).await? {
            notify.push(NewNotification {
                account,
                kind: "incident.confirmed".into(),
                message: message.clone(),
            });
        }
    }
    store
        .db
        .update_incident_logged(
            &next,
            from,
            &LogLine {
                kind: "transition".into(),
                from_state: Some(from.as_str().into()),
                to_state: Some(to.as_str().into()),
                actor: actor.to_string(),
                note: t.reason.clone(),
                at: now,
            },
            &[e],
            &notify,
        )
        .await
        .map_err(|err| match err {
            StoreError::StateChanged { .. } => refused(
                Kind::Conflict,
                ErrorCode::StateChanged,
                format!("{id} changed meanwhile; reload it"),
            ),
            other => other.into(),
        })?;
    if to == IState::Confirmed {
        // Bounty pools whose rules cover the report propose its payout (decided by operators).
        // The confirmation is recorded already: a failure here is logged, not the caller's.
        if let Err(e) = crate::funding::propose_for_incident(store, &next, repo, ctx, now).await {
            tracing::error!(incident = %next.osv_id, error = %e, "proposing bounty payouts");
        }
    }
    if let Some(d) = raise_domain {
        let ev = ctx.event(
            now,
            "evidence.filed",
            Some(repo),
            d.as_str(),
            json!({"public": {"repo": repo.repo_id.to_string(), "domain": d.as_str(), "incident": i.osv_id}}),
        );
        store
            .db
            .file_evidence_logged(
                repo,
                d.as_str(),
                &format!("confirmed incident {}: {}", i.osv_id, i.summary),
                actor,
                // Confirmed by an operator or the publisher itself: it counts at once.
                "open",
                None,
                &ev,
                &[],
            )
            .await?;
        reclassify(store, &repo.repo_id, Some(actor), Lowering::Never, now).await?;
    }
    update_standing(store, repo.repo_id.namespace.as_str(), Some(actor), now).await?;
    let incident = store
        .db
        .incident_by_osv(id)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("incident {id}")))?;
    Ok(Transitioned {
        incident,
        notified: notify.into_iter().map(|n| n.account).collect(),
    })
}
