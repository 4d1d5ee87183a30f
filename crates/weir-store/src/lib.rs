//! weir's storage: the database (sqlx over SQLite, PostgreSQL later) and the content-addressed
//! blob store.
//!
//! Invariants:
//! - nothing partial is ever visible: a blob appears under its SHA-256 only after it was fully
//!   written, hashed, fsynced and renamed; every multi-row change runs in one transaction; a
//!   branch moves only by compare-and-swap on its old head.
//! - one module per aggregate (accounts, tokens, repos and their commits and refs, blobs).
//! - SQL is portable (`$N` placeholders, BIGINT/TEXT), never string-built.

pub mod access;
pub mod accounts;
pub mod blobs;
mod db;
pub mod evals;
pub mod events;
pub mod exports;
pub mod identity;
pub mod incidents;
pub mod releases;
pub mod repos;
pub mod tlog;
pub mod tokens;

use std::path::{Path, PathBuf};

pub use access::AccessRequest;
pub use accounts::{Account, AccountKind};
pub use blobs::{BlobError, BlobStore};
pub use db::Db;
pub use exports::Export;
pub use identity::{AttestationRecord, Identity};
pub use repos::{CommitInfo, CommitOp, Gating, NewCommit, RefInfo, RefKind, Repo};
pub use tokens::TokenInfo;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error(transparent)]
    Blob(#[from] BlobError),
    #[error("{0} already exists")]
    Exists(String),
    #[error("{0} is a reserved name (it is a route of the registry); pick another")]
    Reserved(String),
    #[error("{0} not found")]
    NotFound(String),
    /// A commit's expected parent is not the branch head any more.
    #[error("branch {branch} moved: its head is {head}, not {expected}")]
    Conflict {
        branch: String,
        head: String,
        expected: String,
    },
    #[error("invalid commit: {0}")]
    InvalidCommit(String),
    /// A commit names bytes this repo never received (possession before reference). The same
    /// answer whether or not the bytes are stored for another repo.
    #[error("{path}: the object sha256:{sha256} ({size} bytes) was not uploaded to this repo")]
    NotUploaded {
        path: String,
        sha256: String,
        size: u64,
    },
    #[error("corrupt row: {0}")]
    Corrupt(String),
    #[error("I/O error on {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The database and the blobs of one registry.
#[derive(Clone)]
pub struct Store {
    pub db: Db,
    pub blobs: BlobStore,
}

impl Store {
    /// Opens (creating if needed) the embedded default under `data_dir`: `weir.db` (SQLite, WAL)
    /// and `blobs/`. Migrations run; temp files left by a crash are removed.
    pub async fn open_data_dir(data_dir: &Path) -> Result<Store> {
        std::fs::create_dir_all(data_dir).map_err(|source| StoreError::Io {
            path: data_dir.to_path_buf(),
            source,
        })?;
        let db = Db::open_sqlite(&data_dir.join("weir.db")).await?;
        let blobs = BlobStore::open(&data_dir.join("blobs"))?;
        Ok(Store { db, blobs })
    }
}

pub(crate) fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}
