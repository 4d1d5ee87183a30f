//! Compute grants on the wire: calls, applications, reviews, awards and usage statements.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One route of a call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantRoute {
    pub cpu_hours: i64,
    pub gpu_hours: i64,
    /// An award on it lasts this many months (30 days each).
    pub months: i64,
    pub name: String,
    /// `automatic` (at the call's `auto_level`; else one reviewer), `single` or `panel`.
    pub review: String,
    /// Days a reviewer has to decide.
    pub review_days: i64,
}

/// A model a call's awards may be used on, and the highest access level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CallModel {
    /// `AL1`, `AL2` or `AL3`.
    pub level: String,
    pub repo: String,
}

/// `POST /api/v1/grants/calls` (operators).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CallSubmission {
    /// The identity level an applicant needs for an automatic award (default `identified`).
    #[serde(default)]
    pub auto_level: Option<String>,
    /// `YYYY-MM-DD` or RFC 3339.
    pub closes_at: String,
    /// Field names every application must answer.
    #[serde(default)]
    pub fields: Vec<String>,
    pub models: Vec<CallModel>,
    pub name: String,
    /// Absent: the defaults mirroring UK AIRR (gateway, rapid, innovator, open).
    #[serde(default)]
    pub routes: Option<Vec<GrantRoute>>,
    pub title: String,
}

/// A call, public (its models as far as the caller may see them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Call {
    pub auto_level: String,
    pub closed_at: Option<String>,
    pub closes_at: String,
    pub fields: Vec<String>,
    pub models: Vec<CallModel>,
    pub name: String,
    /// Whether it takes applications now.
    pub open: bool,
    pub opened_at: String,
    pub routes: Vec<GrantRoute>,
    pub title: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Calls {
    pub calls: Vec<Call>,
}

/// `POST /api/v1/grants/applications`: a research project's team asks for compute.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplicationSubmission {
    /// The call's fields answered.
    #[serde(default)]
    pub answers: BTreeMap<String, String>,
    pub call: String,
    #[serde(default)]
    pub cpu_hours: f64,
    #[serde(default)]
    pub gpu_hours: f64,
    pub plan: String,
    /// The research project (`NS/NAME`) the compute is for.
    pub project: String,
    pub purpose: String,
    pub route: String,
}

/// A reviewer's vote on an application.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct GrantReview {
    pub at: String,
    pub reason: String,
    pub reviewer: String,
    /// `award`, `reject` or `conflict` (declared: the reviewer recused).
    pub vote: String,
}

/// `POST /api/v1/grants/applications/{id}/review`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantReviewSubmission {
    pub reason: String,
    /// `award`, `reject` or `conflict`.
    pub vote: String,
}

/// An award, public: what was granted, released and used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Award {
    pub application: i64,
    pub call: String,
    pub cpu_hours: f64,
    pub ends_at: String,
    pub gpu_hours: f64,
    pub id: i64,
    /// Jobs metered against it: for the project's team and operators.
    pub jobs: Option<i64>,
    pub project: String,
    pub released_cpu_hours: f64,
    pub released_gpu_hours: f64,
    pub report_accepted_at: Option<String>,
    pub reported_at: Option<String>,
    /// The SHA-256 of the progress report on file: an operator accepts a report by it.
    pub report_sha256: Option<String>,
    pub revoked_at: Option<String>,
    pub route: String,
    pub starts_at: String,
    /// `active`, `exhausted` (nothing left of what is released), `not_started`, `expired` or
    /// `revoked`.
    pub state: String,
    /// CPU-hours used, to a tenth of a CPU-second's precision: for the project's team and
    /// operators.
    pub used_cpu_hours: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Awards {
    pub awards: Vec<Award>,
}

/// An application, for its project's team and operators.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Application {
    pub answers: BTreeMap<String, String>,
    pub applicant: String,
    pub award: Option<Award>,
    pub call: String,
    pub cpu_hours: f64,
    pub decided_at: Option<String>,
    /// `automatic`, or the deciding reviewers with their reasons.
    pub decision: Option<String>,
    pub gpu_hours: f64,
    pub id: i64,
    /// Still submitted past its review deadline.
    pub overdue: bool,
    pub plan: String,
    pub project: String,
    pub purpose: String,
    /// The award's progress report, once submitted.
    pub report: Option<String>,
    pub review_due_at: String,
    pub reviews: Vec<GrantReview>,
    pub route: String,
    /// `submitted`, `awarded`, `rejected` or `withdrawn`.
    pub state: String,
    pub submitted_at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Applications {
    pub applications: Vec<Application>,
}

/// One job on a usage statement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct UsageLine {
    /// CPU seconds charged, to a tenth.
    pub charged_cpu_seconds: f64,
    pub ending: Option<String>,
    pub finished_at: Option<String>,
    pub job: i64,
    pub kind: String,
    pub repo: String,
    pub revision: String,
}

/// `GET /api/v1/grants/awards/{id}/usage`: every job metered against the award. The total is
/// the sum of the lines.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct UsageStatement {
    pub award: Award,
    /// Disbursements from the consortium's pools that name this award (public on the ledger).
    pub disbursements: Vec<crate::funding::LedgerEntry>,
    pub jobs: Vec<UsageLine>,
    pub remaining_released_cpu_seconds: f64,
    pub total_cpu_seconds: f64,
}

/// `POST /api/v1/grants/awards/{id}/report`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProgressReport {
    pub report: String,
}

/// `POST /api/v1/grants/awards/{id}/accept`: the report accepted, by its SHA-256.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportAcceptance {
    pub reason: String,
    pub report_sha256: String,
}

/// A decision's reason (revoking an award).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantDecision {
    pub reason: String,
}
