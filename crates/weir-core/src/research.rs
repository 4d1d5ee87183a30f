//! The research environment's access levels, job kinds and project lifecycle (issue 13, point 1),
//! pure: which level a job kind needs, the highest level a tier allows (T4: black-box only), and
//! the states a project goes through. The authorization module decides with these; the store
//! keeps them.

use serde::{Deserialize, Serialize};

use crate::Tier;

/// How much of a model a project's jobs may see, lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum AccessLevel {
    /// Black-box: built-in jobs; outputs are generated text and scores.
    #[serde(rename = "AL1")]
    Al1,
    /// Grey-box: adds top-k logits and per-token log-probabilities.
    #[serde(rename = "AL2")]
    Al2,
    /// White-box: the researcher's own program, reading the weights inside the sandbox.
    #[serde(rename = "AL3")]
    Al3,
}

impl AccessLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            AccessLevel::Al1 => "AL1",
            AccessLevel::Al2 => "AL2",
            AccessLevel::Al3 => "AL3",
        }
    }

    pub fn parse(s: &str) -> Option<AccessLevel> {
        match s {
            "AL1" | "al1" | "black-box" => Some(AccessLevel::Al1),
            "AL2" | "al2" | "grey-box" | "gray-box" => Some(AccessLevel::Al2),
            "AL3" | "al3" | "white-box" => Some(AccessLevel::Al3),
            _ => None,
        }
    }

    /// The highest level a model of `tier` allows: T4 (sealed) only black-box, every other
    /// tier up to white-box.
    pub fn highest_for(tier: Tier) -> AccessLevel {
        match tier {
            Tier::T4 => AccessLevel::Al1,
            _ => AccessLevel::Al3,
        }
    }
}

/// What a job does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobKind {
    /// Prompts in, completions out.
    Generate,
    /// Multiple-choice questions scored by log-likelihood (WMDP format in, lm-eval results out).
    Mcq,
    /// Top-k logits for given prompts.
    Logits,
    /// The researcher's own program, with the weights mounted read-only.
    Command,
}

impl JobKind {
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Generate => "generate",
            JobKind::Mcq => "mcq",
            JobKind::Logits => "logits",
            JobKind::Command => "command",
        }
    }

    pub fn parse(s: &str) -> Option<JobKind> {
        match s {
            "generate" => Some(JobKind::Generate),
            "mcq" => Some(JobKind::Mcq),
            "logits" => Some(JobKind::Logits),
            "command" => Some(JobKind::Command),
            _ => None,
        }
    }

    /// The access level this kind of job needs.
    pub fn needs(self) -> AccessLevel {
        match self {
            JobKind::Generate | JobKind::Mcq => AccessLevel::Al1,
            JobKind::Logits => AccessLevel::Al2,
            JobKind::Command => AccessLevel::Al3,
        }
    }
}

/// Why a job may not run on a model under a project's grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LevelRefusal {
    /// The kind needs a higher level than the project holds on this model.
    KindNeedsLevel,
    /// The model's tier caps the level below what the kind needs (T4 runs AL1 only).
    TierCapsLevel,
}

impl LevelRefusal {
    /// The machine reason code.
    pub fn code(self) -> &'static str {
        match self {
            LevelRefusal::KindNeedsLevel => "kind_needs_level",
            LevelRefusal::TierCapsLevel => "tier_caps_level",
        }
    }
}

/// Whether a job of `kind` may run on a model of `tier` for a project granted `granted` on it.
/// The tier's cap is checked first, so a T4 model answers the same whatever was granted.
pub fn level_allows(kind: JobKind, tier: Tier, granted: AccessLevel) -> Result<(), LevelRefusal> {
    if kind.needs() > AccessLevel::highest_for(tier) {
        return Err(LevelRefusal::TierCapsLevel);
    }
    if kind.needs() > granted {
        return Err(LevelRefusal::KindNeedsLevel);
    }
    Ok(())
}

/// A research project's state as stored; `expired` is derived from its expiry at each decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProjectState {
    Applied,
    Approved,
    Rejected,
    Revoked,
}

/// A project's state at an instant: as stored, except that an approved project past its expiry
/// is expired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProjectStanding {
    Applied,
    Active,
    Rejected,
    Revoked,
    Expired,
}

impl ProjectState {
    pub fn as_str(self) -> &'static str {
        match self {
            ProjectState::Applied => "applied",
            ProjectState::Approved => "approved",
            ProjectState::Rejected => "rejected",
            ProjectState::Revoked => "revoked",
        }
    }

    pub fn parse(s: &str) -> Option<ProjectState> {
        match s {
            "applied" => Some(ProjectState::Applied),
            "approved" => Some(ProjectState::Approved),
            "rejected" => Some(ProjectState::Rejected),
            "revoked" => Some(ProjectState::Revoked),
            _ => None,
        }
    }

    /// The state at `now` (unix seconds) for a project expiring at `expires_at`.
    pub fn at(self, now: i64, expires_at: Option<i64>) -> ProjectStanding {
        match self {
            ProjectState::Applied => ProjectStanding::Applied,
            ProjectState::Rejected => ProjectStanding::Rejected,
            ProjectState::Revoked => ProjectStanding::Revoked,
            ProjectState::Approved if expires_at.is_some_and(|e| now >= e) => {
                ProjectStanding::Expired
            }
            ProjectState::Approved => ProjectStanding::Active,
        }
    }

    /// Whether an operator's decision may move a project from this state to `to`: an
    /// application is approved or rejected, an approved project revoked; nothing else (a
    /// rejected or revoked project is applied for anew).
    pub fn may_become(self, to: ProjectState) -> bool {
        matches!(
            (self, to),
            (ProjectState::Applied, ProjectState::Approved)
                | (ProjectState::Applied, ProjectState::Rejected)
                | (ProjectState::Approved, ProjectState::Revoked)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIERS: [Tier; 5] = [Tier::T0, Tier::T1, Tier::T2, Tier::T3, Tier::T4];
    const LEVELS: [AccessLevel; 3] = [AccessLevel::Al1, AccessLevel::Al2, AccessLevel::Al3];
    const KINDS: [JobKind; 4] = [
        JobKind::Generate,
        JobKind::Mcq,
        JobKind::Logits,
        JobKind::Command,
    ];

    #[test]
    fn names_round_trip() {
        for l in LEVELS {
            assert_eq!(AccessLevel::parse(l.as_str()), Some(l));
            assert_eq!(
                serde_json::to_value(l).expect("json"),
                serde_json::json!(l.as_str())
            );
        }
        for k in KINDS {
            assert_eq!(JobKind::parse(k.as_str()), Some(k));
        }
        for s in [
            ProjectState::Applied,
            ProjectState::Approved,
            ProjectState::Rejected,
            ProjectState::Revoked,
        ] {
            assert_eq!(ProjectState::parse(s.as_str()), Some(s));
        }
        assert_eq!(AccessLevel::parse("AL4"), None);
        assert_eq!(JobKind::parse("shell"), None);
    }

    /// A sealed model never runs grey- or white-box jobs, whatever a project was granted; on
    /// every other tier a job runs exactly when the grant covers its kind.
    #[test]
    fn the_whole_level_matrix() {
        for tier in TIERS {
            for granted in LEVELS {
                for kind in KINDS {
                    let got = level_allows(kind, tier, granted);
                    let want = if tier == Tier::T4 && kind.needs() > AccessLevel::Al1 {
                        Err(LevelRefusal::TierCapsLevel)
                    } else if kind.needs() > granted {
                        Err(LevelRefusal::KindNeedsLevel)
                    } else {
                        Ok(())
                    };
                    assert_eq!(got, want, "{tier:?} granted {granted:?} kind {kind:?}");
                }
            }
        }
        assert_eq!(
            level_allows(JobKind::Command, Tier::T4, AccessLevel::Al3),
            Err(LevelRefusal::TierCapsLevel)
        );
        assert_eq!(
            level_allows(JobKind::Mcq, Tier::T4, AccessLevel::Al3),
            Ok(())
        );
    }

    #[test]
    fn projects_expire_and_move_only_forward() {
        let s = ProjectState::Approved;
        assert_eq!(s.at(99, Some(100)), ProjectStanding::Active);
        assert_eq!(s.at(100, Some(100)), ProjectStanding::Expired);
        assert_eq!(s.at(i64::MAX, None), ProjectStanding::Active);
        assert_eq!(ProjectState::Revoked.at(0, None), ProjectStanding::Revoked);
        assert!(ProjectState::Applied.may_become(ProjectState::Approved));
        assert!(ProjectState::Applied.may_become(ProjectState::Rejected));
        assert!(ProjectState::Approved.may_become(ProjectState::Revoked));
        for (from, to) in [
            (ProjectState::Rejected, ProjectState::Approved),
            (ProjectState::Revoked, ProjectState::Approved),
            (ProjectState::Approved, ProjectState::Approved),
            (ProjectState::Approved, ProjectState::Applied),
            (ProjectState::Applied, ProjectState::Revoked),
        ] {
            assert!(!from.may_become(to), "{from:?} -> {to:?}");
        }
    }
}
