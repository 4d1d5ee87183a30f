//! weir's application services: what the HTTP handlers, `weir admin` and `--demo` do to the
//! registry, in one place below the handlers. Each service takes the store (and keys, and the
//! instant, where it needs them), returns typed results or a [`ServiceError`], and commits each
//! state change with its event in one transaction. No HTTP here: the server turns a
//! [`ServiceError`] into its JSON envelope.
//!
//! - [`access`]: terms, access requests and their review, a repo's tier and gating;
//! - [`exports`]: custodial export of T3 weights under dual control;
//! - [`events`]: the recorded events, read by operators;
//! - [`evidence`]: hazard evidence filed and reviewed;
//! - [`policy`]: the classification policy in force;
//! - [`classification`]: the minimum tier of a revision and [`classification::reclassify`];
//! - [`standing`]: a publisher's record, standing and the release gate's standing rules;
//! - [`releases`]: signing a commit's manifest;
//! - [`results`]: evaluation results as stored;
//! - [`evaluators`]: accredited evaluators and suites;
//! - [`incidents`]: a report received, a transition and everything it causes;
//! - [`incident_rows`]: incident rows as the domain sees them;
//! - [`history`]: a repo's commits and the last commit of each path;
//! - [`keys`]: the registry's own key files;
//! - [`listing`]: the model listing (search, filters, sort, pages);
//! - [`log`]: the transparency log's sequencer step;
//! - [`tokens`]: API tokens listed and revoked;
//! - [`accounts`]: passwords and the web UI's sessions;
//! - [`mail`]: notifications outside incidents, and their e-mail;
//! - [`settings`], [`clock`].

pub mod access;
pub mod accounts;
pub mod board;
pub mod classification;
pub mod clock;
pub mod evaluators;
pub mod events;
pub mod evidence;
pub mod exports;
pub mod funding;
pub mod grants;
pub mod history;
pub mod incident_rows;
pub mod incidents;
pub mod jobs;
pub mod keys;
pub mod listing;
pub mod log;
pub mod mail;
pub mod policy;
pub mod releases;
pub mod repos;
pub mod research;
pub mod results;
pub mod settings;
pub mod standing;
pub mod tokens;

use weir_store::StoreError;
use weir_wire::ErrorCode;

/// What kind of refusal a service made, transport-neutral (the server picks the status).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The request conflicts with the registry's state or policy (HTTP 409).
    Conflict,
    /// The input is malformed or out of bounds (HTTP 400).
    Invalid,
    /// No such record the caller may see (HTTP 404).
    NotFound,
    /// The caller's role does not allow it (HTTP 403).
    Forbidden,
    /// The action needs a signed-in account (HTTP 401).
    Unauthenticated,
    /// Too many such changes by this account lately (HTTP 429).
    RateLimited,
    /// A single-use or expiring thing that is spent (HTTP 410).
    Gone,
}

/// Who asks a service for a change, and through what: recorded with its event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Context {
    /// The account acting, if any.
    pub actor: Option<String>,
    pub request_id: Option<String>,
    pub user_agent: Option<String>,
}

impl Context {
    /// A context for an actor acting outside HTTP (`weir admin`, `--demo`).
    pub fn local(actor: &str, user_agent: &str) -> Context {
        Context {
            actor: Some(actor.to_string()),
            request_id: None,
            user_agent: Some(user_agent.to_string()),
        }
    }

    /// A change event by this context.
    pub fn event(
        &self,
        at: i64,
        action: &str,
        repo: Option<&weir_store::Repo>,
        reason: &str,
        details: serde_json::Value,
    ) -> weir_core::Event {
        weir_core::Event {
            at,
            actor: self.actor.clone(),
            action: action.to_string(),
            repo: repo.map(|r| r.repo_id.to_string()),
            subject: None,
            decision: "change".into(),
            reason: reason.to_string(),
            request_id: self.request_id.clone(),
            user_agent: self.user_agent.clone(),
            details,
        }
    }
}

/// A service's refusal: the code, a message naming the problem and the next step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub kind: Kind,
    pub code: ErrorCode,
    pub message: String,
    pub next: Option<String>,
    /// Extra machine-readable fields for the error envelope.
    pub extra: Vec<(String, serde_json::Value)>,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let message = format!("{} [{}]", self.message.trim_end_matches('.'), self.code);
        f.write_str(&weir_wire::with_next(&message, self.next.as_deref()))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{}", .0)]
    Refused(Box<Refusal>),
    /// `weir_authz` said no: the server words the denial as every other route does (a repo the
    /// subject may not see answers like a missing one).
    #[error("denied ({}) on {repo}", .reason.code())]
    Denied {
        reason: weir_authz::Reason,
        repo: String,
        anonymous: bool,
    },
}

impl ServiceError {
    pub fn refused(kind: Kind, code: ErrorCode, message: impl Into<String>) -> ServiceError {
        ServiceError::Refused(Box::new(Refusal {
            kind,
            code,
            message: message.into(),
            next: None,
            extra: Vec::new(),
        }))
    }

    pub fn denied(
        reason: weir_authz::Reason,
        repo: &weir_store::Repo,
        subject: &weir_authz::Subject,
    ) -> ServiceError {
        ServiceError::Denied {
            reason,
            repo: repo.repo_id.to_string(),
            anonymous: subject.name().is_none(),
        }
    }

    pub fn next(mut self, hint: impl Into<String>) -> ServiceError {
        if let ServiceError::Refused(r) = &mut self {
            r.next = Some(hint.into());
        }
        self
    }

    /// Adds a machine-readable field to a refusal.
    pub fn with(mut self, key: &str, value: serde_json::Value) -> ServiceError {
        if let ServiceError::Refused(r) = &mut self {
            r.extra.push((key.to_string(), value));
        }
        self
    }
}
