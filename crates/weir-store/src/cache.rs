//! An in-memory cache of registry state, so a small request (a `config.json` GET, `model_info`,
//! a gated download's authorization facts) reads nothing from the database while nothing
//! changed.
//!
//! Correctness rests on one number, the *state version* (`state_version.n`): every insert,
//! update or delete of a state table moves it, by trigger, inside the writing transaction (so
//! no process, replica or admin CLI can change state without moving it). Every cached value is
//! tagged with the version it was read at and is used only while that is still the version.
//!
//! When is the version re-read?
//! - after this process commits a write ([`WriteTx::commit`], [`StateCache::wrote`]): the next
//!   read re-reads it, so what a request changed is what the next request sees;
//! - otherwise at most every [`POLL`]: a change made by another process (`weir admin`, another
//!   replica) is seen within that.
//!
//! Races: a value read from the database is tagged with the version captured *before* the
//! read; if a write committed in between, the version has moved by the time anyone asks, and
//! the stale value is never used. Deliberately absent: caching inside write transactions
//! (they read the database), and caching anything time-dependent (grant expiry, attestation
//! expiry, presumption clocks are computed from the cached rows at each read).

use std::hash::Hash;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sqlx::Row;

use crate::Result;

/// How long the state version is trusted without re-reading it: the bound on how late a change
/// made by another process is seen.
pub const POLL: Duration = Duration::from_millis(2);

/// Clears the in-flight flag of a poll when it ends (or is cancelled).
struct Flight<'a>(&'a std::sync::atomic::AtomicBool);

impl Drop for Flight<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

/// A state version: what cached values are tagged with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Version(u64);

struct Known {
    /// The tag of values read at the current state: a new one each time `state_version.n` is
    /// seen to differ from `n` (up or down: a database restored under a running server counts
    /// as a change), so a tag is never reused.
    version: u64,
    /// The `state_version.n` last read.
    n: Option<i64>,
    /// The value of [`StateCache::writes`] the version was read after.
    writes_seen: u64,
    /// When the version was last read (since [`StateCache::start`]).
    checked_at: Duration,
}

pub(crate) struct StateCache {
    start: Instant,
    /// [`POLL`] in milliseconds, except in tests that need another value.
    poll_ms: AtomicU64,
    /// Write transactions this process committed.
    writes: AtomicU64,
    /// Delivery records this process wrote (deliveries do not move the state version).
    deliveries: AtomicU64,
    /// Whether a poll of the version is in flight.
    refreshing: std::sync::atomic::AtomicBool,
    known: Mutex<Known>,
}

impl StateCache {
    pub(crate) fn new() -> StateCache {
        StateCache {
            start: Instant::now(),
            poll_ms: AtomicU64::new(POLL.as_millis() as u64),
            writes: AtomicU64::new(0),
            deliveries: AtomicU64::new(0),
            refreshing: std::sync::atomic::AtomicBool::new(false),
            known: Mutex::new(Known {
                version: 0,
                n: None,
                writes_seen: u64::MAX,
                checked_at: Duration::ZERO,
            }),
        }
    }

    /// Notes that this process committed a change to state: the next read re-reads the version.
    pub(crate) fn wrote(&self) {
        self.writes.fetch_add(1, Ordering::AcqRel);
    }

    pub(crate) fn set_poll(&self, poll: Duration) {
        self.poll_ms
            .store(poll.as_millis() as u64, Ordering::Relaxed);
    }

    /// Notes that this process recorded a delivery.
    pub(crate) fn delivered(&self) {
        self.deliveries.fetch_add(1, Ordering::AcqRel);
    }

    /// How many deliveries this process recorded.
    pub(crate) fn deliveries(&self) -> u64 {
        self.deliveries.load(Ordering::Acquire)
    }

    fn known(&self) -> std::sync::MutexGuard<'_, Known> {
        // A panic while holding this lock leaves plain numbers behind: still usable.
        self.known.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The current state version: the cached one, unless this process wrote since or
    /// [`POLL`] passed, in which case it is read from the database.
    pub(crate) async fn version(&self, pool: &sqlx::AnyPool) -> Result<Version> {
        // Captured before the read: a write committed after this is noticed by the next caller.
        let writes = self.writes.load(Ordering::Acquire);
        let now = self.start.elapsed();
        let mut flight = None;
        {
            let k = self.known();
            if k.writes_seen == writes {
                let poll = Duration::from_millis(self.poll_ms.load(Ordering::Relaxed));
                if now.saturating_sub(k.checked_at) < poll {
                    return Ok(Version(k.version));
                }
                // Only the poll is due (this process wrote nothing since): one caller reads
                // the version, the others go on with the one known meanwhile.
                if self.refreshing.swap(true, Ordering::AcqRel) {
                    return Ok(Version(k.version));
                }
                flight = Some(Flight(&self.refreshing));
            }
        }
        let row = sqlx::query("SELECT n FROM state_version WHERE id = 1")
            .fetch_one(pool)
            .await?;
        let n: i64 = row.try_get("n")?;
        let mut k = self.known();
        // Values are always read after their tag was obtained; a refresh that saw a write
        // (even a slower one that saw an older number) starts a new tag, so nothing read
        // before that write is used after it.
        if k.n != Some(n) {
            k.n = Some(n);
            k.version += 1;
        }
        if k.writes_seen == u64::MAX || writes > k.writes_seen {
            k.writes_seen = writes;
        }
        k.checked_at = k.checked_at.max(now);
        drop(flight);
        Ok(Version(k.version))
    }
}

/// A bounded map of values read at a state version (least recently used entries go first),
/// bounded by entries or, with a weigher, by total weight.
pub struct Memo<K, V, W = quick_cache::UnitWeighter> {
    cache: quick_cache::sync::Cache<K, (u64, V), W>,
}

impl<K: Eq + Hash + Clone, V: Clone> Memo<K, V> {
    /// A memo of at most `capacity` entries.
    pub fn new(capacity: usize) -> Memo<K, V> {
        Memo {
            cache: quick_cache::sync::Cache::new(capacity),
        }
    }
}

impl<K: Eq + Hash + Clone, V: Clone, W: quick_cache::Weighter<K, (u64, V)> + Clone> Memo<K, V, W> {
    /// A memo holding at most `weight` in total as `weigher` weighs entries (about `items` of
    /// them).
    pub fn weighted(items: usize, weight: u64, weigher: W) -> Memo<K, V, W> {
        Memo {
            cache: quick_cache::sync::Cache::with_options(
                weighted_options(items, weight),
                weigher,
                Default::default(),
                Default::default(),
            ),
        }
    }

    /// The value stored for `key` at version `at`, if any.
    pub fn get(&self, at: Version, key: &K) -> Option<V> {
        self.cache
            .get(key)
            .and_then(|(v, value)| (v == at.0).then_some(value))
    }

    /// Stores `value`, read from the database after `at` was obtained.
    pub fn put(&self, at: Version, key: K, value: V) {
        self.cache.insert(key, (at.0, value));
    }
}

/// Options of a cache bounded by weight: few shards, since each holds only its share of the
/// weight (an entry heavier than a shard's share is never kept; with one shard per core, a
/// large machine would silently refuse every large entry).
pub fn weighted_options(items: usize, weight: u64) -> quick_cache::Options {
    let mut o = quick_cache::OptionsBuilder::new();
    o.estimated_items_capacity(items)
        .weight_capacity(weight)
        .shards(4);
    o.build()
        .expect("an item estimate, a weight capacity and four shards are valid cache options")
}

/// The cached reads of [`crate::Db`] (each bounded; least recently used entries go first).
pub(crate) struct Memos {
    pub(crate) repos: Memo<(String, String), Option<crate::Repo>>,
    /// (repo, revision, path) → the commit and the file (if any; a missing file is remembered
    /// too: clients probe for optional files), weighed by size.
    pub(crate) files: Memo<(i64, String, String), FileAt, FileWeight>,
    pub(crate) held: Memo<(i64, String), bool>,
    /// Token hash → its facts (unknown tokens are not remembered).
    pub(crate) tokens: Memo<String, crate::TokenInfo>,
    pub(crate) orgs: Memo<String, Vec<(weir_core::Name, String)>>,
    pub(crate) identity: Memo<String, Option<crate::identity::IdentityRows>>,
    pub(crate) terms: Memo<(i64, String), bool>,
    pub(crate) requests: Memo<(i64, String), Option<crate::AccessRequest>>,
    /// (repo, since) → (deliveries recorded here when counted, the count): a count is reused
    /// within the same second and while this process recorded no delivery.
    pub(crate) recipients: quick_cache::sync::Cache<(i64, i64), (u64, i64)>,
}

/// What `Db::file_at` answers.
pub(crate) type FileAt = Option<(weir_core::CommitId, Option<weir_core::git::FileEntry>)>;

/// All cached file rows together at most (their paths are the caller's choice).
const FILES_BYTES: u64 = 16 << 20;

/// Weighs a cached file row by its size in memory, about.
#[derive(Clone)]
pub(crate) struct FileWeight;

impl quick_cache::Weighter<(i64, String, String), (u64, FileAt)> for FileWeight {
    fn weight(&self, k: &(i64, String, String), v: &(u64, FileAt)) -> u64 {
        let file = match &v.1 {
            Some((_, Some(f))) => f.path.as_str().len() + f.git_oid.len() + 160,
            _ => 64,
        };
        (k.1.len() + k.2.len() + file) as u64
    }
}

impl Memos {
    pub(crate) fn new() -> Memos {
        Memos {
            repos: Memo::new(10_000),
            files: Memo::weighted(50_000, FILES_BYTES, FileWeight),
            held: Memo::new(10_000),
            tokens: Memo::new(10_000),
            orgs: Memo::new(10_000),
            identity: Memo::new(10_000),
            terms: Memo::new(20_000),
            requests: Memo::new(20_000),
            recipients: quick_cache::sync::Cache::new(10_000),
        }
    }
}

impl crate::Db {
    /// The value of `key` in `memo` at the current state version, or `read`'s (stored there).
    pub(crate) async fn memoized<
        K: Eq + Hash + Clone,
        V: Clone,
        W: quick_cache::Weighter<K, (u64, V)> + Clone,
    >(
        &self,
        memo: &Memo<K, V, W>,
        key: K,
        read: impl std::future::Future<Output = Result<V>>,
    ) -> Result<V> {
        let at = self.state_version().await?;
        if let Some(v) = memo.get(at, &key) {
            return Ok(v);
        }
        let v = read.await?;
        memo.put(at, key, v.clone());
        Ok(v)
    }
}

/// A write transaction: on commit, this process's cache re-reads the state version.
pub(crate) struct WriteTx {
    tx: sqlx::Transaction<'static, sqlx::Any>,
    cache: std::sync::Arc<StateCache>,
    /// This process's turn at the database's single write lock (released after the commit).
    _turn: WriteTurn,
}

/// A turn at writing: SQLite has one writer at a time, and a writer that finds the lock taken
/// polls it with sleeps of 1 to 100 ms, so this process's writers (requests, the event
/// recorder, the log sequencer) queue here instead and each starts the moment the previous
/// one commits.
pub(crate) type WriteTurn = tokio::sync::OwnedMutexGuard<()>;

/// How long a writer waits for its turn before giving up (SQLite's busy timeout).
const TURN_TIMEOUT: Duration = Duration::from_secs(10);

/// Waits for this process's turn at writing.
pub(crate) async fn write_turn(lock: &std::sync::Arc<tokio::sync::Mutex<()>>) -> Result<WriteTurn> {
    tokio::time::timeout(TURN_TIMEOUT, lock.clone().lock_owned())
        .await
        .map_err(|_| crate::StoreError::Busy)
}

impl WriteTx {
    pub(crate) fn new(
        tx: sqlx::Transaction<'static, sqlx::Any>,
        cache: std::sync::Arc<StateCache>,
        turn: WriteTurn,
    ) -> WriteTx {
        WriteTx {
            tx,
            cache,
            _turn: turn,
        }
    }

    pub(crate) async fn commit(self) -> Result<()> {
        let WriteTx { tx, cache, _turn } = self;
        // Armed before the commit: a request dropped while its commit completes still marks it.
        let _mark = Writing(cache);
        tx.commit().await?;
        Ok(())
    }
}

/// Marks a write when dropped (armed before the write, so a cancelled request still marks it).
pub(crate) struct Writing(pub(crate) std::sync::Arc<StateCache>);

impl Drop for Writing {
    fn drop(&mut self) {
        self.0.wrote();
    }
}

impl std::ops::Deref for WriteTx {
    type Target = sqlx::AnyConnection;
    fn deref(&self) -> &sqlx::AnyConnection {
        &self.tx
    }
}

impl std::ops::DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut sqlx::AnyConnection {
        &mut self.tx
    }
}

#[cfg(test)]
mod tests {
    use sqlx::Row;

    /// Tables whose writes do not move the state version: append-only records nothing cached
    /// is read from (the event stream, delivery records, the transparency log's own tables).
    const UNVERSIONED: &[&str] = &[
        "_sqlx_migrations",
        "cosignatures",
        "deliveries",
        "event_actors",
        "event_index",
        "events",
        // Read once, at start (weir_store::keys).
        "key_pins",
        "log_entries",
        "log_hashes",
        "log_pending",
        "log_state",
        "mail_outbox",
        "passwords",
        // Read and written only inside the write transaction that takes a sign-in
        // attempt (weir_store::rates); no cached answer depends on it.
        "rate_windows",
        "sessions",
        "sqlite_sequence",
        "state_version",
    ];

    #[tokio::test]
    async fn every_state_table_moves_the_version() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = crate::Db::open_sqlite(&dir.path().join("weir.db"))
            .await
            .expect("open");
        let tables = sqlx::query("SELECT name FROM sqlite_master WHERE type = 'table'")
            .fetch_all(&db.pool)
            .await
            .expect("tables");
        let triggers =
            sqlx::query("SELECT tbl_name, sql FROM sqlite_master WHERE type = 'trigger'")
                .fetch_all(&db.pool)
                .await
                .expect("triggers");
        for t in tables {
            let name: String = t.try_get("name").expect("name");
            if UNVERSIONED.contains(&name.as_str()) {
                continue;
            }
            for event in ["INSERT", "UPDATE", "DELETE"] {
                let found = triggers.iter().any(|r| {
                    let tbl: String = r.try_get("tbl_name").expect("tbl");
                    let sql: String = r.try_get("sql").expect("sql");
                    tbl == name
                        && sql.contains(&format!("AFTER {event} ON {name} "))
                        && sql.contains("UPDATE state_version SET n = n + 1")
                });
                assert!(
                    found,
                    "table {name} has no {event} trigger moving state_version: add one in a migration (see 0019_state_version.sql), or list it in UNVERSIONED if nothing cached reads it"
                );
            }
        }
    }

    #[tokio::test]
    async fn a_write_moves_the_version_and_the_writer_sees_it_at_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = crate::Db::open_sqlite(&dir.path().join("weir.db"))
            .await
            .expect("open");
        // Only this process's own mark can make the next read see the write: the poll interval
        // is longer than the test.
        db.set_state_poll(std::time::Duration::from_secs(3600));
        let v0 = db.state_version().await.expect("v0");
        assert_eq!(db.state_version().await.expect("again"), v0);
        db.create_user(&weir_core::Name::parse("ann").expect("name"), None, false)
            .await
            .expect("user");
        let v1 = db.state_version().await.expect("v1");
        assert_ne!(v0, v1, "a committed write is seen by the next read");
        // The same through a write transaction.
        let mut tx = db.begin_write().await.expect("tx");
        sqlx::query("UPDATE accounts SET fullname = 'Ann' WHERE name = 'ann'")
            .execute(&mut *tx)
            .await
            .expect("update");
        tx.commit().await.expect("commit");
        let v1 = {
            let v = db.state_version().await.expect("v1'");
            assert_ne!(v, v1, "a committed transaction is seen by the next read");
            v
        };
        // Events do not move it.
        let n = |db: crate::Db| async move {
            sqlx::query("SELECT n FROM state_version")
                .fetch_one(&db.pool)
                .await
                .expect("n")
                .try_get::<i64, _>("n")
                .expect("n")
        };
        let before = n(db.clone()).await;
        db.record_event(&weir_core::Event {
            at: 1,
            actor: None,
            action: "x".into(),
            repo: None,
            subject: None,
            decision: "allow".into(),
            reason: "ok".into(),
            request_id: None,
            user_agent: None,
            details: serde_json::json!({}),
        })
        .await
        .expect("event");
        assert_eq!(db.state_version().await.expect("v2"), v1);
        assert_eq!(
            n(db.clone()).await,
            before,
            "an event moved the state version"
        );
    }

    #[tokio::test]
    async fn another_process_change_is_seen_within_the_poll_interval() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("weir.db");
        let server = crate::Db::open_sqlite(&path).await.expect("open");
        // The admin CLI: another connection pool on the same file, with its own cache.
        let cli = crate::Db::open_sqlite(&path).await.expect("open again");
        let v0 = server.state_version().await.expect("v0");
        cli.create_user(&weir_core::Name::parse("bob").expect("name"), None, false)
            .await
            .expect("user");
        tokio::time::sleep(super::POLL * 2).await;
        let v1 = server.state_version().await.expect("v1");
        assert_ne!(v1, v0);
        // A database restored under the running server: the number goes down, still a change.
        sqlx::query("UPDATE state_version SET n = 0")
            .execute(&cli.pool)
            .await
            .expect("restore");
        tokio::time::sleep(super::POLL * 2).await;
        let v2 = server.state_version().await.expect("v2");
        assert!(
            v2 != v1 && v2 != v0,
            "a lower number was not taken as a change"
        );
    }

    #[test]
    fn a_value_from_another_version_is_not_used() {
        let m = super::Memo::<u32, &str>::new(4);
        m.put(super::Version(1), 7, "old");
        assert_eq!(m.get(super::Version(1), &7), Some("old"));
        assert_eq!(m.get(super::Version(2), &7), None);
    }
}
