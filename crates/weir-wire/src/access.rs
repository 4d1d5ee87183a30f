//! Access control on the wire: the download check, terms, access requests, tiers, gating and
//! identity. Fields are declared in the order the server has always written them (by name).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `GET /api/v1/access/check`: may the caller download this revision, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AccessCheck {
    pub allow: bool,
    pub commit: String,
    pub message: String,
    pub next: Option<String>,
    /// An authorization reason code (`open_tier`, `terms_not_accepted`, …).
    pub reason: String,
    pub repo: String,
    /// The caller's access request, when there is one.
    pub request: Option<AccessRequest>,
    /// The minimum identity level of a T2 repo.
    pub required_level: Option<String>,
    pub revision: String,
    pub tier: String,
    pub tier_name: String,
    pub your_level: String,
}

/// An access request and its review clock.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AccessRequest {
    pub decided_at: Option<String>,
    pub decided_by: Option<String>,
    pub due_at: String,
    pub expires_at: Option<String>,
    pub fields: BTreeMap<String, String>,
    pub overdue: bool,
    pub purpose: String,
    pub reason: Option<String>,
    pub repo: String,
    pub requested_at: String,
    /// `pending`, `approved`, `rejected`, `revoked`, `expired` or `reset`.
    pub state: String,
    pub user: String,
    /// For reviewers: the requester as they are now, and whether the bytes could be served to
    /// them now if the request were approved (their level and country against the repo's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requester: Option<Box<Requester>>,
}

/// A requester's facts as a reviewer sees them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Requester {
    /// The effective identity level now.
    pub level: String,
    pub country: Option<String>,
    /// An approval would let them download now (level high enough, country not blocked).
    pub servable: bool,
    /// Why not, when not (`identity_level`, `region`).
    pub blocked_by: Option<String>,
}

/// The answer to a T1 "request": accepting the terms is the request, approved at once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TermsApproval {
    pub repo: String,
    pub state: String,
    pub terms_accepted: bool,
    pub user: String,
}

/// `POST /api/v1/repos/{ns}/{name}/access/requests`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum RequestAnswer {
    Request(AccessRequest),
    Terms(TermsApproval),
}

/// A list of access requests: a repo's (for its reviewers) or a user's own.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AccessRequests {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repo: Option<String>,
    pub requests: Vec<AccessRequest>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
}

/// `GET /api/v1/repos/{ns}/{name}/access/terms`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Terms {
    pub accepted: bool,
    pub repo: String,
    pub required_fields: Vec<String>,
    pub terms: String,
    pub tier: String,
}

/// `POST /api/v1/repos/{ns}/{name}/access/terms`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TermsAccepted {
    pub accepted: bool,
    pub repo: String,
    pub tier: String,
}

/// `PUT /api/v1/repos/{ns}/{name}/tier`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TierChange {
    pub previous: String,
    pub repo: String,
    pub tier: String,
}

/// A repo's gating settings (`PUT /api/v1/repos/{ns}/{name}/gating` takes the same fields,
/// each optional, and answers with all of them).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, ToSchema)]
pub struct Gating {
    pub auto_approve_level: Option<String>,
    pub blocked_countries: Option<Vec<String>>,
    pub min_level: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repo: Option<String>,
    pub required_fields: Option<Vec<String>>,
    /// The identity level research-project members need to run jobs (default `accredited`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub research_level: Option<String>,
    pub terms: Option<String>,
}

/// `GET /api/v1/identity`: the caller's effective identity level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Identity {
    pub country: Option<String>,
    pub expires_at: Option<String>,
    pub level: String,
    pub source: String,
    pub user: String,
}

/// `POST /api/v1/identity/attestations`: the attestation accepted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AttestationAccepted {
    pub expires_at: String,
    pub id: String,
    pub level: String,
    pub subject: String,
}
