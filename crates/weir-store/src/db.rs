//! The connection pool and migrations. One portable SQL code path through sqlx's `Any` driver.

use std::path::Path;
use std::time::Duration;

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{AnyPool, Executor, SqlSafeStr};

use crate::Result;

const SQLITE_MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "init",
        include_str!("../migrations/sqlite/0001_init.sql"),
    ),
    (
        2,
        "access",
        include_str!("../migrations/sqlite/0002_access.sql"),
    ),
    (3, "log", include_str!("../migrations/sqlite/0003_log.sql")),
    (
        4,
        "releases",
        include_str!("../migrations/sqlite/0004_releases.sql"),
    ),
    (
        5,
        "witnesses",
        include_str!("../migrations/sqlite/0005_witnesses.sql"),
    ),
    (
        6,
        "publisher_keys",
        include_str!("../migrations/sqlite/0006_publisher_keys.sql"),
    ),
    (
        7,
        "evaluations",
        include_str!("../migrations/sqlite/0007_evaluations.sql"),
    ),
    (
        8,
        "incidents",
        include_str!("../migrations/sqlite/0008_incidents.sql"),
    ),
    (
        9,
        "presumption_notice",
        include_str!("../migrations/sqlite/0009_presumption_notice.sql"),
    ),
    (
        10,
        "possession",
        include_str!("../migrations/sqlite/0010_possession.sql"),
    ),
    (
        11,
        "reporter_shared",
        include_str!("../migrations/sqlite/0011_reporter_shared.sql"),
    ),
    (
        12,
        "chosen_tier",
        include_str!("../migrations/sqlite/0012_chosen_tier.sql"),
    ),
    (
        13,
        "declared_facts",
        include_str!("../migrations/sqlite/0013_declared_facts.sql"),
    ),
    (
        14,
        "listing",
        include_str!("../migrations/sqlite/0014_listing.sql"),
    ),
    (
        15,
        "blob_facts",
        include_str!("../migrations/sqlite/0015_blob_facts.sql"),
    ),
    (
        16,
        "tombstones",
        include_str!("../migrations/sqlite/0016_tombstones.sql"),
    ),
    (
        17,
        "lineage",
        include_str!("../migrations/sqlite/0017_lineage.sql"),
    ),
    (
        18,
        "redirects",
        include_str!("../migrations/sqlite/0018_redirects.sql"),
    ),
    (
        19,
        "state_version",
        include_str!("../migrations/sqlite/0019_state_version.sql"),
    ),
    (
        20,
        "event_actors",
        include_str!("../migrations/sqlite/0020_event_actors.sql"),
    ),
    (
        21,
        "research",
        include_str!("../migrations/sqlite/0021_research.sql"),
    ),
    (
        22,
        "jobs",
        include_str!("../migrations/sqlite/0022_jobs.sql"),
    ),
    (
        23,
        "output checking",
        include_str!("../migrations/sqlite/0023_output_checking.sql"),
    ),
    (
        24,
        "grants",
        include_str!("../migrations/sqlite/0024_grants.sql"),
    ),
    (
        25,
        "board",
        include_str!("../migrations/sqlite/0025_board.sql"),
    ),
    (
        26,
        "funding",
        include_str!("../migrations/sqlite/0026_funding.sql"),
    ),
    (
        27,
        "disbursement_award",
        include_str!("../migrations/sqlite/0027_disbursement_award.sql"),
    ),
    (28, "ui", include_str!("../migrations/sqlite/0028_ui.sql")),
    (
        29,
        "mail",
        include_str!("../migrations/sqlite/0029_mail.sql"),
    ),
    (
        30,
        "card_terms",
        include_str!("../migrations/sqlite/0030_card_terms.sql"),
    ),
    (
        31,
        "rate windows",
        include_str!("../migrations/sqlite/0031_rate_windows.sql"),
    ),
    (
        32,
        "key pins",
        include_str!("../migrations/sqlite/0032_key_pins.sql"),
    ),
    (
        33,
        "rate windows by start",
        include_str!("../migrations/sqlite/0033_rate_windows_started.sql"),
    ),
];

/// The PostgreSQL migrations: the schema the SQLite ones reach, in PostgreSQL's types, then
/// any later change in both directories.
const POSTGRES_MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "init",
        include_str!("../migrations/postgres/0001_init.sql"),
    ),
    (
        2,
        "rate windows",
        include_str!("../migrations/postgres/0002_rate_windows.sql"),
    ),
    (
        3,
        "key pins",
        include_str!("../migrations/postgres/0003_key_pins.sql"),
    ),
    (
        4,
        "rate windows by start",
        include_str!("../migrations/postgres/0004_rate_windows_started.sql"),
    ),
];

/// A PostgreSQL connection pool, each connection set up by [`crate::dialect::postgres_session`].
async fn postgres_pool(url: &str) -> Result<AnyPool> {
    install_default_drivers();
    Ok(AnyPoolOptions::new()
        .max_connections(16)
        .acquire_timeout(Duration::from_secs(30))
        .after_connect(|conn, _meta| {
            Box::pin(async move {
                crate::dialect::postgres_session(conn).await?;
                Ok(())
            })
        })
        .connect(url)
        .await?)
}

/// Runs the PostgreSQL migrations, one replica at a time (two starting at once: one migrates,
/// the other waits for it, then finds nothing to do).
async fn migrate_postgres(pool: &AnyPool) -> Result<()> {
    let mut conn = pool.acquire().await?;
    crate::dialect::lock_migrations(&mut conn).await?;
    let migrations = POSTGRES_MIGRATIONS
        .iter()
        .map(|(v, d, sql)| {
            Migration::new(
                *v,
                (*d).into(),
                MigrationType::Simple,
                sql.into_sql_str(),
                false,
            )
        })
        .collect();
    let ran = Migrator::with_migrations(migrations).run(&mut *conn).await;
    crate::dialect::unlock_migrations(&mut conn).await?;
    ran?;
    Ok(())
}

/// The same server URL naming another database.
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let server = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    match query {
        Some(q) => format!("{server}/{database}?{q}"),
        None => format!("{server}/{database}"),
    }
}

/// The database engine behind a [`Db`]. The SQL is the same on both; the few statements that
/// differ are in [`crate::dialect`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone)]
pub struct Db {
    pub(crate) pool: AnyPool,
    pub(crate) backend: Backend,
    /// The group writer of standalone events and deliveries.
    pub(crate) recorder: crate::events::Recorder,
    /// The state version this process last read (see [`crate::cache`]).
    pub(crate) cache: std::sync::Arc<crate::cache::StateCache>,
    /// Cached reads of state, tagged with the version they were read at.
    pub(crate) memo: std::sync::Arc<crate::cache::Memos>,
    /// This process's queue for the single write lock (see [`crate::cache::WriteTurn`]).
    pub(crate) write_lock: std::sync::Arc<tokio::sync::Mutex<()>>,
}

impl Db {
    pub async fn open_sqlite(path: &Path) -> Result<Db> {
        install_default_drivers();
        let url = format!("sqlite://{}?mode=rwc", path.display());
        let pool = AnyPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(30))
            // A SQLite connection is a file handle in this process: there is no peer to lose,
            // so no ping before each use (it doubled the round trips of every small request).
            .test_before_acquire(false)
            .after_connect(|conn, _meta| {
                Box::pin(async move {
                    conn.execute("PRAGMA busy_timeout = 10000").await?;
                    conn.execute("PRAGMA foreign_keys = ON").await?;
                    // FULL: a committed transaction is on disk before its effect is visible.
                    // With NORMAL, WAL commits can be lost on power loss, so a signed
                    // checkpoint could be followed by another tree of the same size, and a
                    // consumed single-use export link or an approval could come back.
                    conn.execute("PRAGMA synchronous = FULL").await?;
                    // Reads of the log's hash table are random: keep pages cached and mapped.
                    conn.execute("PRAGMA cache_size = -16384").await?;
                    conn.execute("PRAGMA mmap_size = 268435456").await?;
                    // Checkpoint every 4,000 pages (16 MiB, still one wal-index segment)
                    // rather than 1,000: the pages every commit rewrites (the tails of the
                    // events table, its indexes and the log queue) are copied back once for
                    // four times as many commits.
                    conn.execute("PRAGMA wal_autocheckpoint = 4000").await?;
                    Ok(())
                })
            })
            .connect(&url)
            .await?;
        pool.execute("PRAGMA journal_mode = WAL").await?;
        let migrations = SQLITE_MIGRATIONS
            .iter()
            .map(|(v, d, sql)| {
                Migration::new(
                    *v,
                    (*d).into(),
                    MigrationType::Simple,
                    sql.into_sql_str(),
                    false,
                )
            })
            .collect();
        Migrator::with_migrations(migrations).run(&pool).await?;
        Ok(Db::with_pool(pool, Backend::Sqlite))
    }

    /// Opens (and migrates) a PostgreSQL database, `postgres://user@host:port/db`.
    pub async fn open_postgres(url: &str) -> Result<Db> {
        let pool = postgres_pool(url).await?;
        migrate_postgres(&pool).await?;
        use sqlx::Row;
        let collation: String = sqlx::query(
            "SELECT datcollate::TEXT AS c FROM pg_database WHERE datname = current_database()",
        )
        .fetch_one(&pool)
        .await?
        .try_get("c")?;
        if collation != "C" && collation != "POSIX" {
            tracing::warn!(
                %collation,
                "the database does not order text bytewise (as SQLite does): lists sorted by name follow its collation; create it with LOCALE 'C' for the same order"
            );
        }
        Ok(Db::with_pool(pool, Backend::Postgres))
    }

    /// A fresh, migrated PostgreSQL database for one test, when `WEIR_TEST_POSTGRES` names a
    /// server (`postgres://USER@HOST:PORT/postgres`, a user that may create databases): made
    /// from a template migrated once per schema; its URL. `None` when the variable is unset.
    #[doc(hidden)]
    pub async fn fresh_test_database() -> Result<Option<String>> {
        let Some(admin) = std::env::var("WEIR_TEST_POSTGRES")
            .ok()
            .filter(|u| !u.is_empty())
        else {
            return Ok(None);
        };
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        for (v, _, sql) in POSTGRES_MIGRATIONS {
            h.update(v.to_le_bytes());
            h.update(sql.as_bytes());
        }
        let template = format!("weir_tpl_{}", &hex::encode(h.finalize())[..16]);
        let mut name = [0u8; 8];
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut name);
        let name = format!("weir_test_{}", hex::encode(name));
        install_default_drivers();
        let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&admin).await?;
        // One test process makes the template; the others wait, then copy it.
        crate::dialect::lock_migrations(&mut conn).await?;
        let made: Option<i64> =
            sqlx::query("SELECT 1::BIGINT AS one FROM pg_database WHERE datname = $1")
                .bind(&template)
                .fetch_optional(&mut conn)
                .await?
                .map(|r| sqlx::Row::try_get(&r, "one"))
                .transpose()?;
        let result = async {
            if made.is_none() {
                conn.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {template}")))
                    .await?;
                let pool = postgres_pool(&with_database(&admin, &template)).await?;
                let migrated = migrate_postgres(&pool).await;
                pool.close().await;
                if let Err(e) = migrated {
                    conn.execute(sqlx::AssertSqlSafe(format!("DROP DATABASE {template}")))
                        .await?;
                    return Err(e);
                }
            }
            conn.execute(sqlx::AssertSqlSafe(format!(
                "CREATE DATABASE {name} TEMPLATE {template}"
            )))
            .await?;
            Ok(())
        }
        .await;
        crate::dialect::unlock_migrations(&mut conn).await?;
        result?;
        Ok(Some(with_database(&admin, &name)))
    }

    /// Opens the database a URL names: `postgres://…` (or `postgresql://…`), or
    /// `sqlite://PATH`.
    pub async fn open_url(url: &str) -> Result<Db> {
        // SQLite is the data dir's own weir.db (created 0600 there), never a file named here.
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Db::open_postgres(url).await
        } else {
            Err(crate::StoreError::Config(format!(
                "unsupported database URL {}: use postgres://USER@HOST:PORT/DB, or leave the database unset for the data dir's SQLite file",
                crate::dialect::redacted(url)
            )))
        }
    }

    /// Which engine this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Opens an existing database to read only: nothing is created, no migration runs, and its
    /// schema must be the one this binary knows (a backup reads a live registry this way).
    pub async fn open_sqlite_readonly(path: &Path) -> Result<Db> {
        install_default_drivers();
        if !path.is_file() {
            return Err(crate::StoreError::NotFound(format!(
                "database {}",
                path.display()
            )));
        }
        let url = format!("sqlite://{}?mode=ro", path.display());
        let pool = AnyPoolOptions::new()
            .max_connections(2)
            .acquire_timeout(Duration::from_secs(30))
            .test_before_acquire(false)
            .after_connect(|conn, _meta| {
                Box::pin(async move {
                    conn.execute("PRAGMA busy_timeout = 10000").await?;
                    Ok(())
                })
            })
            .connect(&url)
            .await?;
        use sqlx::Row;
        let have: Option<i64> = sqlx::query("SELECT MAX(version) AS v FROM _sqlx_migrations")
            .fetch_one(&pool)
            .await?
            .try_get("v")?;
        let want = SQLITE_MIGRATIONS.last().map(|(v, _, _)| *v);
        if have != want {
            return Err(crate::StoreError::Corrupt(format!(
                "{} is at schema version {}, this weir at {}: use the weir that serves it",
                path.display(),
                have.unwrap_or(0),
                want.unwrap_or(0)
            )));
        }
        Ok(Db::with_pool(pool, Backend::Sqlite))
    }

    fn with_pool(pool: AnyPool, backend: Backend) -> Db {
        let cache = std::sync::Arc::new(crate::cache::StateCache::new());
        let memo = std::sync::Arc::new(crate::cache::Memos::new());
        let write_lock = std::sync::Arc::new(tokio::sync::Mutex::new(()));
        Db {
            recorder: crate::events::Recorder::start(
                pool.clone(),
                backend,
                (cache.clone(), write_lock.clone()),
            ),
            cache,
            memo,
            write_lock,
            pool,
            backend,
        }
    }

    /// Starts a write transaction holding the database's one write lock (see
    /// [`crate::dialect::begin_write`]): write transactions run one at a time, across every
    /// process and replica, so each decides on exactly the committed state and event ids are
    /// committed in the order they are given.
    pub(crate) async fn begin_write(&self) -> Result<crate::cache::WriteTx> {
        let turn = crate::cache::write_turn(&self.write_lock).await?;
        let tx = crate::dialect::begin_write(&self.pool, self.backend).await?;
        // Holding the write lock, nobody commits: the next cached read re-reads the version,
        // so what a write transaction decides on is exactly the committed state.
        self.cache.wrote();
        Ok(crate::cache::WriteTx::new(tx, self.cache.clone(), turn))
    }

    /// The current state version (see [`crate::cache`]): what cached reads are tagged with.
    pub async fn state_version(&self) -> Result<crate::cache::Version> {
        self.cache.version(&self.pool).await
    }

    /// Sets how long the state version is trusted without re-reading it (default
    /// [`crate::cache::POLL`]). Tests set it long, so that only this process's own marks can
    /// make a change visible, which is what they check.
    #[doc(hidden)]
    pub fn set_state_poll(&self, poll: Duration) {
        self.cache.set_poll(poll);
    }

    /// Armed before a write made outside [`Db::begin_write`]: marks it when dropped (after the
    /// write, or when a cancelled request drops it mid-way).
    pub(crate) fn writing(&self) -> crate::cache::Writing {
        crate::cache::Writing(self.cache.clone())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

#[cfg(test)]
mod tests {
    use sqlx::Row;

    #[tokio::test]
    async fn every_connection_commits_durably() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = super::Db::open_sqlite(&dir.path().join("weir.db"))
            .await
            .expect("open");
        for _ in 0..3 {
            let row = sqlx::query("PRAGMA synchronous")
                .fetch_one(&db.pool)
                .await
                .expect("pragma");
            // 2 = FULL
            assert_eq!(row.try_get::<i64, _>(0).expect("int"), 2);
        }
    }

    async fn names(db: &super::Db, sql: &'static str) -> std::collections::BTreeSet<String> {
        sqlx::query(sql)
            .fetch_all(&db.pool)
            .await
            .expect("names")
            .iter()
            .map(|r| r.try_get::<String, _>("n").expect("n"))
            .collect()
    }

    /// The PostgreSQL schema is the SQLite one: the same tables and columns, the same named
    /// indexes, the same tables moving the state version. Runs where `WEIR_TEST_POSTGRES` is
    /// set (in `.ci/run`, always).
    #[tokio::test]
    async fn both_schemas_have_the_same_columns() {
        let Some(url) = super::Db::fresh_test_database().await.expect("postgres") else {
            return;
        };
        let pg = super::Db::open_postgres(&url).await.expect("open postgres");
        let dir = tempfile::tempdir().expect("tempdir");
        let lite = super::Db::open_sqlite(&dir.path().join("weir.db"))
            .await
            .expect("open sqlite");
        let columns_lite = names(
            &lite,
            "SELECT m.name || '.' || p.name AS n FROM sqlite_master m JOIN pragma_table_info(m.name) p
             WHERE m.type = 'table' AND m.name NOT IN ('sqlite_sequence', '_sqlx_migrations')",
        )
        .await;
        let columns_pg = names(
            &pg,
            "SELECT CAST(table_name AS TEXT) || '.' || CAST(column_name AS TEXT) AS n
             FROM information_schema.columns
             WHERE table_schema = current_schema() AND table_name <> '_sqlx_migrations'",
        )
        .await;
        assert_eq!(columns_lite, columns_pg, "the two schemas' columns differ");
        let indexes_lite = names(
            &lite,
            "SELECT name AS n FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL",
        )
        .await;
        let indexes_pg = names(
            &pg,
            "SELECT CAST(indexname AS TEXT) AS n FROM pg_indexes WHERE schemaname = current_schema()",
        )
        .await;
        let missing: Vec<&String> = indexes_lite.difference(&indexes_pg).collect();
        assert!(
            missing.is_empty(),
            "indexes missing on PostgreSQL: {missing:?}"
        );
        let versioned_lite = names(
            &lite,
            "SELECT DISTINCT tbl_name AS n FROM sqlite_master WHERE type = 'trigger' AND sql LIKE '%UPDATE state_version SET n = n + 1%'",
        )
        .await;
        let versioned_pg = names(
            &pg,
            "SELECT DISTINCT CAST(c.relname AS TEXT) AS n FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
             WHERE NOT t.tgisinternal AND t.tgname LIKE 'sv\\_%'",
        )
        .await;
        assert_eq!(
            versioned_lite, versioned_pg,
            "the tables moving the state version differ"
        );
    }

    /// A write on PostgreSQL moves the state version through the statement trigger, in the
    /// write's transaction.
    #[tokio::test]
    async fn a_postgres_write_moves_the_state_version() {
        let Some(url) = super::Db::fresh_test_database().await.expect("postgres") else {
            return;
        };
        let db = super::Db::open_postgres(&url).await.expect("open");
        let version = |db: super::Db| async move {
            sqlx::query("SELECT n FROM state_version WHERE id = 1")
                .fetch_one(&db.pool)
                .await
                .expect("n")
                .try_get::<i64, _>("n")
                .expect("n")
        };
        let before = version(db.clone()).await;
        db.create_user(&weir_core::Name::parse("ann").expect("name"), None, false)
            .await
            .expect("user");
        assert!(version(db.clone()).await > before);
    }

    #[test]
    fn every_migration_file_is_registered() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/sqlite");
        let files = std::fs::read_dir(dir).expect("migrations dir").count();
        assert_eq!(
            files,
            super::SQLITE_MIGRATIONS.len(),
            "a migration file is not in SQLITE_MIGRATIONS"
        );
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/postgres");
        let files = std::fs::read_dir(dir).expect("migrations dir").count();
        assert_eq!(
            files,
            super::POSTGRES_MIGRATIONS.len(),
            "a migration file is not in POSTGRES_MIGRATIONS"
        );
    }
}
