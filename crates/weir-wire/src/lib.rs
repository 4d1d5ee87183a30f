//! weir's wire format, shared by the server, the client and the CLI so that a renamed field is a
//! compile error on both sides rather than a silently printed `?`.
//!
//! - [`access`]: the download check, terms, access requests, tiers, gating, identity;
//! - [`error`]: the closed set of error codes and the error envelope;
//! - [`evals`]: evaluation results, evidence, classification, the policy;
//! - [`events`]: recorded events as operators read them;
//! - [`exports`]: custodial export under dual control;
//! - [`jobs`]: research-environment jobs, their outputs and reviews;
//! - [`incidents`]: incidents, notifications, webhooks, publisher records, sign-offs;
//! - [`releases`]: signed releases;
//! - [`research`]: the secure research environment's projects;
//! - [`tokens`]: API tokens, listed and revoked.

pub mod access;
pub mod board;
pub mod error;
pub mod evals;
pub mod events;
pub mod exports;
pub mod funding;
pub mod grants;
pub mod incidents;
pub mod jobs;
pub mod releases;
pub mod research;
pub mod tokens;

pub use error::{Code, ErrorCode, ErrorEnvelope, with_next};
