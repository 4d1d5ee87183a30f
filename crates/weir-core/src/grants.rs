//! Public-interest compute grants (issue 14, point 1), pure: a call's routes and how each is
//! reviewed, the panel's majority, the two tranches of an award and an award's standing at a
//! moment. The store keeps calls, applications, reviews and awards; the registry applies these.
//!
//! Compute is counted in milliseconds of CPU (and GPU) time, the unit jobs are metered in, so
//! an award's usage is the exact sum of its jobs' charges.

use serde::{Deserialize, Serialize};

/// Milliseconds in an hour.
pub const HOUR_MS: i64 = 3_600_000;
/// The most routes a call has.
pub const MAX_ROUTES: usize = 8;
/// The largest cap of a route, in hours (ten times AIRR's largest).
pub const MAX_ROUTE_HOURS: i64 = 14_000_000;
/// Reviewers on a panel, and how many agreeing votes decide.
pub const PANEL_SIZE: usize = 3;
pub const PANEL_MAJORITY: usize = 2;

/// How a route's applications are decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewMode {
    /// Awarded at once when the applicant's identity level meets the call's `auto_level`;
    /// otherwise one reviewer decides.
    Automatic,
    /// One operator decides.
    Single,
    /// Three operators vote; two agreeing votes decide.
    Panel,
}

impl ReviewMode {
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewMode::Automatic => "automatic",
            ReviewMode::Single => "single",
            ReviewMode::Panel => "panel",
        }
    }
}

/// One route of a call: its caps, how long an award on it lasts and how it is reviewed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    pub name: String,
    pub gpu_hours: i64,
    pub cpu_hours: i64,
    /// An award on this route lasts this many months (30 days each) from its start.
    pub months: i64,
    pub review: ReviewMode,
    /// Days a reviewer has to decide an application.
    pub review_days: i64,
}

/// The default routes, mirroring the UK AI Research Resource's (governance-anchors §7.2):
/// Gateway 10,000 GPU-hours in 3 months, Rapid Access 20,000 in 3, Innovator 150,000 in 6, the
/// open-access call 1,400,000 in 12. CPU-hour caps equal to the GPU-hour caps, the review
/// deadlines and the review of each route (automatic for the smallest, one reviewer for the
/// middle two, a panel for the largest) are ours.
pub fn default_routes() -> Vec<Route> {
    let r = |name: &str, hours: i64, months: i64, review, review_days| Route {
        name: name.into(),
        gpu_hours: hours,
        cpu_hours: hours,
        months,
        review,
        review_days,
    };
    vec![
        r("gateway", 10_000, 3, ReviewMode::Automatic, 5),
        r("rapid", 20_000, 3, ReviewMode::Single, 10),
        r("innovator", 150_000, 6, ReviewMode::Single, 20),
        r("open", 1_400_000, 12, ReviewMode::Panel, 30),
    ]
}

/// A plain lowercase name: 1 to 40 letters, digits, `-` or `_`, starting with a letter.
pub fn plain_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 40
        && s.as_bytes()[0].is_ascii_lowercase()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// A call's routes: 1 to [`MAX_ROUTES`], plain distinct names, caps of 0 to
/// [`MAX_ROUTE_HOURS`] hours (not both 0), 1 to 36 months, 1 to 90 review days.
pub fn check_routes(routes: &[Route]) -> Result<(), String> {
    if routes.is_empty() || routes.len() > MAX_ROUTES {
        return Err(format!("a call has 1 to {MAX_ROUTES} routes"));
    }
    for (i, r) in routes.iter().enumerate() {
        if !plain_name(&r.name) {
            return Err(format!(
                "route name {:?}: 1 to 40 lowercase letters, digits, '-' or '_'",
                r.name
            ));
        }
        if routes[..i].iter().any(|o| o.name == r.name) {
            return Err(format!("route {} is named twice", r.name));
        }
        let hours = 0..=MAX_ROUTE_HOURS;
        if !hours.contains(&r.gpu_hours)
            || !hours.contains(&r.cpu_hours)
            || r.gpu_hours + r.cpu_hours == 0
        {
            return Err(format!(
                "route {}: caps are 0 to {MAX_ROUTE_HOURS} hours, not both 0",
                r.name
            ));
        }
        if !(1..=36).contains(&r.months) {
            return Err(format!("route {}: 1 to 36 months", r.name));
        }
        if !(1..=90).contains(&r.review_days) {
            return Err(format!("route {}: 1 to 90 review days", r.name));
        }
    }
    Ok(())
}

/// A reviewer's vote on an application.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Vote {
    Award,
    Reject,
}

impl Vote {
    pub fn as_str(self) -> &'static str {
        match self {
            Vote::Award => "award",
            Vote::Reject => "reject",
        }
    }

    pub fn parse(s: &str) -> Option<Vote> {
        match s {
            "award" | "approve" => Some(Vote::Award),
            "reject" => Some(Vote::Reject),
            _ => None,
        }
    }
}

/// What the votes cast so far decide under `mode`: `None` while undecided. A single reviewer's
/// vote decides; a panel is decided once [`PANEL_MAJORITY`] votes agree.
pub fn outcome(mode: ReviewMode, votes: &[Vote]) -> Option<Vote> {
    match mode {
        ReviewMode::Automatic | ReviewMode::Single => votes.first().copied(),
        ReviewMode::Panel => [Vote::Award, Vote::Reject]
            .into_iter()
            .find(|v| votes.iter().filter(|x| *x == v).count() >= PANEL_MAJORITY),
    }
}

/// The first tranche of an award of `total`: half, rounded up; the rest follows an accepted
/// progress report (ACCESS's two halves, governance-anchors §7.3).
pub fn first_tranche(total: i64) -> i64 {
    total - total / 2
}

/// An award's facts at a moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AwardFacts {
    pub starts_at: i64,
    pub ends_at: i64,
    pub revoked: bool,
    /// Released so far (the first tranche, then all), and used, in ms.
    pub released_cpu_ms: i64,
    pub used_cpu_ms: i64,
    pub released_gpu_ms: i64,
    pub used_gpu_ms: i64,
}

/// What a project's compute budget allows now, as the job decision sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Budget {
    /// Compute left (the award's released tranches, or the project's own quota).
    Available,
    /// Nothing left of what is released (or of the project's quota).
    Exhausted,
    /// The award's start is still ahead.
    NotStarted,
    /// The award's end is past.
    Expired,
    /// The award was revoked.
    Revoked,
}

impl Budget {
    pub const ALL: [Budget; 5] = [
        Budget::Available,
        Budget::Exhausted,
        Budget::NotStarted,
        Budget::Expired,
        Budget::Revoked,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Budget::Available => "active",
            Budget::Exhausted => "exhausted",
            Budget::NotStarted => "not_started",
            Budget::Expired => "expired",
            Budget::Revoked => "revoked",
        }
    }
}

impl AwardFacts {
    /// CPU ms left of what is released.
    pub fn remaining_cpu_ms(&self) -> i64 {
        (self.released_cpu_ms - self.used_cpu_ms).max(0)
    }

    /// The award's standing at `now`, with `min_start_ms`: the least CPU time a job needs left
    /// to start. Revoked, then expired, then not started, then exhausted.
    pub fn standing(&self, now: i64, min_start_ms: i64) -> Budget {
        if self.revoked {
            Budget::Revoked
        } else if now >= self.ends_at {
            Budget::Expired
        } else if now < self.starts_at {
            Budget::NotStarted
        } else if self.remaining_cpu_ms() < min_start_ms {
            Budget::Exhausted
        } else {
            Budget::Available
        }
    }
}

/// An application's state. Submitted → awarded | rejected | withdrawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApplicationState {
    Submitted,
    Awarded,
    Rejected,
    Withdrawn,
}

impl ApplicationState {
    pub fn as_str(self) -> &'static str {
        match self {
            ApplicationState::Submitted => "submitted",
            ApplicationState::Awarded => "awarded",
            ApplicationState::Rejected => "rejected",
            ApplicationState::Withdrawn => "withdrawn",
        }
    }

    pub fn parse(s: &str) -> Option<ApplicationState> {
        match s {
            "submitted" => Some(ApplicationState::Submitted),
            "awarded" => Some(ApplicationState::Awarded),
            "rejected" => Some(ApplicationState::Rejected),
            "withdrawn" => Some(ApplicationState::Withdrawn),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_routes_mirror_airr_and_pass_their_own_checks() {
        let r = default_routes();
        assert_eq!(check_routes(&r), Ok(()));
        assert_eq!(
            r.iter().map(|x| x.gpu_hours).collect::<Vec<_>>(),
            vec![10_000, 20_000, 150_000, 1_400_000]
        );
        assert_eq!(r[0].review, ReviewMode::Automatic);
        assert_eq!(r[3].review, ReviewMode::Panel);
        let mut twice = r.clone();
        twice[1].name = "gateway".into();
        assert!(check_routes(&twice).is_err());
        let mut zero = r.clone();
        zero[0].gpu_hours = 0;
        zero[0].cpu_hours = 0;
        assert!(check_routes(&zero).is_err());
        assert!(check_routes(&[]).is_err());
        let mut bad = r;
        bad[0].name = "Gate way".into();
        assert!(check_routes(&bad).is_err());
    }

    #[test]
    fn a_panel_needs_two_agreeing_votes_and_a_single_reviewer_one() {
        use Vote::*;
        assert_eq!(outcome(ReviewMode::Panel, &[]), None);
        assert_eq!(outcome(ReviewMode::Panel, &[Award]), None);
        assert_eq!(outcome(ReviewMode::Panel, &[Award, Reject]), None);
        assert_eq!(
            outcome(ReviewMode::Panel, &[Award, Reject, Award]),
            Some(Award)
        );
        assert_eq!(outcome(ReviewMode::Panel, &[Reject, Reject]), Some(Reject));
        assert_eq!(outcome(ReviewMode::Single, &[Reject]), Some(Reject));
        assert_eq!(outcome(ReviewMode::Single, &[]), None);
    }

    #[test]
    fn an_award_stands_in_order_revoked_expired_not_started_exhausted() {
        let f = AwardFacts {
            starts_at: 100,
            ends_at: 200,
            revoked: false,
            released_cpu_ms: 5_000,
            used_cpu_ms: 0,
            released_gpu_ms: 0,
            used_gpu_ms: 0,
        };
        assert_eq!(f.standing(150, 1000), Budget::Available);
        assert_eq!(f.standing(99, 1000), Budget::NotStarted);
        assert_eq!(f.standing(200, 1000), Budget::Expired);
        let spent = AwardFacts {
            used_cpu_ms: 4_500,
            ..f
        };
        assert_eq!(spent.standing(150, 1000), Budget::Exhausted);
        assert_eq!(spent.remaining_cpu_ms(), 500);
        let over = AwardFacts {
            used_cpu_ms: 9_000,
            ..f
        };
        assert_eq!(over.remaining_cpu_ms(), 0);
        let revoked = AwardFacts {
            revoked: true,
            ..spent
        };
        assert_eq!(revoked.standing(250, 1000), Budget::Revoked);
        assert_eq!(first_tranche(7), 4);
        assert_eq!(first_tranche(10), 5);
    }
}
