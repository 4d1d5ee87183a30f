//! Integration tests: the real router (middleware, background sequencer) over a fresh SQLite data
//! dir and real blobs, driven in process through `Router::oneshot` (`common::TestApp`); the tests
//! of the connection layer use `TestApp::live`, a real server on a loopback port.
//!
//! The tree mirrors `src/`: `access/`, `evals/`, `incidents/` and `hub/` hold one file per handler
//! file (each capability with its abuse cases next to it), `events.rs`, `exports.rs`, `log.rs`, `releases.rs`,
//! `publishers.rs`, `tokens.rs`, `gate.rs` and `conn.rs` mirror their modules; `possession.rs`, `matrix.rs`,
//! `errors.rs`, `openapi.rs`, `modules.rs` and `docs.rs` check invariants across all routes, and
//! `cache.rs` that no cache serves what is no longer true.

mod access;
mod board;
mod cache;
mod common;
mod conn;
mod docs;
mod errors;
mod evals;
mod events;
pub(crate) mod exports;
mod funding;
mod gate;
mod grants;
mod hub;
pub(crate) mod incidents;
mod jobs;
mod log;
mod matrix;
mod modules;
mod observe;
mod openapi;
mod possession;
mod publishers;
mod releases;
mod research;
mod tokens;
mod ui;
