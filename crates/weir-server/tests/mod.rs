//! Integration tests: the real router (middleware, background sequencer) over a fresh SQLite data
//! dir and real blobs, driven in process through `Router::oneshot` (`common::TestApp`); the tests
//! of the connection layer use `TestApp::live`, a real server on a loopback port.

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
