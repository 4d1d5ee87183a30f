//! The one governance event type. Every decision on gated content (allow and deny) and every
//! state change (access requests, tiers, identity levels, exports) becomes one of these; the
//! store keeps them as rows, and the transparency log will append them.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Unix seconds.
    pub at: i64,
    /// Who acted (account name); `None` for anonymous callers and the system.
    pub actor: Option<String>,
    /// What happened: `download`, `access.request`, `access.review`, `tier.set`, …
    pub action: String,
    /// The repo concerned, `namespace/name`.
    pub repo: Option<String>,
    /// The account the action is about, when not the actor (e.g. the requester in a review).
    pub subject: Option<String>,
    /// `allow`, `deny`, or `change` for state changes.
    pub decision: String,
    /// The machine reason code (an authorization reason or the new state).
    pub reason: String,
    /// The client's request id (`X-Amzn-Trace-Id` / `X-Request-Id`), if any.
    pub request_id: Option<String>,
    pub user_agent: Option<String>,
    /// Action-specific details (path, revision, old and new tier, …). Never secrets.
    pub details: serde_json::Value,
}
