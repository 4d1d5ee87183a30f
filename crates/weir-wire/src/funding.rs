//! Funding pools, their ledger, bounty payouts and statements on the wire. Amounts are decimal
//! strings in the registry's one currency (`currency`), exact to its minor unit.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One bounty rule: what pays and how much.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BountyRule {
    pub amount: String,
    #[serde(default)]
    pub class: Option<String>,
    /// `incident`, `hazard`, `vulnerability` (a confirmed report) or `evaluation` (a result an
    /// accredited evaluator signed).
    pub kind: String,
    #[serde(default)]
    pub min_severity: Option<String>,
    /// `evaluation` rules: the suite, if only one pays.
    #[serde(default)]
    pub suite: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BountyRules {
    pub cap_per_pool: String,
    pub cap_per_report: String,
    pub pays: Vec<BountyRule>,
}

/// `POST /api/v1/funding/pools` (operators).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PoolSubmission {
    pub name: String,
    /// `bounty`, `compute` or `grants`.
    pub purpose: String,
    /// A bounty pool's rules.
    #[serde(default)]
    pub rules: Option<BountyRules>,
    pub title: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Balance {
    pub available: String,
    pub committed: String,
    pub disbursed: String,
    pub paid: String,
    pub pledged: String,
}

/// One ledger entry; `party` only for the party themselves and operators.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LedgerEntry {
    pub amount: String,
    pub at: String,
    pub id: i64,
    /// `pledge`, `withdraw`, `commit`, `release`, `payout`, `reverse` or `disburse`.
    pub kind: String,
    /// A disbursement: the grant award it funds, if it names one.
    pub award: Option<i64>,
    pub party: Option<String>,
    pub payout: Option<i64>,
    pub pool: String,
}

/// A pool, public: its rules, its balance replayed from its entries, and the entries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Pool {
    pub balance: Balance,
    pub currency: String,
    pub entries: Vec<LedgerEntry>,
    pub name: String,
    pub purpose: String,
    pub rules: Option<BountyRules>,
    pub title: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Pools {
    pub pools: Vec<Pool>,
}

/// `POST /api/v1/funding/pools/{name}/pledges`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PledgeSubmission {
    pub amount: String,
}

/// `POST /api/v1/funding/pools/{name}/disbursements` (operators; compute and grants pools).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Disbursement {
    pub amount: String,
    pub reason: String,
    /// The grant award it funds (optional; public on the entry).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub award: Option<i64>,
}

/// A bounty payout; `beneficiary` for them and operators.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Payout {
    pub amount: String,
    pub beneficiary: Option<String>,
    pub decided_at: Option<String>,
    pub id: i64,
    pub pool: String,
    pub proposed_at: String,
    /// What earned it: `incident:OSV-ID`.
    pub source: String,
    /// `proposed`, `paid`, `rejected` or `reversed`.
    pub state: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Payouts {
    pub payouts: Vec<Payout>,
}

/// `POST /api/v1/funding/payouts/{id}/decision`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PayoutDecision {
    /// `pay`, `reject` (a proposed payout) or `reverse` (a paid one).
    pub decision: String,
    pub reason: String,
}

/// One member's totals in one pool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct StatementLine {
    pub paid_to_member: String,
    pub pledged: String,
    pub pool: String,
}

/// `GET /api/v1/funding/statements/{user}`: a member's entries and totals per pool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Statement {
    pub currency: String,
    pub entries: Vec<LedgerEntry>,
    pub member: String,
    pub pools: Vec<StatementLine>,
}
