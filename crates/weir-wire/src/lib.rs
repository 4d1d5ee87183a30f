//! weir's wire format, shared by the server, the client and the CLI so that a renamed field is a
//! compile error on both sides rather than a silently printed `?`.
//!
//! - [`error`]: the closed set of error codes and the error envelope.

pub mod error;

pub use error::{Code, ErrorCode, ErrorEnvelope};
