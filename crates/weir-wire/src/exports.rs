//! Custodial export of T3 weights under dual control, on the wire.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// An export request and its approvals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Export {
    /// The operators who approved it (two distinct ones, neither the requester, are needed).
    pub approvals: Vec<String>,
    pub approvals_needed: usize,
    pub commit: String,
    pub created_at: String,
    pub downloaded_at: Option<String>,
    pub id: i64,
    pub link_expires_at: Option<String>,
    pub link_issued: bool,
    pub org: String,
    pub purpose: String,
    pub repo: String,
    pub requester: String,
    pub state: String,
}

/// `POST /api/v1/exports/{id}/link`: the single-use download link, shown once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ExportLink {
    pub expires_at: String,
    pub export: i64,
    pub single_use: bool,
    pub url: String,
}

/// `POST /api/v1/repos/{ns}/{name}/exports`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ExportRequest {
    pub org: String,
    pub purpose: String,
    pub revision: Option<String>,
}
