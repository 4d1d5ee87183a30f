//! The secure research environment on the wire: research projects.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A model a project may use: one revision at one access level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ProjectModel {
    /// `AL1` (black-box), `AL2` (grey-box) or `AL3` (white-box).
    pub level: String,
    pub repo: String,
    /// The commit the project may use.
    pub revision: String,
}

/// A research project as the caller may see it: the team only for its members and operators,
/// and only the models the caller may see.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Project {
    pub applied_at: String,
    pub applied_by: Option<String>,
    pub decided_at: Option<String>,
    pub decision_reason: Option<String>,
    pub expires_at: Option<String>,
    pub id: i64,
    /// Empty unless the caller is on the team or an operator.
    pub members: Vec<String>,
    pub models: Vec<ProjectModel>,
    /// `NS/NAME`.
    pub name: String,
    pub purpose: String,
    pub quota_cpu_seconds: i64,
    /// A public, open stand-in of the same architecture to develop against.
    pub standin: Option<String>,
    /// `applied`, `active`, `rejected`, `revoked` or `expired` (now).
    pub state: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Projects {
    pub projects: Vec<Project>,
}

/// `POST /api/v1/projects`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ProjectApplication {
    /// The team besides the applicant.
    #[serde(default)]
    pub members: Vec<String>,
    pub models: Vec<ModelAsk>,
    /// `NS/NAME`: under the applicant's own namespace or an org they belong to.
    pub name: String,
    pub purpose: String,
    #[serde(default)]
    pub quota_cpu_seconds: Option<i64>,
    #[serde(default)]
    pub standin: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ModelAsk {
    pub level: String,
    pub repo: String,
    /// A branch, tag or commit (default `main`).
    #[serde(default)]
    pub revision: Option<String>,
}

/// `POST /api/v1/projects/{ns}/{name}/decision`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ProjectDecision {
    /// `approve`, `reject` or `revoke`.
    pub decision: String,
    /// Approval only: days until it expires (default 365).
    #[serde(default)]
    pub expires_days: Option<i64>,
    /// Approval only: the compute quota (default what the application asked).
    #[serde(default)]
    pub quota_cpu_seconds: Option<i64>,
    pub reason: String,
}
