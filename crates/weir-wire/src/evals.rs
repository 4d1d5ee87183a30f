//! Evaluations, evidence and classification on the wire.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

/// An imported evaluation result: the normalized record weir derived from the raw log, the exact
/// payload an evaluator signs, and its signature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct EvalResult {
    pub commit: String,
    pub evaluator: Option<String>,
    /// The payload's SHA-256.
    pub id: String,
    pub imported_at: String,
    pub imported_by: String,
    /// The exact bytes an evaluator signs (the record's JSON).
    pub payload: String,
    pub raw_log_name: String,
    pub raw_log_sha256: String,
    /// The normalized record (the payload, parsed).
    pub record: ResultRecord,
    pub repo: Option<String>,
    pub signature: Option<String>,
    pub signed: bool,
    pub signed_at: Option<String>,
    pub suite: String,
}

/// The normalized result weir derives from a raw log (`weir_core::eval::ResultRecord`): its
/// JSON is the payload an evaluator signs. Fields in the payload's (alphabetical) order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ResultRecord {
    /// The hazard domain (`bio`, `chem`, `cyber`, …).
    pub domain: String,
    /// The harness that wrote the log (`lm_eval`, `inspect`).
    pub harness: String,
    pub harness_version: String,
    /// A revision the log itself names, when it names one.
    pub logged_revision: Option<String>,
    pub metric: String,
    /// Questions scored.
    pub n: i64,
    /// Why the run is not complete (limited, cancelled, fewer samples than the suite); empty
    /// when it is.
    pub partial: Vec<String>,
    pub raw_log_sha256: String,
    pub repo: String,
    /// The exact revision (commit id) the result is about.
    pub revision: String,
    pub stderr: Option<f64>,
    pub suite: String,
    pub suite_version: i64,
    pub task: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub value: f64,
}

/// `GET /api/v1/models/{ns}/{name}/evaluations`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct EvalResults {
    pub repo: String,
    pub results: Vec<EvalResult>,
}

/// An evaluation suite as operators registered it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Suite {
    pub chance: f64,
    pub domain: String,
    pub metric: String,
    pub name: String,
    pub original_questions: Option<i64>,
    pub questions: i64,
    pub source: String,
    pub tasks: Vec<String>,
    pub version: i64,
}

/// `GET /api/v1/eval/suites`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Suites {
    pub suites: Vec<Suite>,
}

/// An accredited (or revoked) evaluator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Evaluator {
    pub accredited: bool,
    pub accredited_at: String,
    pub name: String,
    pub public_key: String,
    pub revoked_at: Option<String>,
}

/// `GET /api/v1/evaluators`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Evaluators {
    pub evaluators: Vec<Evaluator>,
}

/// Evidence that a hazard domain cannot be ruled out. Its text and filer are shown only to
/// operators and to whoever filed it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Evidence {
    pub domain: String,
    pub filed_at: String,
    pub filed_by: Option<String>,
    pub id: i64,
    /// Set when filing: the repo.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repo: Option<String>,
    pub review_reason: Option<String>,
    pub reviewed_at: Option<String>,
    pub reviewer: Option<String>,
    pub severity: Option<String>,
    /// `pending_triage`, `open`, `confirmed` or `dismissed`.
    pub state: String,
    pub summary: Option<String>,
    /// Set when filing: the tier before and after the re-classification it caused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier: Option<TierMove>,
    pub triage_due: Option<String>,
    pub triage_overdue: bool,
    /// Set when reviewing: the minimum tier after the re-classification (null when the repo
    /// has no `main` to classify, and in listings).
    #[serde(default)]
    pub minimum_tier: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TierMove {
    pub after: String,
    pub before: String,
}

/// `GET /api/v1/models/{ns}/{name}/evidence`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct EvidenceList {
    pub evidence: Vec<Evidence>,
    pub repo: String,
}

/// The notification clock of the compute presumption, while it runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct NotificationClock {
    pub days_left: i64,
    pub due: String,
    pub notified_at: Option<String>,
    pub overdue: bool,
    pub reference: Option<String>,
    pub rule: String,
    pub started_at: String,
}

/// `POST /api/v1/models/{ns}/{name}/classification/notified`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct NotificationRecorded {
    pub notification: Option<NotificationClock>,
    pub repo: String,
}

/// What the model card declares, as the policy reads it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Card {
    pub base_model: Vec<String>,
    pub closed_weights: bool,
    pub contact: Option<String>,
    pub errors: Vec<String>,
    pub hazard_domains: Vec<String>,
    pub license: Option<String>,
    pub parameters: Option<f64>,
    pub tags: Vec<String>,
    pub training_compute_flop: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DomainOutcome {
    pub domain: String,
    pub evidence: Vec<String>,
    pub outcome: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RuleOutcome {
    pub detail: String,
    pub fired: bool,
    pub rule: String,
    pub source: String,
    pub tier: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct IgnoredResult {
    pub id: String,
    pub reason: String,
    pub suite: String,
    pub why: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PolicyRef {
    pub sha256: String,
    pub version: String,
}

/// `GET /api/v1/models/{ns}/{name}/classification`: the decision, rule by rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Classification {
    pub card: Card,
    pub counted_results: usize,
    pub deciding_rule: Option<String>,
    pub domains: Vec<DomainOutcome>,
    pub explanation: String,
    pub ignored_results: Vec<IgnoredResult>,
    pub minimum_tier: String,
    pub notification: Option<NotificationClock>,
    pub policy: PolicyRef,
    pub policy_version: String,
    pub presumption: bool,
    pub reassessment_due: bool,
    pub repo: String,
    /// The revision asked for.
    pub revision: String,
    pub rules: Vec<RuleOutcome>,
    /// The repo's effective tier now.
    pub tier: String,
}

/// `GET /api/v1/policy`: the policy in force, its text and its signed note.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PolicyInForce {
    pub default: bool,
    pub description: String,
    /// The parsed policy (the TOML's structure).
    #[schema(value_type = Object)]
    pub policy: Value,
    pub set_at: Option<String>,
    pub set_by: Option<String>,
    pub sha256: String,
    pub signature: String,
    pub text: String,
    pub verification_key: String,
    pub version: String,
}
