//! Risk tiers (DESIGN.md §2). Every repo has one; this issue only stores and reports it.
//! Gating by tier is the authorization module's job.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Tier {
    T0,
    T1,
    T2,
    T3,
    T4,
}

impl Tier {
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::T0 => "T0",
            Tier::T1 => "T1",
            Tier::T2 => "T2",
            Tier::T3 => "T3",
            Tier::T4 => "T4",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Tier::T0 => "open",
            Tier::T1 => "acknowledged",
            Tier::T2 => "vetted",
            Tier::T3 => "restricted",
            Tier::T4 => "sealed",
        }
    }

    pub fn parse(s: &str) -> Option<Tier> {
        match s {
            "T0" | "t0" | "open" => Some(Tier::T0),
            "T1" | "t1" | "acknowledged" => Some(Tier::T1),
            "T2" | "t2" | "vetted" => Some(Tier::T2),
            "T3" | "t3" | "restricted" => Some(Tier::T3),
            "T4" | "t4" | "sealed" => Some(Tier::T4),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        for t in [Tier::T0, Tier::T1, Tier::T2, Tier::T3, Tier::T4] {
            assert_eq!(Tier::parse(t.as_str()), Some(t));
            assert_eq!(Tier::parse(t.name()), Some(t));
        }
        assert!(Tier::T0 < Tier::T4);
        assert_eq!(Tier::parse("T9"), None);
    }
}
