//! Research-environment jobs on the wire.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One input file of a job, placed under `/job` inside the sandbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct JobInput {
    /// The file's bytes, standard base64.
    pub content_base64: String,
    /// A relative path under `/job`.
    pub path: String,
}

/// `POST /api/v1/jobs`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct JobSubmission {
    #[serde(default)]
    pub inputs: Vec<JobInput>,
    /// `generate`, `mcq`, `logits` or `command`.
    pub kind: String,
    /// The kind's parameters; `command`: `{"argv": ["/usr/bin/python3", "/job/main.py"]}`.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub params: serde_json::Value,
    /// `NS/NAME` of the project.
    pub project: String,
    /// `NS/NAME` of the model.
    pub repo: String,
    /// A branch, tag or commit the project names (default `main`).
    #[serde(default)]
    pub revision: Option<String>,
}

/// A held output file and what the automatic rules found in it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct JobOutput {
    /// The automatic rules' findings (empty: none).
    #[schema(value_type = Vec<Object>)]
    pub findings: Vec<serde_json::Value>,
    pub path: String,
    pub sha256: String,
    pub size: i64,
}

/// An output checker's vote, as the caller may see it (blind while the review is open).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct OutputVote {
    pub path: String,
    pub reason: String,
    pub reviewer: String,
    pub vote: String,
}

/// A job: its public facts, and for its team and operators its parameters, outputs and votes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Job {
    /// CPU seconds charged to the project.
    pub charged_seconds: f64,
    pub cpu_seconds: Option<f64>,
    /// How it ended (`exit_0`, `wall_clock`, `out_of_memory`, `output_cap`, …) or why it never
    /// ran (`revoked`, `identity_level`, `quota_exhausted`, `interrupted`, …).
    pub ending: Option<String>,
    pub finished_at: Option<String>,
    pub id: i64,
    pub kind: String,
    /// The rules that blocked the outputs (what the team sees of findings before a release).
    #[serde(default)]
    pub blocked_by: Vec<String>,
    /// How many files (outputs and logs) are held.
    #[serde(default)]
    pub held_files: usize,
    /// The held files: for output checkers (operators and designated checkers) always, for the
    /// team once released.
    #[serde(default)]
    pub outputs: Vec<JobOutput>,
    /// `none`, `blocked`, `awaiting_review`, `released`, `returned` or `rejected`.
    pub outputs_state: String,
    /// The version of the automatic output rules (the policy's `[outputs]`) the outputs were
    /// checked under; absent while there are none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_rules: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub params: Option<serde_json::Value>,
    pub peak_memory: Option<i64>,
    pub project: String,
    pub repo: String,
    pub revision: String,
    pub started_at: Option<String>,
    /// `queued`, `running`, `succeeded`, `failed` or `cancelled`.
    pub state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub submitted_by: Option<String>,
    pub submitted_at: String,
    #[serde(default)]
    pub votes: Vec<OutputVote>,
    pub wall_seconds: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Jobs {
    pub jobs: Vec<Job>,
}

/// `POST /api/v1/jobs/{id}/review`: one vote per held file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct OutputReview {
    pub votes: Vec<FileVote>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct FileVote {
    pub path: String,
    #[serde(default)]
    pub reason: String,
    /// `approve`, `request_changes` or `reject`.
    pub vote: String,
}

/// The outputs' state after a review.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Reviewed {
    pub job: i64,
    pub outputs_state: String,
}
