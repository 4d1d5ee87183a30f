//! Incidents, their lifecycle, regulatory clocks and coordinated disclosure (DESIGN.md §5,
//! governance-anchors §1.7, §4.5–4.6). Pure: every clock is a function of recorded instants and
//! an explicit `now`, so tests control time.
//!
//! Clocks (EU GPAI Code of Practice, Safety & Security chapter, serious-incident reporting):
//! the initial report is due 2 (critical infrastructure), 5 (weights exfiltration, cyber),
//! 10 (death) or 15 (other serious harm) days after the registry becomes aware; updates every
//! 4 weeks until resolved; the final report 60 days after resolution. Disclosure follows Project
//! Zero's 90+30: 90 days after the report, or 30 days after a fix if sooner, 7 days when
//! exploited in the wild; a per-record embargo overrides.

use serde::{Deserialize, Serialize};

pub const DAY: i64 = 86_400;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Incident,
    Hazard,
    Vulnerability,
}

impl Kind {
    pub const ALL: [Kind; 3] = [Kind::Incident, Kind::Hazard, Kind::Vulnerability];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Incident => "incident",
            Kind::Hazard => "hazard",
            Kind::Vulnerability => "vulnerability",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// Serious-incident classes with their initial-report deadline, plus `minor` (no regulatory
/// clock) for hazards and vulnerabilities that harmed no one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    CriticalInfrastructure,
    WeightsExfiltration,
    Cyber,
    Death,
    OtherSerious,
    Minor,
}

impl Class {
    pub const ALL: [Class; 6] = [
        Class::CriticalInfrastructure,
        Class::WeightsExfiltration,
        Class::Cyber,
        Class::Death,
        Class::OtherSerious,
        Class::Minor,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Class::CriticalInfrastructure => "critical_infrastructure",
            Class::WeightsExfiltration => "weights_exfiltration",
            Class::Cyber => "cyber",
            Class::Death => "death",
            Class::OtherSerious => "other_serious",
            Class::Minor => "minor",
        }
    }

    pub fn parse(s: &str) -> Option<Class> {
        Class::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// Days from awareness to the initial report, `None` for `minor`.
    pub fn initial_report_days(self) -> Option<i64> {
        match self {
            Class::CriticalInfrastructure => Some(2),
            Class::WeightsExfiltration | Class::Cyber => Some(5),
            Class::Death => Some(10),
            Class::OtherSerious => Some(15),
            Class::Minor => None,
        }
    }

    pub fn names() -> String {
        Class::ALL.map(Class::as_str).join(", ")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 4] = [
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    pub fn parse(s: &str) -> Option<Severity> {
        Severity::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Received,
    Triaged,
    Confirmed,
    Rejected,
    Mitigated,
    Disclosed,
    Withdrawn,
}

impl State {
    pub const ALL: [State; 7] = [
        State::Received,
        State::Triaged,
        State::Confirmed,
        State::Rejected,
        State::Mitigated,
        State::Disclosed,
        State::Withdrawn,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            State::Received => "received",
            State::Triaged => "triaged",
            State::Confirmed => "confirmed",
            State::Rejected => "rejected",
            State::Mitigated => "mitigated",
            State::Disclosed => "disclosed",
            State::Withdrawn => "withdrawn",
        }
    }

    pub fn parse(s: &str) -> Option<State> {
        State::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// Whether the incident still needs work (clocks run).
    pub fn open(self) -> bool {
        matches!(self, State::Received | State::Triaged | State::Confirmed)
    }
}

/// Who asks for a transition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// An operator (reviewer of the registry).
    Reviewer,
    /// An owner of the namespace that publishes the affected repo.
    Publisher,
    /// Whoever reported it (signed in as the reporter, or holding the follow-up token).
    Reporter,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    #[error("an incident cannot go from {from} to {to}")]
    NotAllowed {
        from: &'static str,
        to: &'static str,
    },
    #[error("only {who} may move an incident to {to}")]
    Role { to: &'static str, who: &'static str },
    #[error("disclosure is embargoed until {until} (unix time)")]
    Embargoed { until: i64 },
}

/// The lifecycle: `received → triaged → confirmed | rejected → mitigated → disclosed`, a
/// confirmed incident may be disclosed without a fix once its disclosure date comes.
///
/// Roles: the publisher triages, confirms, mitigates and discloses; rejecting a report is an
/// operator's decision (also after confirmation, which lifts its hold: a logged reason is
/// required); the reporter may withdraw a report only before it is confirmed, since a
/// confirmed incident holds deliveries and counts on the publisher's record; a disclosed record
/// may be withdrawn (a false alarm) by an operator.
pub fn transition(
    from: State,
    to: State,
    role: Role,
    disclosure_due: i64,
    now: i64,
) -> Result<(), TransitionError> {
    use State::*;
    // Closing a confirmed incident is an operator's decision (as rejected): say who, rather
    // than that the transition does not exist.
    if to == Withdrawn && matches!(from, Confirmed | Mitigated) && role != Role::Reviewer {
        return Err(TransitionError::Role {
            to: to.as_str(),
            who: "operators (a confirmed incident is closed as rejected, with a reason)",
        });
    }
    let allowed = matches!(
        (from, to),
        (Received, Triaged)
            | (Received | Triaged | Confirmed | Mitigated, Rejected)
            | (Triaged, Confirmed)
            | (Confirmed, Mitigated)
            | (Confirmed | Mitigated, Disclosed)
            | (Received | Triaged, Withdrawn)
            | (Disclosed, Withdrawn)
    );
    if !allowed {
        return Err(TransitionError::NotAllowed {
            from: from.as_str(),
            to: to.as_str(),
        });
    }
    let ok = match (to, role) {
        (_, Role::Reviewer) => true,
        (Withdrawn, Role::Reporter) => matches!(from, Received | Triaged),
        (Withdrawn | Rejected, Role::Publisher) => false,
        (_, Role::Publisher) => true,
        (_, Role::Reporter) => false,
    };
    if !ok {
        return Err(TransitionError::Role {
            to: to.as_str(),
            who: match (to, from) {
                (Withdrawn, Received | Triaged) => "the reporter or an operator",
                (Withdrawn | Rejected, _) => "operators",
                _ => "operators and the publisher",
            },
        });
    }
    if to == Disclosed && now < disclosure_due {
        return Err(TransitionError::Embargoed {
            until: disclosure_due,
        });
    }
    Ok(())
}

/// The instants a record's clocks are computed from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Times {
    /// When the registry received the report (became aware).
    pub aware_at: i64,
    pub triaged_at: Option<i64>,
    /// When a fix was recorded (`mitigated`): the incident is resolved.
    pub resolved_at: Option<i64>,
    pub last_update_at: Option<i64>,
    pub final_report_at: Option<i64>,
    pub disclosed_at: Option<i64>,
    pub in_the_wild: bool,
    /// A per-record embargo that replaces the computed disclosure date.
    pub embargo_until: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Clock {
    pub name: &'static str,
    pub due: i64,
    pub met_at: Option<i64>,
    pub overdue: bool,
}

pub const UPDATE_EVERY_DAYS: i64 = 28;
pub const FINAL_REPORT_DAYS: i64 = 60;
pub const DISCLOSE_DAYS: i64 = 90;
pub const AFTER_FIX_DAYS: i64 = 30;
pub const IN_THE_WILD_DAYS: i64 = 7;

/// When the record may (and should) be disclosed: the embargo if one is set, else 7 days after
/// the report when exploited in the wild, else 90 days after the report or 30 after the fix,
/// whichever is sooner.
pub fn disclosure_due(t: &Times) -> i64 {
    if let Some(e) = t.embargo_until {
        return e;
    }
    if t.in_the_wild {
        return t.aware_at + IN_THE_WILD_DAYS * DAY;
    }
    let report = t.aware_at + DISCLOSE_DAYS * DAY;
    match t.resolved_at {
        Some(fix) => report.min(fix + AFTER_FIX_DAYS * DAY),
        None => report,
    }
}

/// Every clock of a record at `now`. Clocks of closed records (rejected, withdrawn) never run.
pub fn clocks(class: Class, state: State, t: &Times, now: i64) -> Vec<Clock> {
    let mut out = Vec::new();
    if matches!(state, State::Rejected | State::Withdrawn) {
        return out;
    }
    let clock = |name, due: i64, met_at: Option<i64>| Clock {
        name,
        due,
        met_at,
        overdue: met_at.is_none() && now > due,
    };
    if let Some(days) = class.initial_report_days() {
        out.push(clock(
            "initial_report",
            t.aware_at + days * DAY,
            t.triaged_at,
        ));
        if let Some(tri) = t.triaged_at
            && t.resolved_at.is_none()
        {
            let from = t.last_update_at.unwrap_or(tri).max(tri);
            out.push(clock("update", from + UPDATE_EVERY_DAYS * DAY, None));
        }
        if let Some(res) = t.resolved_at {
            out.push(clock(
                "final_report",
                res + FINAL_REPORT_DAYS * DAY,
                t.final_report_at,
            ));
        }
    }
    if state != State::Received && state != State::Triaged {
        out.push(clock("disclosure", disclosure_due(t), t.disclosed_at));
    }
    out
}

pub fn overdue(class: Class, state: State, t: &Times, now: i64) -> bool {
    clocks(class, state, t, now).iter().any(|c| c.overdue)
}

/// The OSV id of the `seq`-th record of `year`: `PREFIX-YYYY-NNNN`.
pub fn osv_id(prefix: &str, year: i32, seq: i64) -> String {
    format!("{prefix}-{year}-{seq:04}")
}

/// Ids of other databases accepted as OSV `aliases`: AVID, AIID and CVE.
pub fn valid_alias(s: &str) -> bool {
    let digits = |x: &str, min: usize| x.len() >= min && x.bytes().all(|b| b.is_ascii_digit());
    if let Some(rest) = s.strip_prefix("CVE-") {
        return rest
            .split_once('-')
            .is_some_and(|(y, n)| digits(y, 4) && y.len() == 4 && digits(n, 4));
    }
    if let Some(rest) = s.strip_prefix("AVID-") {
        return rest
            .split_once("-R")
            .is_some_and(|(y, n)| y.len() == 4 && digits(y, 4) && digits(n, 1));
    }
    if let Some(rest) = s.strip_prefix("AIID-") {
        return digits(rest, 1) && rest.len() <= 9;
    }
    false
}

#[cfg(test)]
mod tests;
