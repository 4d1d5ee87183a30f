//! Integration tests: the real server on an ephemeral loopback port over a fresh SQLite data dir,
//! driven over HTTP.

mod access;
mod common;
mod docs;
mod download;
mod errors;
mod evals;
mod incidents;
mod log;
mod matrix;
mod modules;
mod openapi;
mod possession;
mod releases;
mod security;
mod upload;
