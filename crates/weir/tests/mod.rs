//! End-to-end tests of the `weir` binary: operator commands, push/pull against a real
//! `weir serve` on loopback, and a crash in the middle of an upload.

mod architecture;
mod backup;
mod classify;
mod cli;
mod config;
mod crash;
mod demo;
mod harness;
pub(crate) mod log;
mod ui;
