//! The funding ledger (issue 14, points 2 and 4), pure: amounts in one currency as exact
//! integers of its minor unit, and a pool's balance as the fold of its entries. Every entry
//! either applies (the balance stays non-negative in every part) or is refused and changes
//! nothing, so any sequence of entries keeps the balance equal to the sum of the accepted ones.
//! weir records obligations and decisions; it moves no money.

use serde::{Deserialize, Serialize};

/// The largest amount of one entry, in minor units (10^15: a trillion euros in cents... and
/// more; well inside i64 when summed over many entries).
pub const MAX_AMOUNT: i64 = 1_000_000_000_000_000;

/// The most a pool holds pledged, in minor units (a hundred times [`MAX_AMOUNT`]).
pub const MAX_POOL: i64 = 100 * MAX_AMOUNT;

/// Parses a decimal amount (`12`, `12.5`, `12.34`) into minor units with `decimals` digits
/// after the point: exact, positive, at most [`MAX_AMOUNT`]; more digits than the currency has
/// are refused, never rounded.
pub fn parse_amount(s: &str, decimals: u32) -> Result<i64, String> {
    let s = s.trim();
    let (whole, frac) = match s.split_once('.') {
        Some((w, f)) => (w, f),
        None => (s, ""),
    };
    if whole.is_empty()
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
        || (s.contains('.') && frac.is_empty())
    {
        return Err(format!(
            "{s:?} is not an amount (digits, an optional point and decimals)"
        ));
    }
    if frac.len() > decimals as usize {
        return Err(format!(
            "{s:?} has more than {decimals} decimals, the currency's minor unit"
        ));
    }
    let scale = 10i64.pow(decimals);
    let w: i64 = whole
        .parse()
        .ok()
        .filter(|w: &i64| *w <= MAX_AMOUNT / scale)
        .ok_or_else(|| format!("{s:?} is too large"))?;
    let mut f: i64 = if frac.is_empty() {
        0
    } else {
        frac.parse().map_err(|_| format!("{s:?}"))?
    };
    for _ in frac.len()..decimals as usize {
        f *= 10;
    }
    let v = w * scale + f;
    if v <= 0 || v > MAX_AMOUNT {
        return Err(format!(
            "{s:?}: an amount is above 0 and at most {}",
            format_amount(MAX_AMOUNT, decimals)
        ));
    }
    Ok(v)
}

/// Minor units as a decimal with exactly `decimals` digits after the point.
pub fn format_amount(minor: i64, decimals: u32) -> String {
    let scale = 10i64.pow(decimals);
    let sign = if minor < 0 { "-" } else { "" };
    let m = minor.unsigned_abs();
    let s = scale as u64;
    if decimals == 0 {
        format!("{sign}{m}")
    } else {
        format!(
            "{sign}{}.{:0width$}",
            m / s,
            m % s,
            width = decimals as usize
        )
    }
}

/// What an entry does to a pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// A member pledges to the pool.
    Pledge,
    /// A pledge withdrawn (only what is not committed or spent).
    Withdraw,
    /// A payout proposed: the amount is reserved.
    Commit,
    /// A proposed payout rejected: the reservation is released.
    Release,
    /// A proposed payout decided: reserved becomes paid.
    Payout,
    /// A decided payout reversed: paid becomes available again.
    Reverse,
    /// Spending from a compute or grants pool.
    Disburse,
}

impl EntryKind {
    pub const ALL: [EntryKind; 7] = [
        EntryKind::Pledge,
        EntryKind::Withdraw,
        EntryKind::Commit,
        EntryKind::Release,
        EntryKind::Payout,
        EntryKind::Reverse,
        EntryKind::Disburse,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Pledge => "pledge",
            EntryKind::Withdraw => "withdraw",
            EntryKind::Commit => "commit",
            EntryKind::Release => "release",
            EntryKind::Payout => "payout",
            EntryKind::Reverse => "reverse",
            EntryKind::Disburse => "disburse",
        }
    }

    pub fn parse(s: &str) -> Option<EntryKind> {
        EntryKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// A pool's balance: what was pledged, what is reserved for proposed payouts, what was paid
/// and what was disbursed. Every part is non-negative, and so is what is available.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Balance {
    pub pledged: i64,
    pub committed: i64,
    pub paid: i64,
    pub disbursed: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LedgerError {
    #[error("an amount is above 0 and at most {MAX_AMOUNT} minor units")]
    Amount,
    #[error("the pool has {available} available, less than {asked}")]
    Insufficient { available: i64, asked: i64 },
    #[error("a pool holds at most {max} minor units pledged")]
    PoolFull { max: i64 },
    #[error("{kind} of {asked} exceeds the {what} ({has})")]
    Exceeds {
        kind: &'static str,
        what: &'static str,
        has: i64,
        asked: i64,
    },
}

impl Balance {
    /// Pledged, less what is reserved, paid or disbursed.
    pub fn available(&self) -> i64 {
        self.pledged - self.committed - self.paid - self.disbursed
    }

    /// The balance after one entry, or why it is refused (the balance is unchanged then).
    pub fn apply(&self, kind: EntryKind, amount: i64) -> Result<Balance, LedgerError> {
        if amount <= 0 || amount > MAX_AMOUNT {
            return Err(LedgerError::Amount);
        }
        let mut b = *self;
        let need_available = |b: &Balance| {
            if b.available() < amount {
                Err(LedgerError::Insufficient {
                    available: b.available(),
                    asked: amount,
                })
            } else {
                Ok(())
            }
        };
        let exceeds = |what, has: i64| {
            if has < amount {
                Err(LedgerError::Exceeds {
                    kind: kind.as_str(),
                    what,
                    has,
                    asked: amount,
                })
            } else {
                Ok(())
            }
        };
        match kind {
            EntryKind::Pledge => {
                // A pool holds at most MAX_POOL pledged: the parts never near i64's range.
                let total = b.pledged.checked_add(amount).ok_or(LedgerError::Amount)?;
                if total > MAX_POOL {
                    return Err(LedgerError::PoolFull { max: MAX_POOL });
                }
                b.pledged = total
            }
            EntryKind::Withdraw => {
                need_available(&b)?;
                b.pledged -= amount;
            }
            EntryKind::Commit => {
                need_available(&b)?;
                b.committed += amount;
            }
            EntryKind::Release => {
                exceeds("committed amount", b.committed)?;
                b.committed -= amount;
            }
            EntryKind::Payout => {
                exceeds("committed amount", b.committed)?;
                b.committed -= amount;
                b.paid += amount;
            }
            EntryKind::Reverse => {
                exceeds("paid amount", b.paid)?;
                b.paid -= amount;
            }
            EntryKind::Disburse => {
                need_available(&b)?;
                b.disbursed += amount;
            }
        }
        Ok(b)
    }

    /// The balance of a sequence of accepted entries, refusing the first that does not apply.
    pub fn replay<'a>(
        entries: impl IntoIterator<Item = &'a (EntryKind, i64)>,
    ) -> Result<Balance, LedgerError> {
        entries
            .into_iter()
            .try_fold(Balance::default(), |b, (k, a)| b.apply(*k, *a))
    }
}

/// What a bounty pool pays for: a confirmed report of `kind` (incident, hazard,
/// vulnerability), optionally of one `class` and at least `min_severity`; or (`kind`
/// `evaluation`) a result an accredited evaluator signed, optionally of one `suite`; and how
/// much (minor units).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BountyRule {
    pub kind: String,
    #[serde(default)]
    pub class: Option<String>,
    #[serde(default)]
    pub min_severity: Option<String>,
    #[serde(default)]
    pub suite: Option<String>,
    pub amount: i64,
}

/// A bounty pool's rules: the first rule that matches a confirmed report pays, capped per
/// report and per pool (all it ever reserves and pays).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BountyRules {
    pub pays: Vec<BountyRule>,
    pub cap_per_report: i64,
    pub cap_per_pool: i64,
}

impl BountyRules {
    /// 1 to 50 rules of known kinds, classes and severities, positive amounts and caps, the
    /// cap per report at most the cap per pool.
    pub fn check(&self) -> Result<(), String> {
        use crate::incident::{Class, Kind, Severity};
        if self.pays.is_empty() || self.pays.len() > 50 {
            return Err("a bounty pool has 1 to 50 rules".into());
        }
        let positive = |a: i64| a > 0 && a <= MAX_AMOUNT;
        for r in &self.pays {
            if r.kind != "evaluation" && Kind::ALL.iter().all(|k| k.as_str() != r.kind) {
                return Err(format!(
                    "rule kind {:?}: incident, hazard, vulnerability or evaluation",
                    r.kind
                ));
            }
            if r.suite.is_some() != (r.kind == "evaluation" && r.suite.is_some()) {
                return Err("only evaluation rules name a suite".into());
            }
            if let Some(c) = &r.class
                && Class::ALL.iter().all(|x| x.as_str() != c)
            {
                return Err(format!("rule class {c:?} is not an incident class"));
            }
            if let Some(s) = &r.min_severity
                && Severity::ALL.iter().all(|x| x.as_str() != s)
            {
                return Err(format!(
                    "rule severity {s:?}: low, medium, high or critical"
                ));
            }
            if !positive(r.amount) {
                return Err("a rule pays a positive amount".into());
            }
        }
        if !positive(self.cap_per_report) || !positive(self.cap_per_pool) {
            return Err("the caps are positive amounts".into());
        }
        if self.cap_per_report > self.cap_per_pool {
            return Err("the cap per report is at most the cap per pool".into());
        }
        Ok(())
    }

    /// What a result of `suite` signed by an accredited evaluator earns by the first matching
    /// evaluation rule, before the caps.
    pub fn amount_for_evaluation(&self, suite: &str) -> Option<i64> {
        self.pays
            .iter()
            .find(|r| r.kind == "evaluation" && r.suite.as_deref().is_none_or(|s| s == suite))
            .map(|r| r.amount)
    }

    /// What a confirmed report of `kind`, `class` and `severity` earns by the first matching
    /// rule, before the caps.
    pub fn amount_for(&self, kind: &str, class: &str, severity: Option<&str>) -> Option<i64> {
        use crate::incident::Severity;
        let rank = |s: &str| Severity::ALL.iter().position(|x| x.as_str() == s);
        self.pays
            .iter()
            .find(|r| {
                r.kind == kind
                    && r.class.as_deref().is_none_or(|c| c == class)
                    && r.min_severity.as_deref().is_none_or(|m| {
                        match (rank(m), severity.and_then(rank)) {
                            (Some(min), Some(s)) => s >= min,
                            _ => false,
                        }
                    })
            })
            .map(|r| r.amount)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn amounts_are_exact_decimals_of_the_minor_unit() {
        assert_eq!(parse_amount("12.34", 2), Ok(1234));
        assert_eq!(parse_amount("12.3", 2), Ok(1230));
        assert_eq!(parse_amount("12", 2), Ok(1200));
        assert_eq!(parse_amount("0.01", 2), Ok(1));
        assert_eq!(parse_amount("5", 0), Ok(5));
        for bad in [
            "",
            "-1",
            "0",
            "0.00",
            "1.234",
            "1.",
            ".5",
            "1e3",
            "1,5",
            "99999999999999999999",
        ] {
            assert!(parse_amount(bad, 2).is_err(), "{bad:?}");
        }
        assert_eq!(format_amount(1234, 2), "12.34");
        assert_eq!(format_amount(5, 2), "0.05");
        assert_eq!(format_amount(-5, 2), "-0.05");
        assert_eq!(format_amount(7, 0), "7");
        // 0.1 + 0.2 is exactly 0.3 here.
        let sum = parse_amount("0.1", 2).unwrap_or(0) + parse_amount("0.2", 2).unwrap_or(0);
        assert_eq!(format_amount(sum, 2), "0.30");
    }

    #[test]
    fn a_payout_needs_a_commitment_and_a_commitment_needs_funds() {
        let b = Balance::default();
        assert!(matches!(
            b.apply(EntryKind::Commit, 1),
            Err(LedgerError::Insufficient { .. })
        ));
        let b = b.apply(EntryKind::Pledge, 100).expect("pledge");
        let b = b.apply(EntryKind::Commit, 60).expect("commit");
        assert_eq!(b.available(), 40);
        assert!(b.apply(EntryKind::Commit, 41).is_err());
        assert!(
            b.apply(EntryKind::Withdraw, 41).is_err(),
            "reserved is not withdrawn"
        );
        assert!(b.apply(EntryKind::Payout, 61).is_err());
        let b = b.apply(EntryKind::Payout, 60).expect("payout");
        assert_eq!((b.committed, b.paid, b.available()), (0, 60, 40));
        let b = b.apply(EntryKind::Reverse, 60).expect("reverse");
        assert_eq!(b.available(), 100);
        assert!(b.apply(EntryKind::Reverse, 1).is_err());
        assert!(b.apply(EntryKind::Pledge, 0).is_err());
    }

    #[test]
    fn the_first_matching_rule_pays() {
        let rules = BountyRules {
            pays: vec![
                BountyRule {
                    kind: "vulnerability".into(),
                    class: None,
                    min_severity: Some("high".into()),
                    suite: None,
                    amount: 500,
                },
                BountyRule {
                    kind: "vulnerability".into(),
                    class: None,
                    min_severity: None,
                    suite: None,
                    amount: 100,
                },
                BountyRule {
                    kind: "evaluation".into(),
                    class: None,
                    min_severity: None,
                    suite: Some("wmdp-bio".into()),
                    amount: 50,
                },
            ],
            cap_per_report: 400,
            cap_per_pool: 1000,
        };
        assert_eq!(rules.check(), Ok(()));
        assert_eq!(
            rules.amount_for("vulnerability", "cyber", Some("critical")),
            Some(500)
        );
        assert_eq!(
            rules.amount_for("vulnerability", "cyber", Some("low")),
            Some(100)
        );
        assert_eq!(
            rules.amount_for("incident", "cyber", Some("critical")),
            None
        );
        let over = BountyRules {
            cap_per_report: 2000,
            ..rules.clone()
        };
        assert!(over.check().is_err());
        let bad = BountyRules {
            pays: vec![BountyRule {
                kind: "gossip".into(),
                class: None,
                min_severity: None,
                suite: None,
                amount: 1,
            }],
            ..rules
        };
        assert!(bad.check().is_err());
    }

    fn arb_entry() -> impl Strategy<Value = (EntryKind, i64)> {
        (
            prop::sample::select(EntryKind::ALL.to_vec()),
            prop_oneof![1i64..1000, Just(MAX_AMOUNT), Just(0), Just(-5)],
        )
    }

    proptest! {
        /// Any sequence of entries, each applied or refused: the balance is the replay of the
        /// accepted ones, every part and what is available stay non-negative, and the sum of
        /// the accepted entries by kind is the balance.
        #[test]
        fn any_sequence_keeps_every_balance_the_sum_of_its_entries_and_non_negative(
            entries in prop::collection::vec(arb_entry(), 0..200)
        ) {
            let mut b = Balance::default();
            let mut accepted: Vec<(EntryKind, i64)> = Vec::new();
            for (k, a) in entries {
                if let Ok(n) = b.apply(k, a) {
                    b = n;
                    accepted.push((k, a));
                }
                prop_assert!(b.pledged >= 0 && b.committed >= 0 && b.paid >= 0 && b.disbursed >= 0);
                prop_assert!(b.available() >= 0);
            }
            prop_assert_eq!(Balance::replay(&accepted), Ok(b));
            let sum = |ks: &[EntryKind]| -> i64 {
                accepted.iter().filter(|(k, _)| ks.contains(k)).map(|(_, a)| a).sum()
            };
            use EntryKind::*;
            prop_assert_eq!(b.pledged, sum(&[Pledge]) - sum(&[Withdraw]));
            prop_assert_eq!(b.committed, sum(&[Commit]) - sum(&[Release]) - sum(&[Payout]));
            prop_assert_eq!(b.paid, sum(&[Payout]) - sum(&[Reverse]));
            prop_assert_eq!(b.disbursed, sum(&[Disburse]));
        }
    }
}
