//! The governance and delivery events as operators and auditors read them
//! (`GET /api/v1/events`).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

/// One recorded event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct EventRecord {
    pub id: i64,
    /// When (RFC 3339, UTC).
    pub at: String,
    pub actor: Option<String>,
    pub action: String,
    pub repo: Option<String>,
    pub subject: Option<String>,
    /// `allow`, `deny` or `change`.
    pub decision: String,
    pub reason: String,
    pub request_id: Option<String>,
    pub user_agent: Option<String>,
    /// What the event records beyond the columns (its own shape per action).
    #[schema(value_type = Object)]
    pub details: Value,
}

/// A page of events, newest first; `next` is the cursor of the following page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct EventPage {
    pub events: Vec<EventRecord>,
    pub next: Option<String>,
}
