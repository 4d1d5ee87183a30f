//! The governance queues on `/review`: grant applications awaiting their reviewers, progress
//! reports awaiting acceptance (the award's second tranche), proposed payouts, and the board's
//! proposals awaiting signatures. Every decision goes through the same `weir_registry` service
//! as the API (`grants::review`, `grants::accept_report`, `funding::decide_payout`,
//! `board::sign`), each of which asks `weir_authz` again; the page only decides what to show.
//!
//! - A grant's reviewers see how many votes it has and their own vote, not the others' votes or
//!   reasons: the queue is where a panel member decides, and it does not anchor them. The votes
//!   are not secret (each is a `grant.review` event as it is cast, and the application's record
//!   is the API's, for operators): the queue's blindness is a matter of what it shows.
//! - A report is accepted by the SHA-256 of the text the page showed, so a report replaced
//!   meanwhile is not accepted unread.
//! - A board member signs offline with their key (never typed into a page): the page shows the
//!   digest and the command, and takes the base64 signature it prints.

use serde::Deserialize;
use weir_authz::Action;
use weir_core::grants::HOUR_MS;

use super::session::{SessionForm, Viewer};
use crate::extract::{Path, RequestMeta};
use crate::{ApiError, AppState, now};
use axum::extract::State;
use axum::response::Response;

/// The most items of each kind one queue page shows.
pub const SHOWN: usize = 100;

pub(super) struct ApplicationItem {
    pub id: i64,
    pub call: String,
    pub route: String,
    pub project: String,
    pub applicant: String,
    pub purpose: String,
    pub plan: String,
    pub answers: Vec<(String, String)>,
    pub hours: String,
    pub due: String,
    pub overdue: bool,
    pub votes: usize,
    /// The viewer's own vote or declared conflict, once given.
    pub mine: Option<String>,
    /// The viewer applied or is on the project's team: another operator decides.
    pub own: bool,
}

pub(super) struct ReportItem {
    pub award: i64,
    pub application: i64,
    pub project: String,
    pub report: String,
    pub sha256: String,
    pub reported: String,
    pub own: bool,
}

pub(super) struct PayoutItem {
    pub id: i64,
    pub pool: String,
    pub source: String,
    pub beneficiary: String,
    pub amount: String,
    pub proposed: String,
    pub own: bool,
}

pub(super) struct ProposalItem {
    pub id: i64,
    pub kind: String,
    pub change: String,
    pub digest: String,
    pub proposed_by: String,
    pub proposed: String,
    pub signed_by: Vec<String>,
    pub threshold: usize,
    pub signed: bool,
}

/// What the governance part of the queue shows the viewer.
#[derive(Default)]
pub(super) struct Queue {
    pub applications: Vec<ApplicationItem>,
    pub reports: Vec<ReportItem>,
    pub payouts: Vec<PayoutItem>,
    pub proposals: Vec<ProposalItem>,
    /// Whether the viewer sits on the board (and so signs).
    pub board_member: bool,
    /// Whether a board governs at all.
    pub board: bool,
}

fn hours(ms: i64) -> String {
    let h = ms as f64 / HOUR_MS as f64;
    format!("{h:.1}")
}

/// The viewer's queue: the grant, report and payout parts for operators, the board's pending
/// proposals for its members and operators.
pub(super) async fn queue(state: &AppState, viewer: &Viewer) -> Result<Queue, ApiError> {
    let subject = &viewer.caller.subject;
    let me = viewer
        .caller
        .name()
        .map(|n| n.to_string())
        .unwrap_or_default();
    let operator = viewer.caller.authorize(&Action::Administer).allow;
    let mut q = Queue::default();
    let at = now();
    if operator {
        let pending = state
            .store
            .db
            .submitted_applications(SHOWN as i64)
            .await
            .map_err(weir_registry::ServiceError::from)?;
        for a in pending {
            // Read as the API shows it to this operator; one that cannot be read is skipped,
            // never the whole queue.
            let s = match weir_registry::grants::show(&state.store, subject, a.id).await {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(application = a.id, error = %e, "not shown in the queue");
                    continue;
                }
            };
            let a = &s.application;
            let answers: std::collections::BTreeMap<String, String> =
                serde_json::from_str(&a.answers).unwrap_or_default();
            let team = state
                .store
                .db
                .project_by_id(a.project_id)
                .await?
                .is_some_and(|p| p.is_member(&me));
            q.applications.push(ApplicationItem {
                id: a.id,
                call: a.call.clone(),
                route: a.route.clone(),
                project: s.project.clone(),
                applicant: a.applicant.clone(),
                purpose: a.purpose.clone(),
                plan: a.plan.clone(),
                answers: answers.into_iter().collect(),
                hours: format!(
                    "{} CPU hours, {} GPU hours",
                    hours(a.cpu_ms),
                    hours(a.gpu_ms)
                ),
                due: super::day(a.review_due_at),
                overdue: a.review_due_at < at,
                votes: s.reviews.iter().filter(|r| r.vote != "conflict").count(),
                mine: s
                    .reviews
                    .iter()
                    .find(|r| r.reviewer == me)
                    .map(|r| r.vote.clone()),
                own: a.applicant == me || team,
            });
        }
        let reported = state
            .store
            .db
            .awards_awaiting_acceptance(SHOWN as i64)
            .await
            .map_err(weir_registry::ServiceError::from)?;
        for award in reported {
            let v = match weir_registry::grants::award(&state.store, award.id, at).await {
                Ok(v) => v,
                Err(e) => {
                    tracing::warn!(award = award.id, error = %e, "not shown in the queue");
                    continue;
                }
            };
            let a = &v.award;
            let (Some(report), Some(reported)) = (&a.report, a.reported_at) else {
                continue;
            };
            if a.report_accepted_at.is_some() || a.revoked_at.is_some() {
                continue;
            }
            let own = v.application.applicant == me
                || state
                    .store
                    .db
                    .project_by_id(a.project_id)
                    .await?
                    .is_some_and(|p| p.is_member(&me));
            q.reports.push(ReportItem {
                award: a.id,
                application: v.application.id,
                project: v.project.clone(),
                sha256: weir_registry::grants::report_sha256(report),
                report: report.clone(),
                reported: super::day(reported),
                own,
            });
        }
        let currency = &state.config.currency;
        for p in state
            .store
            .db
            .payouts(Some("proposed"))
            .await
            .map_err(weir_registry::ServiceError::from)?
            .into_iter()
            .take(SHOWN)
        {
            q.payouts.push(PayoutItem {
                id: p.id,
                own: p.beneficiary == me,
                amount: format!("{} {}", currency.format(p.amount), currency.code),
                pool: p.pool,
                source: p.source,
                beneficiary: p.beneficiary,
                proposed: super::day(p.proposed_at),
            });
        }
    }
    if let Some((members, _)) = weir_registry::board::members(&state.store).await? {
        q.board = true;
        q.board_member = members.iter().any(|m| m.name == me);
        if q.board_member || operator {
            for p in state
                .store
                .db
                .pending_proposals(SHOWN as i64)
                .await
                .map_err(weir_registry::ServiceError::from)?
            {
                let s = match weir_registry::board::show(&state.store, p.id).await {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::warn!(proposal = p.id, error = %e, "not shown in the queue");
                        continue;
                    }
                };
                if !weir_registry::board::visible_to(&state.store, subject, &s.change).await? {
                    continue;
                }
                let change =
                    serde_json::to_string_pretty(&weir_registry::board::to_wire(&s.change))
                        .unwrap_or_default();
                q.proposals.push(ProposalItem {
                    id: p.id,
                    kind: p.kind.clone(),
                    change,
                    digest: p.digest.clone(),
                    proposed_by: p.proposed_by.clone(),
                    proposed: super::day(p.proposed_at),
                    signed: s.signatures.iter().any(|g| g.member == me),
                    signed_by: s.signatures.iter().map(|g| g.member.clone()).collect(),
                    threshold: s.threshold,
                });
            }
        }
    }
    Ok(q)
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct VoteBody {
    vote: String,
    reason: String,
}

/// `POST /review/grants/{id}`: an operator's vote (`award`, `reject`) or declared conflict on a
/// grant application, through `weir_registry::grants::review`.
pub(super) async fn review_grant(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    SessionForm { viewer, form, .. }: SessionForm<VoteBody>,
) -> Response {
    let meta = RequestMeta::of(&viewer.headers);
    let done = weir_registry::grants::review(
        &state.store,
        &viewer.caller.subject,
        id,
        &form.vote,
        &form.reason,
        &meta.context(&viewer.caller),
        now(),
    )
    .await;
    viewer.after(done, "/review#grants")
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct ReportBody {
    report_sha256: String,
    reason: String,
}

/// `POST /review/awards/{id}/report`: an operator off the team accepts the progress report the
/// page showed (named by its SHA-256), releasing the second tranche.
pub(super) async fn accept_report(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    SessionForm { viewer, form, .. }: SessionForm<ReportBody>,
) -> Response {
    let meta = RequestMeta::of(&viewer.headers);
    let done = weir_registry::grants::accept_report(
        &state.store,
        &viewer.caller.subject,
        id,
        &form.report_sha256,
        &form.reason,
        &meta.context(&viewer.caller),
        now(),
    )
    .await;
    viewer.after(done, "/review#reports")
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct PayoutBody {
    decision: String,
    reason: String,
}

/// `POST /review/payouts/{id}`: an operator who is not its beneficiary pays or rejects a
/// proposed payout, with a reason.
pub(super) async fn decide_payout(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    SessionForm { viewer, form, .. }: SessionForm<PayoutBody>,
) -> Response {
    // The queue offers pay and reject; reversing a paid payout stays the CLI's, deliberately.
    if !matches!(form.decision.as_str(), "pay" | "reject") {
        return viewer.error(ApiError::bad_request(
            weir_wire::ErrorCode::InvalidDecision,
            "choose pay or reject",
        ));
    }
    let meta = RequestMeta::of(&viewer.headers);
    let done = weir_registry::funding::decide_payout(
        &state.store,
        &viewer.caller.subject,
        id,
        &form.decision,
        &form.reason,
        &meta.context(&viewer.caller),
        now(),
    )
    .await;
    viewer.after(done, "/review#payouts")
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct SignBody {
    signature: String,
}

/// `POST /review/board/{id}`: a board member's signature over a proposal's digest, made offline
/// with their key, checked by `weir_registry::board::sign` against the member's registered key.
pub(super) async fn sign_proposal(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    SessionForm { viewer, form, .. }: SessionForm<SignBody>,
) -> Response {
    let meta = RequestMeta::of(&viewer.headers);
    let done = weir_registry::board::sign(
        &state.store,
        &state.config.log_signer,
        &viewer.caller.subject,
        id,
        form.signature.trim(),
        &meta.context(&viewer.caller),
        now(),
    )
    .await;
    viewer.after(done, "/review#board")
}
