//! Access requests for gated repos (DESIGN.md §2): the state machine, review deadlines and the
//! cool-down after a rejection. Pure: time is passed in as unix seconds.

use serde::{Deserialize, Serialize};

/// Stored states. `requested → pending_review` happens in one step here (`Pending`); expiry is
/// derived from `expires_at` at read time rather than stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestState {
    Pending,
    Approved,
    Rejected,
    Revoked,
    Reset,
}

impl RequestState {
    pub fn as_str(self) -> &'static str {
        match self {
            RequestState::Pending => "pending",
            RequestState::Approved => "approved",
            RequestState::Rejected => "rejected",
            RequestState::Revoked => "revoked",
            RequestState::Reset => "reset",
        }
    }

    pub fn parse(s: &str) -> Option<RequestState> {
        [
            RequestState::Pending,
            RequestState::Approved,
            RequestState::Rejected,
            RequestState::Revoked,
            RequestState::Reset,
        ]
        .into_iter()
        .find(|r| r.as_str() == s)
    }
}

/// What authorization sees of a user's request for one repo, at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GrantState {
    None,
    Pending,
    Approved,
    Expired,
    Revoked,
    Rejected,
}

impl GrantState {
    pub const ALL: [GrantState; 6] = [
        GrantState::None,
        GrantState::Pending,
        GrantState::Approved,
        GrantState::Expired,
        GrantState::Revoked,
        GrantState::Rejected,
    ];

    /// The grant a stored request amounts to at `now`.
    pub fn of(state: Option<RequestState>, expires_at: Option<i64>, now: i64) -> GrantState {
        match state {
            None | Some(RequestState::Reset) => GrantState::None,
            Some(RequestState::Pending) => GrantState::Pending,
            Some(RequestState::Approved) if expires_at.is_some_and(|e| e <= now) => {
                GrantState::Expired
            }
            Some(RequestState::Approved) => GrantState::Approved,
            Some(RequestState::Rejected) => GrantState::Rejected,
            Some(RequestState::Revoked) => GrantState::Revoked,
        }
    }

    /// The name shown to users (`expired` is derived, the rest mirror the stored state).
    pub fn as_str(self) -> &'static str {
        match self {
            GrantState::None => "none",
            GrantState::Pending => "pending",
            GrantState::Approved => "approved",
            GrantState::Expired => "expired",
            GrantState::Revoked => "revoked",
            GrantState::Rejected => "rejected",
        }
    }
}

/// Reviewer decisions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReviewAction {
    Approve,
    Reject,
    Revoke,
    /// Clears the request: the user may file a new one at once.
    Reset,
    /// Puts an existing request back in the pending list (the Hub's `cancel_access_request`):
    /// the user loses access until a reviewer decides again.
    Return,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    #[error("a request is already pending review")]
    AlreadyPending,
    #[error("access is already approved")]
    AlreadyApproved,
    #[error("the request was rejected; you may request again after {until} (unix time)")]
    CoolDown { until: i64 },
    #[error("cannot {action} a request that is {state}")]
    Invalid {
        action: &'static str,
        state: &'static str,
    },
}

/// Default cool-down after a rejection before the user may request again.
pub const REJECTION_COOL_DOWN_SECS: i64 = 7 * 24 * 3600;
/// Default review deadline, in working days.
pub const REVIEW_WORKING_DAYS: u32 = 5;

/// May a user with this stored request ask again now?
pub fn can_request(
    state: Option<RequestState>,
    expires_at: Option<i64>,
    decided_at: Option<i64>,
    now: i64,
) -> Result<(), TransitionError> {
    match GrantState::of(state, expires_at, now) {
        GrantState::Pending => Err(TransitionError::AlreadyPending),
        GrantState::Approved => Err(TransitionError::AlreadyApproved),
        GrantState::Rejected => {
            let until = decided_at.unwrap_or(0) + REJECTION_COOL_DOWN_SECS;
            if now < until {
                Err(TransitionError::CoolDown { until })
            } else {
                Ok(())
            }
        }
        GrantState::None | GrantState::Expired | GrantState::Revoked => Ok(()),
    }
}

/// The state a reviewer's action leads to from the current one.
pub fn review(
    current: Option<RequestState>,
    action: ReviewAction,
) -> Result<RequestState, TransitionError> {
    let state = current.map(RequestState::as_str).unwrap_or("absent");
    match (current, action) {
        (_, ReviewAction::Reset) => Ok(RequestState::Reset),
        // Back to pending from a decision; a pending request keeps its due date (returning it
        // again never makes an overdue review look fresh), and a cleared one stays cleared.
        (Some(RequestState::Pending), ReviewAction::Return) => Err(TransitionError::AlreadyPending),
        (Some(RequestState::Reset), ReviewAction::Return) => Err(TransitionError::Invalid {
            action: "return to pending",
            state,
        }),
        (Some(_), ReviewAction::Return) => Ok(RequestState::Pending),
        (None, ReviewAction::Return) => Err(TransitionError::Invalid {
            action: "return to pending",
            state,
        }),
        // A reviewer may grant access directly (HF's "grant"), or approve a pending or rejected request.
        (_, ReviewAction::Approve) => Ok(RequestState::Approved),
        (Some(RequestState::Pending), ReviewAction::Reject) => Ok(RequestState::Rejected),
        (Some(RequestState::Approved), ReviewAction::Reject) => Ok(RequestState::Rejected),
        (Some(RequestState::Approved), ReviewAction::Revoke) => Ok(RequestState::Revoked),
        (_, ReviewAction::Reject) => Err(TransitionError::Invalid {
            action: "reject",
            state,
        }),
        (_, ReviewAction::Revoke) => Err(TransitionError::Invalid {
            action: "revoke",
            state,
        }),
    }
}

/// `start` plus `days` working days (Monday to Friday), as unix seconds.
pub fn add_working_days(start: i64, days: u32) -> i64 {
    const DAY: i64 = 86_400;
    let mut t = start;
    let mut left = days;
    while left > 0 {
        t += DAY;
        // 1970-01-01 was a Thursday: day index 0 → Thursday.
        let weekday = (t.div_euclid(DAY) + 3).rem_euclid(7); // 0 = Monday … 6 = Sunday
        if weekday < 5 {
            left -= 1;
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grant_state_derives_expiry() {
        assert_eq!(GrantState::of(None, None, 10), GrantState::None);
        assert_eq!(
            GrantState::of(Some(RequestState::Approved), Some(20), 10),
            GrantState::Approved
        );
        assert_eq!(
            GrantState::of(Some(RequestState::Approved), Some(10), 10),
            GrantState::Expired
        );
        assert_eq!(
            GrantState::of(Some(RequestState::Approved), None, 10),
            GrantState::Approved
        );
        assert_eq!(
            GrantState::of(Some(RequestState::Reset), None, 10),
            GrantState::None
        );
    }

    #[test]
    fn re_request_rules() {
        assert_eq!(
            can_request(Some(RequestState::Pending), None, None, 0),
            Err(TransitionError::AlreadyPending)
        );
        assert_eq!(
            can_request(Some(RequestState::Rejected), None, Some(100), 101),
            Err(TransitionError::CoolDown {
                until: 100 + REJECTION_COOL_DOWN_SECS
            })
        );
        assert_eq!(
            can_request(
                Some(RequestState::Rejected),
                None,
                Some(100),
                100 + REJECTION_COOL_DOWN_SECS
            ),
            Ok(())
        );
        assert_eq!(
            can_request(Some(RequestState::Approved), Some(5), None, 10),
            Ok(()),
            "expired grants may be renewed"
        );
        assert_eq!(
            can_request(Some(RequestState::Revoked), None, None, 10),
            Ok(())
        );
    }

    #[test]
    fn reviews() {
        assert_eq!(
            review(Some(RequestState::Pending), ReviewAction::Approve),
            Ok(RequestState::Approved)
        );
        assert_eq!(
            review(None, ReviewAction::Approve),
            Ok(RequestState::Approved)
        );
        assert_eq!(
            review(Some(RequestState::Pending), ReviewAction::Reject),
            Ok(RequestState::Rejected)
        );
        assert!(review(Some(RequestState::Pending), ReviewAction::Revoke).is_err());
        assert!(review(None, ReviewAction::Reject).is_err());
        assert_eq!(
            review(Some(RequestState::Approved), ReviewAction::Revoke),
            Ok(RequestState::Revoked)
        );
        assert_eq!(
            review(Some(RequestState::Rejected), ReviewAction::Reset),
            Ok(RequestState::Reset)
        );
    }

    #[test]
    fn working_days_skip_weekends() {
        // 2026-11-27 is a Friday (unix 1795737600 is 2026-11-27T00:00:00Z).
        let friday = 1_795_737_600;
        let due = add_working_days(friday, 5);
        assert_eq!(
            (due - friday) / 86_400,
            7,
            "Friday + 5 working days = next Friday"
        );
        let monday = friday + 3 * 86_400;
        assert_eq!((add_working_days(monday, 5) - monday) / 86_400, 7);
        assert_eq!((add_working_days(monday, 1) - monday) / 86_400, 1);
    }
}
