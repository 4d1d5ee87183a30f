//! Publisher standing (DESIGN.md §5): `good | probation | suspended`, decided from a publisher's
//! accountability record by the documented rules of the policy file's `[standing]` section.
//! Good standing may self-classify T0/T1 releases; probation requires accredited third-party
//! evaluations and an operator's sign-off for every release; suspended cannot release.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Standing {
    Good,
    Probation,
    Suspended,
}

impl Standing {
    pub fn as_str(self) -> &'static str {
        match self {
            Standing::Good => "good",
            Standing::Probation => "probation",
            Standing::Suspended => "suspended",
        }
    }

    pub fn parse(s: &str) -> Option<Standing> {
        match s {
            "good" => Some(Standing::Good),
            "probation" => Some(Standing::Probation),
            "suspended" => Some(Standing::Suspended),
            _ => None,
        }
    }
}

/// The thresholds, with the source they rest on (all ours: no framework sets them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StandingRules {
    pub source: String,
    /// Incidents count towards standing for this many days after confirmation.
    pub window_days: i64,
    /// Confirmed incidents of severity `critical` in the window that suspend.
    pub suspend_critical_incidents: usize,
    /// Overdue regulatory reports that suspend.
    pub suspend_overdue_reports: usize,
    /// Confirmed incidents of severity `high` or more in the window that put on probation.
    pub probation_high_incidents: usize,
    pub probation_overdue_reports: usize,
    /// Releases later re-classified upwards (under-classified) that put on probation.
    pub probation_under_classified: usize,
    /// Below this share of releases with complete accepted pre-release evaluations…
    pub probation_min_evaluated_share: f64,
    /// …once the publisher has made at least this many releases.
    pub probation_min_releases: usize,
}

impl Default for StandingRules {
    fn default() -> Self {
        StandingRules {
            source: "weir's own accountability rules (no framework sets these numbers); serious-incident reporting duties from the EU GPAI Code of Practice, Safety & Security chapter".into(),
            window_days: 365,
            suspend_critical_incidents: 1,
            suspend_overdue_reports: 3,
            probation_high_incidents: 1,
            probation_overdue_reports: 1,
            probation_under_classified: 1,
            probation_min_evaluated_share: 0.5,
            probation_min_releases: 4,
        }
    }
}

impl StandingRules {
    pub fn validate(&self) -> Result<(), String> {
        if self.source.trim().is_empty() {
            return Err("must name its source".into());
        }
        if self.window_days < 1 {
            return Err("window_days must be at least 1".into());
        }
        for (name, n) in [
            (
                "suspend_critical_incidents",
                self.suspend_critical_incidents,
            ),
            ("suspend_overdue_reports", self.suspend_overdue_reports),
            ("probation_high_incidents", self.probation_high_incidents),
            ("probation_overdue_reports", self.probation_overdue_reports),
            (
                "probation_under_classified",
                self.probation_under_classified,
            ),
        ] {
            if n == 0 {
                return Err(format!("{name} must be at least 1"));
            }
        }
        if !(0.0..=1.0).contains(&self.probation_min_evaluated_share) {
            return Err("probation_min_evaluated_share must be in [0, 1]".into());
        }
        Ok(())
    }
}

/// A publisher's accountability record, as the rules see it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PublisherFacts {
    pub releases: usize,
    /// Releases with complete, accepted (signed by an accredited evaluator) evaluations of
    /// every evaluable hazard domain on the released revision, made before the release.
    pub evaluated_releases: usize,
    /// Confirmed incidents (confirmed, mitigated or disclosed) in the window, by severity.
    pub recent_high: usize,
    pub recent_critical: usize,
    pub overdue_reports: usize,
    pub under_classified: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub standing: Standing,
    /// The rule that decided (`none` when no rule applies).
    pub rule: &'static str,
    pub detail: String,
}

pub fn decide(r: &StandingRules, f: &PublisherFacts) -> Decision {
    let d = |standing, rule, detail: String| Decision {
        standing,
        rule,
        detail,
    };
    if f.recent_critical >= r.suspend_critical_incidents {
        return d(
            Standing::Suspended,
            "suspend_critical_incidents",
            format!(
                "{} confirmed critical incident(s) in {} days (rule: {} suspends)",
                f.recent_critical, r.window_days, r.suspend_critical_incidents
            ),
        );
    }
    if f.overdue_reports >= r.suspend_overdue_reports {
        return d(
            Standing::Suspended,
            "suspend_overdue_reports",
            format!(
                "{} overdue incident report(s) (rule: {} suspends)",
                f.overdue_reports, r.suspend_overdue_reports
            ),
        );
    }
    if f.recent_high + f.recent_critical >= r.probation_high_incidents {
        return d(
            Standing::Probation,
            "probation_high_incidents",
            format!(
                "{} confirmed incident(s) of severity high or critical in {} days (rule: {} puts on probation)",
                f.recent_high + f.recent_critical,
                r.window_days,
                r.probation_high_incidents
            ),
        );
    }
    if f.overdue_reports >= r.probation_overdue_reports {
        return d(
            Standing::Probation,
            "probation_overdue_reports",
            format!(
                "{} overdue incident report(s) (rule: {} puts on probation)",
                f.overdue_reports, r.probation_overdue_reports
            ),
        );
    }
    if f.under_classified >= r.probation_under_classified {
        return d(
            Standing::Probation,
            "probation_under_classified",
            format!(
                "{} release(s) later re-classified upwards (rule: {} puts on probation)",
                f.under_classified, r.probation_under_classified
            ),
        );
    }
    if f.releases >= r.probation_min_releases {
        let share = f.evaluated_releases as f64 / f.releases as f64;
        if share < r.probation_min_evaluated_share {
            return d(
                Standing::Probation,
                "probation_min_evaluated_share",
                format!(
                    "{:.0}% of {} releases had complete accepted pre-release evaluations (rule: below {:.0}% puts on probation)",
                    share * 100.0,
                    f.releases,
                    r.probation_min_evaluated_share * 100.0
                ),
            );
        }
    }
    d(Standing::Good, "none", "no standing rule applies".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_in_order() {
        let r = StandingRules::default();
        assert!(r.validate().is_ok());
        let good = PublisherFacts::default();
        assert_eq!(decide(&r, &good).standing, Standing::Good);
        let high = PublisherFacts {
            recent_high: 1,
            ..Default::default()
        };
        let d = decide(&r, &high);
        assert_eq!(
            (d.standing, d.rule),
            (Standing::Probation, "probation_high_incidents")
        );
        let critical = PublisherFacts {
            recent_critical: 1,
            ..Default::default()
        };
        assert_eq!(decide(&r, &critical).standing, Standing::Suspended);
        let overdue = PublisherFacts {
            overdue_reports: 3,
            ..Default::default()
        };
        assert_eq!(decide(&r, &overdue).rule, "suspend_overdue_reports");
        let under = PublisherFacts {
            under_classified: 1,
            ..Default::default()
        };
        assert_eq!(decide(&r, &under).rule, "probation_under_classified");
        let careless = PublisherFacts {
            releases: 4,
            evaluated_releases: 1,
            ..Default::default()
        };
        assert_eq!(decide(&r, &careless).rule, "probation_min_evaluated_share");
        let few = PublisherFacts {
            releases: 3,
            evaluated_releases: 0,
            ..Default::default()
        };
        assert_eq!(decide(&r, &few).standing, Standing::Good);
        let mut bad = r.clone();
        bad.probation_overdue_reports = 0;
        assert!(bad.validate().is_err());
    }
}
