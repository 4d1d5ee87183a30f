//! Incidents, notifications, webhooks, publisher records and sign-offs on the wire.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

/// A reporting or disclosure clock of an incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Clock {
    pub due: String,
    pub met_at: Option<String>,
    pub name: String,
    pub overdue: bool,
}

/// An incident record as the caller may see it: the details and the reporter only for those
/// handling it (and the details of a disclosed record for everyone).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Incident {
    pub aliases: Vec<String>,
    /// For those handling it: the attachments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachments: Option<Vec<AttachmentEntry>>,
    pub class: String,
    pub clocks: Vec<Clock>,
    pub confirmed_at: Option<String>,
    /// The report's fields, as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub details: Option<Value>,
    pub disclosed_at: Option<String>,
    pub disclosure_due: String,
    pub domain: Option<String>,
    pub embargo_until: Option<String>,
    pub fixed_revision: Option<String>,
    /// Shown once, to an anonymous reporter: how to come back to the report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub followup: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub followup_token: Option<String>,
    /// For those handling it: the history of the record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history: Option<Vec<HistoryLine>>,
    pub hold: bool,
    /// The OSV id (`x_WEIR-2026-0001`).
    pub id: String,
    pub in_the_wild: bool,
    pub kind: String,
    /// After a transition: how many accounts were notified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notified: Option<usize>,
    pub overdue: bool,
    pub repo: String,
    pub reported_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reporter: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reporter_shared: Option<bool>,
    pub resolved_at: Option<String>,
    pub revisions: Vec<String>,
    pub severity: Option<String>,
    pub state: String,
    pub summary: String,
    pub triaged_at: Option<String>,
    pub updated_at: String,
    pub withdrawn_at: Option<String>,
    /// For those handling it: `reviewer`, `publisher` or `reporter`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub your_role: Option<String>,
}

/// A line of an incident's history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct HistoryLine {
    pub at: String,
    pub by: String,
    pub from: Option<String>,
    pub kind: String,
    pub note: String,
    pub to: Option<String>,
}

/// An attachment of an incident, for those handling it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AttachmentEntry {
    pub added_by: String,
    pub at: String,
    pub name: String,
    pub sha256: String,
    pub size: i64,
}

/// `GET /api/v1/incidents`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Incidents {
    pub incidents: Vec<Incident>,
}

/// `POST /api/v1/incidents`: a report.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, ToSchema)]
pub struct Report {
    pub aliases: Vec<String>,
    pub class: String,
    #[schema(value_type = Object)]
    pub details: Map<String, Value>,
    pub domain: Option<String>,
    pub in_the_wild: bool,
    pub kind: String,
    pub repo: String,
    pub revisions: Vec<String>,
    pub share_identity: bool,
    pub summary: String,
}

/// `POST /api/v1/incidents/{id}/transition`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, ToSchema)]
pub struct TransitionRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embargo_until: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed_revision: Option<String>,
    #[serde(default)]
    pub hold: bool,
    /// Operators only: whether it is exploited in the wild.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_the_wild: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raise_domain: Option<String>,
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<String>,
    pub to: String,
}

/// `POST /api/v1/incidents/{id}/attachments`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Attachment {
    pub name: String,
    pub sha256: String,
    pub size: i64,
}

/// One notification of the caller.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Notification {
    pub created_at: String,
    pub id: i64,
    pub kind: String,
    pub message: String,
    pub read: bool,
}

/// `GET /api/v1/notifications`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Notifications {
    pub notifications: Vec<Notification>,
}

/// `POST /api/v1/notifications/{id}/read`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MarkedRead {
    pub changed: bool,
    pub id: i64,
    pub read: bool,
}

/// `PUT /api/v1/notifications/webhook`: the secret is shown once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WebhookCreated {
    pub secret: String,
    pub signature: String,
    pub url: String,
}

/// `POST /api/v1/repos/{ns}/{name}/releases/{rev}/signoff`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Signoff {
    pub commit: String,
    pub repo: String,
    pub signed_off_by: String,
}

/// An OSV record (schema: ossf.github.io/osv-schema): its id typed, the rest as the server
/// wrote it (CI validates the records against the official schema).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct OsvRecord {
    pub id: String,
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub rest: Map<String, Value>,
}

/// A release on a publisher's record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RecordRelease {
    pub commit: String,
    pub pre_release_evaluations: bool,
    pub released_at: String,
    pub repo: String,
    pub tier_at_release: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RecordReleases {
    pub count: usize,
    pub list: Vec<RecordRelease>,
    pub share_evaluated: Option<f64>,
    pub with_pre_release_evaluations: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RecordIncidents {
    pub by_state: BTreeMap<String, usize>,
    pub confirmed_by_kind_and_severity: BTreeMap<String, BTreeMap<String, usize>>,
    pub median_hours_to_triage: Option<f64>,
    pub overdue_reports: usize,
    pub recent_critical: usize,
    pub recent_high: usize,
}

/// A release whose repo was later re-classified above the tier it was released at.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct UnderClassified {
    pub commit: String,
    pub released_at_tier: Option<String>,
    pub repo: String,
    pub tier_now: String,
}

/// `GET /api/v1/publishers/{name}/record`: a publisher's public accountability record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PublisherRecord {
    pub computed_at: String,
    pub detail: String,
    pub incidents: RecordIncidents,
    pub policy_version: String,
    pub publisher: String,
    pub releases: RecordReleases,
    pub rule: String,
    pub rules_source: String,
    /// `good`, `probation` or `suspended`.
    pub standing: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub standing_since: Option<String>,
    pub under_classified: Vec<UnderClassified>,
}
