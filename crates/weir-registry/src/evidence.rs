//! Evidence that a hazard domain cannot be ruled out, and its review by operators. From an
//! `accredited` account evidence makes the domain `ambiguous` at once (the tier follows if the
//! policy now asks for more); from anyone else it waits in `pending_triage` (operators and the
//! publisher are notified) and changes nothing until an operator confirms it, so one account
//! cannot freeze a model.

use serde_json::json;
use weir_authz::{Action, Subject};
use weir_core::Tier;
use weir_core::eval::Domain;
use weir_core::policy::HazardSeverity;
use weir_store::evals::Evidence;
use weir_store::{Repo, Store};
use weir_wire::ErrorCode;

use crate::access::{facts, require, signed_in};
use crate::classification::{Lowering, reclassify};
use crate::{Context, Kind, ServiceError};
use weir_core::policy::Classification;

/// Longest evidence summary, and longest review reason.
pub const MAX_SUMMARY: usize = 20_000;
/// How many pieces of evidence one account may file per day.
pub const EVIDENCE_PER_DAY: i64 = 10;
/// Working days an operator has to triage evidence from an account that is not accredited.
pub const TRIAGE_WORKING_DAYS: u32 = 2;

fn invalid(code: ErrorCode, message: impl Into<String>) -> ServiceError {
    ServiceError::refused(Kind::Invalid, code, message)
}

/// Evidence as filed, and the repo's tier before and after.
#[derive(Debug, Clone)]
pub struct Filed {
    pub evidence: Evidence,
    pub before: Tier,
    pub after: Tier,
}

/// Files `subject`'s evidence about `domain` on `repo`.
pub async fn file(
    store: &Store,
    repo: &Repo,
    subject: &Subject,
    domain: &str,
    summary: &str,
    ctx: &Context,
    now: i64,
) -> Result<Filed, ServiceError> {
    require(subject, &Action::Contribute(&facts(repo)), repo)?;
    let user = signed_in(subject)?.to_string();
    let domain = Domain::parse(domain).ok_or_else(|| {
        invalid(
            ErrorCode::InvalidDomain,
            format!("unknown hazard domain {domain:?}"),
        )
        .next("use bio, chem, cyber, autonomy or manipulation")
    })?;
    let summary = summary.trim();
    if summary.is_empty() {
        return Err(invalid(
            ErrorCode::MissingSummary,
            "evidence needs a summary of what was observed",
        ));
    }
    if summary.len() > MAX_SUMMARY {
        return Err(invalid(
            ErrorCode::SummaryTooLong,
            format!(
                "the summary is {} bytes; at most {MAX_SUMMARY}",
                summary.len()
            ),
        )
        .next("summarize, and attach details through an incident report"));
    }
    let filed = store.db.evidence_filed_since(&user, now - 86_400).await?;
    if filed >= EVIDENCE_PER_DAY {
        return Err(ServiceError::refused(
            Kind::RateLimited,
            ErrorCode::RateLimited,
            format!("you filed {filed} pieces of evidence in the last 24 hours; at most {EVIDENCE_PER_DAY}"),
        )
        .next("wait, or report an incident with the details"));
    }
    let accredited = subject.level() >= weir_core::IdentityLevel::Accredited;
    let (ev_state, triage_due) = if accredited {
        ("open", None)
    } else {
        (
            "pending_triage",
            Some(weir_core::access::add_working_days(
                now,
                TRIAGE_WORKING_DAYS,
            )),
        )
    };
    // Operators triage it; the publisher (the namespace's owners) hears of it at once.
    let message = format!(
        "{} filed on {} ({}): {}",
        if accredited {
            "evidence"
        } else {
            "evidence awaiting triage"
        },
        repo.repo_id,
        domain.as_str(),
        if accredited {
            "the domain is ambiguous until reviewed".to_string()
        } else {
            format!(
                "triage due {}; review with: weir evidence review ID confirm|dismiss --reason TEXT",
                triage_due.map(crate::clock::iso8601).unwrap_or_default()
            )
        }
    );
    let mut notify: Vec<(String, String)> = Vec::new();
    for account in store
        .db
        .operators()
        .await?
        .into_iter()
        .chain(store.db.owners_of(repo.repo_id.namespace.as_str()).await?)
    {
        if !notify.iter().any(|(a, _)| *a == account) {
            notify.push((account, message.clone()));
        }
    }
    let e = ctx.event(
        now,
        "evidence.filed",
        Some(repo),
        domain.as_str(),
        json!({"public": {"repo": repo.repo_id.to_string(), "domain": domain.as_str()}, "summary": summary}),
    );
    let evidence = store
        .db
        .file_evidence_logged(
            repo,
            domain.as_str(),
            summary,
            &user,
            ev_state,
            triage_due,
            &e,
            &notify,
        )
        .await?;
    reclassify(store, &repo.repo_id, Some(&user), Lowering::Never, now).await?;
    let after = store
        .db
        .repo(&repo.repo_id)
        .await?
        .map(|r| r.tier)
        .unwrap_or(repo.tier);
    Ok(Filed {
        evidence,
        before: repo.tier,
        after,
    })
}

/// An operator's decision on a piece of evidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Confirmed: the domain is ambiguous, or at the given severity.
    Confirm(Option<HazardSeverity>),
    Dismiss,
}

impl Verdict {
    /// Parses the wire's `decision` and `severity`.
    pub fn parse(decision: &str, severity: Option<&str>) -> Result<Verdict, ServiceError> {
        match decision {
            "confirm" => Ok(Verdict::Confirm(match severity {
                None | Some("") | Some("ambiguous") => None,
                Some(s) => Some(HazardSeverity::parse(s).ok_or_else(|| {
                    invalid(
                        ErrorCode::InvalidSeverity,
                        format!("unknown severity {s:?}"),
                    )
                    .next("use high or critical (or leave it out to confirm as ambiguous)")
                })?),
            })),
            "dismiss" => Ok(Verdict::Dismiss),
            other => Err(invalid(
                ErrorCode::InvalidDecision,
                format!("unknown decision {other:?}"),
            )
            .next("use confirm or dismiss")),
        }
    }
}

/// Evidence after its review, and the repo's minimum tier now.
#[derive(Debug, Clone)]
pub struct Reviewed {
    pub evidence: Evidence,
    pub minimum_tier: Option<Tier>,
}

fn not_found(id: i64) -> ServiceError {
    ServiceError::refused(
        Kind::NotFound,
        ErrorCode::EvidenceNotFound,
        format!("no evidence #{id}"),
    )
}

/// The evidence and its repo, if `subject` may see the repo (otherwise exactly like missing).
pub async fn find(
    store: &Store,
    subject: &Subject,
    id: i64,
) -> Result<(Evidence, Repo), ServiceError> {
    let ev = store.db.evidence(id).await?.ok_or_else(|| not_found(id))?;
    let repo = store
        .db
        .repo_by_id(ev.repo_id)
        .await?
        .ok_or_else(|| not_found(id))?;
    if !weir_authz::authorize(subject, &Action::ReadMetadata(&facts(&repo))).allow {
        return Err(not_found(id));
    }
    Ok((ev, repo))
}

/// What an operator sends to review evidence, as received (parsed only once the role is known,
/// so nobody else learns what a valid review looks like).
#[derive(Debug, Clone, Default)]
pub struct ReviewInput {
    pub decision: String,
    pub severity: Option<String>,
    pub reason: String,
}

/// An operator's review of evidence `id`.
pub async fn review(
    store: &Store,
    subject: &Subject,
    id: i64,
    input: ReviewInput,
    ctx: &Context,
    now: i64,
) -> Result<Reviewed, ServiceError> {
    let (ev, repo) = find(store, subject, id).await?;
    let f = facts(&repo);
    let d = weir_authz::authorize(
        subject,
        &Action::ReviewEvidence {
            repo: &f,
            filed_by: &ev.filed_by,
        },
    );
    if !d.allow {
        return Err(match d.reason {
            weir_authz::Reason::NotOperator => ServiceError::refused(
                Kind::Forbidden,
                ErrorCode::NotOperator,
                "Only operators review hazard evidence; a publisher does not judge evidence about its own model.",
            )
            .next(format!("an operator reviews it with: weir evidence review {id} confirm|dismiss --reason TEXT (admin token)")),
            r => ServiceError::denied(r, &repo, subject),
        });
    }
    let reason = input.reason.trim();
    if reason.is_empty() || reason.len() > MAX_SUMMARY {
        return Err(invalid(
            ErrorCode::MissingReason,
            format!("a review needs a reason (at most {MAX_SUMMARY} bytes)"),
        ));
    }
    let (state, severity) = match Verdict::parse(&input.decision, input.severity.as_deref())? {
        Verdict::Confirm(s) => ("confirmed", s),
        Verdict::Dismiss => ("dismissed", None),
    };
    if ev.state != "open" && ev.state != "pending_triage" {
        return Err(ServiceError::refused(
            Kind::Conflict,
            ErrorCode::AlreadyReviewed,
            format!("evidence #{id} is already {}", ev.state),
        ));
    }
    let severity = severity.map(|s| match s {
        HazardSeverity::High => "high",
        HazardSeverity::Critical => "critical",
    });
    let e = ctx.event(
        now,
        "evidence.reviewed",
        Some(&repo),
        state,
        json!({"public": {"repo": repo.repo_id.to_string(), "evidence": id, "domain": ev.domain, "decision": state, "severity": severity}, "reason": reason}),
    );
    let reviewer = signed_in(subject)?.to_string();
    store
        .db
        .review_evidence_logged(id, state, severity, &reviewer, reason, &e)
        .await?;
    let c: Option<Classification> = reclassify(
        store,
        &repo.repo_id,
        Some(&reviewer),
        Lowering::AfterReview,
        now,
    )
    .await?;
    let evidence = store.db.evidence(id).await?.ok_or_else(|| not_found(id))?;
    Ok(Reviewed {
        evidence,
        minimum_tier: c.map(|c| c.minimum_tier),
    })
}
