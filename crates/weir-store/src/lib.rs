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
pub mod backup;
pub mod blobs;
pub mod board;
pub mod cache;
mod db;
pub mod dialect;
pub mod evals;
pub mod events;
pub mod exports;
pub mod facts;
pub mod funding;
pub mod gauges;
pub mod gc;
pub mod grants;
pub mod identity;
pub mod incidents;
pub mod jobs;
pub mod keys;
pub mod listing;
pub mod mail;
pub mod rates;
pub mod releases;
pub mod repos;
pub mod research;
pub mod s3;
pub mod sessions;
pub mod tlog;
pub mod tokens;

use std::path::{Path, PathBuf};

pub use access::AccessRequest;
pub use accounts::{Account, AccountKind};
pub use blobs::{BlobError, BlobStore};
pub use db::{Backend, Db};
pub use exports::Export;
pub use identity::{AttestationRecord, Identity};
pub use repos::{CommitInfo, CommitOp, Gating, NewCommit, RefInfo, RefKind, Repo};
pub use s3::S3Settings;
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
    /// This process's writers queued longer than the busy timeout for the write lock.
    #[error("the database is busy: timed out waiting for the write lock")]
    Busy,
    /// The name belongs to a deleted repo (a tombstone): never taken again.
    #[error("{repo} was deleted; the name of a deleted repo is never reused")]
    Deleted { repo: String, at: i64 },
    /// A commit's expected parent is not the branch head any more.
    #[error("branch {branch} moved: its head is {head}, not {expected}")]
    Conflict {
        branch: String,
        head: String,
        expected: String,
    },
    /// A guarded state change found the record in another state than it was read in (another
    /// request changed it meanwhile).
    #[error("{record} is no longer {expected}: it changed meanwhile")]
    StateChanged { record: String, expected: String },
    #[error("invalid commit: {0}")]
    InvalidCommit(String),
    /// A commit deletes a file or folder the branch does not have.
    #[error("{0}: no such file or folder on the branch")]
    NoSuchEntry(String),
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
    /// The store's configuration cannot be used (an S3 URL, say); the message says why.
    #[error("{0}")]
    Config(String),
    /// A bound checked inside a transaction was reached.
    #[error("{0}")]
    LimitReached(String),
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
    /// Serializes re-classifications in this process, so the last one to run sees the latest
    /// evidence and results (each change that matters is followed by one).
    pub classify_lock: std::sync::Arc<tokio::sync::Mutex<()>>,
    /// Bounds the blobs read for facts at once ([`facts::CONCURRENT_READS`]).
    pub(crate) fact_reads: std::sync::Arc<tokio::sync::Semaphore>,
    /// The database's URL when it is not the data dir's SQLite file (another process opens the
    /// same state with it). Holds any password the URL holds: never log it whole (see
    /// [`dialect::redacted`]).
    pub database_url: Option<String>,
    /// The S3 store of the blobs, when not the data dir (another process opens the same state
    /// with it). Holds any secret key given: never log it (its `Debug` hides the secret).
    pub blob_settings: Option<S3Settings>,
}

impl Store {
    /// Opens (creating if needed) the embedded default under `data_dir`: `weir.db` (SQLite, WAL)
    /// and `blobs/`. Migrations run; temp files left by a crash are removed.
    pub async fn open_data_dir(data_dir: &Path) -> Result<Store> {
        Store::open_with(data_dir, None, None).await
    }

    /// For tests: on a fresh PostgreSQL database when `WEIR_TEST_POSTGRES` names a server
    /// (see [`Db::fresh_test_database`]), else the embedded SQLite database; blobs under the
    /// data dir either way.
    #[doc(hidden)]
    pub async fn open_test(data_dir: &Path) -> Result<Store> {
        let url = Db::fresh_test_database().await?;
        Store::open_with(data_dir, url.as_deref(), test_s3().as_ref()).await
    }

    /// Another store on this one's database and blobs, from `data_dir` (its own pools and
    /// caches): a second replica, or an admin command running beside the server.
    pub async fn open_another(&self, data_dir: &Path) -> Result<Store> {
        Store::open_with(
            data_dir,
            self.database_url.as_deref(),
            self.blob_settings.as_ref(),
        )
        .await
    }

    /// Opens the registry's state as [`Store::open`] does, with the blobs on the S3-compatible
    /// store `blobs` when given (the data dir's `blobs/` is then this replica's cache of them).
    pub async fn open_with(
        data_dir: &Path,
        database: Option<&str>,
        blobs: Option<&S3Settings>,
    ) -> Result<Store> {
        std::fs::create_dir_all(data_dir).map_err(|source| StoreError::Io {
            path: data_dir.to_path_buf(),
            source,
        })?;
        same_registry(data_dir, database, blobs)?;
        let mut store = Store::open_parts(data_dir, database).await?;
        if let Some(settings) = blobs {
            let remote = s3::Remote::open(settings).map_err(StoreError::Config)?;
            store.blobs = BlobStore::open_remote(&data_dir.join("blobs"), remote)?;
            store.blob_settings = Some(settings.clone());
        }
        Ok(store)
    }

    /// Opens the registry's state under `data_dir` (created if needed, 0700): the database at
    /// `database` (a `postgres://` URL), or else `weir.db` (SQLite) in the data dir; the blobs
    /// under `blobs/`. Migrations run; temp files left by a crash are removed.
    pub async fn open(data_dir: &Path, database: Option<&str>) -> Result<Store> {
        Store::open_with(data_dir, database, None).await
    }

    async fn open_parts(data_dir: &Path, database: Option<&str>) -> Result<Store> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| StoreError::Io { path, source }
        };
        std::fs::create_dir_all(data_dir).map_err(io(data_dir))?;
        // The database holds personal data and token hashes: only the server's user reads it.
        // SQLite gives the -wal and -shm files the database file's mode.
        let db_path = data_dir.join("weir.db");
        #[cfg(unix)]
        {
            use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
            std::fs::set_permissions(data_dir, std::fs::Permissions::from_mode(0o700))
                .map_err(io(data_dir))?;
            if database.is_none() {
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .mode(0o600)
                    .open(&db_path)
                    .map_err(io(&db_path))?;
                std::fs::set_permissions(&db_path, std::fs::Permissions::from_mode(0o600))
                    .map_err(io(&db_path))?;
            }
        }
        let db = match database {
            Some(url) => Db::open_url(url).await?,
            None => Db::open_sqlite(&db_path).await?,
        };
        let blobs = BlobStore::open(&data_dir.join("blobs"))?;
        Ok(Store {
            db,
            blobs,
            classify_lock: Default::default(),
            fact_reads: std::sync::Arc::new(tokio::sync::Semaphore::new(facts::CONCURRENT_READS)),
            database_url: database.map(str::to_string),
            blob_settings: None,
        })
    }
}

/// The file in a data dir that names the database and the blob store it was first opened with.
const STORE_FILE: &str = "store.json";

/// Refuses to open `data_dir` with another database or blob store than the one it was first
/// opened with (recorded in [`STORE_FILE`], without any password): a start that forgot
/// `--database` would otherwise make a second, empty registry signing with the same keys, and
/// one that forgot `--blobs` would keep uploads on a cache no other replica reads.
fn same_registry(
    data_dir: &Path,
    database: Option<&str>,
    blobs: Option<&S3Settings>,
) -> Result<()> {
    let db = match database {
        Some(url) => {
            let r = dialect::redacted(url);
            r.split_once('?').map_or(r.clone(), |(u, _)| u.to_string())
        }
        None => "sqlite: weir.db in the data dir".to_string(),
    };
    let store = match blobs {
        Some(b) => {
            let (bucket, prefix) = s3::parse_url(&b.url).map_err(StoreError::Config)?;
            format!("s3://{bucket}/{prefix}")
        }
        None => "blobs/ in the data dir".to_string(),
    };
    let want = serde_json::json!({"database": db, "blobs": store});
    let path = data_dir.join(STORE_FILE);
    let io = |source| StoreError::Io {
        path: path.clone(),
        source,
    };
    match std::fs::read(&path) {
        Ok(bytes) => {
            let had: serde_json::Value = serde_json::from_slice(&bytes)
                .map_err(|e| StoreError::Config(format!("{} is damaged: {e}", path.display())))?;
            if had != want {
                let show =
                    |v: &serde_json::Value, k: &str| v[k].as_str().unwrap_or("?").to_string();
                return Err(StoreError::Config(format!(
                    "the data dir {} belongs to the registry with the database {} and the blobs {}, not {} and {}: give the same --database and --blobs (each replica's data dir serves one registry; to move one, edit {} after moving its data)",
                    data_dir.display(),
                    show(&had, "database"),
                    show(&had, "blobs"),
                    show(&want, "database"),
                    show(&want, "blobs"),
                    path.display()
                )));
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let tmp = data_dir.join(format!("{STORE_FILE}.tmp"));
            std::fs::write(
                &tmp,
                serde_json::to_vec_pretty(&want).map_err(|e| StoreError::Corrupt(e.to_string()))?,
            )
            .map_err(io)?;
            std::fs::rename(&tmp, &path).map_err(io)
        }
        Err(e) => Err(io(e)),
    }
}

/// For tests: blobs on the S3-compatible server `WEIR_TEST_S3` names (its URL), in the bucket
/// `WEIR_TEST_S3_BUCKET` (default `weir-test`, which must exist), under a fresh prefix per test.
#[doc(hidden)]
pub fn test_s3() -> Option<S3Settings> {
    let endpoint = std::env::var("WEIR_TEST_S3")
        .ok()
        .filter(|e| !e.is_empty())?;
    let bucket = std::env::var("WEIR_TEST_S3_BUCKET").unwrap_or_else(|_| "weir-test".into());
    let prefix: String = (0..12)
        .map(|_| char::from(b"0123456789abcdef"[rand::random_range(0..16)]))
        .collect();
    Some(S3Settings {
        url: format!("s3://{bucket}/t-{prefix}"),
        endpoint: Some(endpoint),
        region: Some("us-east-1".into()),
        access_key_id: Some("weir-test".into()),
        secret_access_key: Some("weir-test-secret".into()),
    })
}

pub(crate) fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    #[tokio::test]
    async fn a_data_dir_opens_only_with_the_database_and_blobs_it_was_made_with() {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("data");
        drop(super::Store::open_data_dir(&data).await.expect("open"));
        // A start that names another database is refused before it connects anywhere.
        let other =
            super::Store::open(&data, Some("postgres://weir:pw@db.invalid:5432/weir")).await;
        let Err(e) = other else {
            panic!("opened with another database")
        };
        let msg = e.to_string();
        assert!(
            msg.contains("give the same --database and --blobs"),
            "{msg}"
        );
        assert!(!msg.contains("pw@"), "no password in the message: {msg}");
        let s3 = super::S3Settings {
            url: "s3://weir-blobs/prod".into(),
            ..Default::default()
        };
        assert!(
            super::Store::open_with(&data, None, Some(&s3))
                .await
                .is_err()
        );
        // The same settings open it again.
        super::Store::open_data_dir(&data).await.expect("again");
    }

    #[tokio::test]
    async fn the_data_dir_and_database_are_private_to_the_server() {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("data");
        let store = super::Store::open_data_dir(&data).await.expect("open");
        store
            .db
            .create_user(&weir_core::Name::parse("alice").expect("n"), None, false)
            .await
            .expect("write");
        let mode =
            |p: &std::path::Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode(&data), 0o700);
        assert_eq!(mode(&data.join("weir.db")), 0o600);
        for side in ["weir.db-wal", "weir.db-shm"] {
            let p = data.join(side);
            if p.exists() {
                assert_eq!(mode(&p) & 0o077, 0, "{side}");
            }
        }
    }
}
