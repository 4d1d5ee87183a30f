//! The few statements that differ between SQLite and PostgreSQL. Everything else in the store
//! is the same portable SQL (`$N`, `ON CONFLICT`, `RETURNING`, BIGINT/TEXT/BLOB) on both.
//!
//! The one write lock: SQLite has one writer by construction (`BEGIN IMMEDIATE` takes it up
//! front). On PostgreSQL every write transaction takes the same transaction-scoped advisory
//! lock first, so write transactions run one at a time across every process and replica, as on
//! SQLite: each decides on exactly the committed state (READ COMMITTED reads, after the lock,
//! everything committed before it), and event ids, given in lock order, are committed in that
//! order, which the log's integration and the actor index rely on.

use sqlx::{AnyConnection, AnyPool, Executor, Row};

use crate::db::Backend;
use crate::{Result, StoreError};

/// Advisory lock keys (one namespace, "weir" in the high bits).
pub(crate) const WRITE_LOCK: i64 = 0x7765_6972_0000_0001;
pub(crate) const MIGRATE_LOCK: i64 = 0x7765_6972_0000_0002;
/// Held, on a connection of its own, by the one replica that runs the periodic log sequencer.
pub(crate) const SEQUENCER_LOCK: i64 = 0x7765_6972_0000_0003;

/// How long a statement waits for a lock (the write lock included) before failing with
/// [`StoreError::Busy`], as SQLite's busy timeout.
const LOCK_TIMEOUT: &str = "10s";

/// Set on every PostgreSQL connection when it opens.
pub(crate) async fn postgres_session(conn: &mut AnyConnection) -> sqlx::Result<()> {
    conn.execute(sqlx::AssertSqlSafe(format!(
        "SET lock_timeout = '{LOCK_TIMEOUT}'"
    )))
    .await?;
    // A transaction left idle (a paused or partitioned replica) is ended by the server after a
    // minute, and with it the write lock it held: the others are never blocked for longer.
    conn.execute("SET idle_in_transaction_session_timeout = '60s'")
        .await?;
    Ok(())
}

/// Starts a write transaction on a pooled connection, holding the write lock.
pub(crate) async fn begin_write(
    pool: &AnyPool,
    backend: Backend,
) -> Result<sqlx::Transaction<'static, sqlx::Any>> {
    match backend {
        Backend::Sqlite => Ok(pool.begin_with("BEGIN IMMEDIATE").await?),
        Backend::Postgres => {
            let mut tx = pool.begin().await?;
            take_write_lock(&mut tx).await?;
            Ok(tx)
        }
    }
}

/// Starts a write transaction on a connection of its own, holding the write lock.
pub(crate) async fn begin_write_on(
    conn: &mut AnyConnection,
    backend: Backend,
) -> Result<sqlx::Transaction<'_, sqlx::Any>> {
    match backend {
        Backend::Sqlite => Ok(sqlx::Connection::begin_with(conn, "BEGIN IMMEDIATE").await?),
        Backend::Postgres => {
            let mut tx = sqlx::Connection::begin(conn).await?;
            take_write_lock(&mut tx).await?;
            Ok(tx)
        }
    }
}

async fn take_write_lock(tx: &mut AnyConnection) -> Result<()> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(WRITE_LOCK)
        .execute(&mut *tx)
        .await
        .map_err(busy)?;
    Ok(())
}

/// A lock wait that timed out is [`StoreError::Busy`]; any other error as it is.
pub(crate) fn busy(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(d) if d.code().as_deref() == Some("55P03") => StoreError::Busy,
        _ => StoreError::Db(e),
    }
}

/// The first key of a work lease (two-key advisory locks: the kind of work, then its id).
pub const JOB_LEASE: i32 = 0x7765_6a62; // "wejb": a research job running
pub const PROPOSAL_LEASE: i32 = 0x7765_6270; // "webp": a board decision being applied

/// The second key of a lease on `id` (ids beyond 2^31 share keys: a lease then also covers
/// another piece of work, which only delays that one's recovery).
fn lease_key(id: i64) -> i32 {
    (id & 0x7fff_ffff) as i32
}

/// The right of one process to a piece of work (a job it runs, a decision it applies), which
/// another replica's recovery respects: on PostgreSQL a session advisory lock on a connection of
/// its own, ended by [`Lease::release`], by dropping it, or with the holder's process or
/// connection; on SQLite (one process) nothing to hold.
pub struct Lease {
    conn: Option<AnyConnection>,
}

impl Lease {
    pub(crate) fn none() -> Lease {
        Lease { conn: None }
    }

    pub(crate) fn holding(conn: AnyConnection) -> Lease {
        Lease { conn: Some(conn) }
    }

    pub async fn release(self) {
        if let Some(conn) = self.conn {
            let _ = sqlx::Connection::close(conn).await;
        }
    }
}

/// Takes the lease `(class, id)` on the connection of `tx` (session-level: it outlives the
/// transaction, and is visible to others as soon as the transaction commits).
pub(crate) async fn lock_lease_in(conn: &mut AnyConnection, class: i32, id: i64) -> Result<()> {
    sqlx::query("SELECT pg_advisory_lock($1, $2)")
        .bind(class)
        .bind(lease_key(id))
        .execute(conn)
        .await?;
    Ok(())
}

impl crate::Db {
    /// Takes the lease `(class, id)` unless another process holds it (`None`).
    pub async fn try_lease(&self, class: i32, id: i64) -> Result<Option<Lease>> {
        if self.backend != Backend::Postgres {
            return Ok(Some(Lease::none()));
        }
        let mut conn = self.pool.acquire().await?.detach();
        let got: bool = sqlx::query("SELECT pg_try_advisory_lock($1, $2) AS got")
            .bind(class)
            .bind(lease_key(id))
            .fetch_one(&mut conn)
            .await?
            .try_get("got")?;
        if got {
            Ok(Some(Lease::holding(conn)))
        } else {
            let _ = sqlx::Connection::close(conn).await;
            Ok(None)
        }
    }

    /// Whether some process holds the lease `(class, id)` (always false on SQLite).
    pub async fn lease_is_held(&self, class: i32, id: i64) -> Result<bool> {
        if self.backend != Backend::Postgres {
            return Ok(false);
        }
        let held = sqlx::query(
            "SELECT 1 AS x FROM pg_locks WHERE locktype = 'advisory' AND granted
               AND classid = CAST($1 AS OID) AND objid = CAST($2 AS OID) AND objsubid = 2",
        )
        .bind(i64::from(class))
        .bind(i64::from(lease_key(id)))
        .fetch_optional(&self.pool)
        .await?
        .is_some();
        Ok(held)
    }
}

/// Serializes migrations: two replicas starting at once never both migrate.
pub(crate) async fn lock_migrations(conn: &mut AnyConnection) -> Result<()> {
    // Migrations can wait longer than a write: the other replica may be migrating.
    conn.execute("SET lock_timeout = '300s'").await?;
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(MIGRATE_LOCK)
        .execute(&mut *conn)
        .await
        .map_err(busy)?;
    Ok(())
}

pub(crate) async fn unlock_migrations(conn: &mut AnyConnection) -> Result<()> {
    sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(MIGRATE_LOCK)
        .execute(&mut *conn)
        .await?;
    conn.execute(sqlx::AssertSqlSafe(format!(
        "SET lock_timeout = '{LOCK_TIMEOUT}'"
    )))
    .await?;
    Ok(())
}

/// A query built with [`sqlx::QueryBuilder`], its placeholders numbered (`$1`, `$2`, …):
/// the `Any` driver's builder writes `?`, which PostgreSQL does not read. Every `?` outside a
/// quoted literal or identifier is a placeholder: the fixed parts of the store's SQL have none.
pub(crate) fn numbered(
    q: &mut sqlx::QueryBuilder<sqlx::Any>,
) -> Result<sqlx::query::Query<'static, sqlx::Any, sqlx::any::AnyArguments>> {
    use sqlx::Execute;
    let sql = number_placeholders(q.sql().as_str());
    let args = q
        .build()
        .take_arguments()
        .map_err(|e| StoreError::Corrupt(format!("binding a built query: {e}")))?
        .unwrap_or_default();
    Ok(sqlx::query_with(sqlx::AssertSqlSafe(sql), args))
}

fn number_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + sql.len() / 4);
    let mut quote: Option<char> = None;
    let mut n = 0usize;
    for c in sql.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (None, '\'' | '"') => quote = Some(c),
            (None, '?') => {
                n += 1;
                out.push('$');
                out.push_str(&n.to_string());
                continue;
            }
            _ => {}
        }
        out.push(c);
    }
    out
}

/// A database URL with its password (if any) replaced, fit for an error or a log line.
pub fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "(not a URL)".into();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    // A password can also be a query parameter (`?password=…`, which sqlx accepts).
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let query: Vec<String> = query
                .split('&')
                .map(|kv| match kv.split_once('=') {
                    Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                    _ => kv.to_string(),
                })
                .collect();
            format!("{path}?{}", query.join("&"))
        }
        None => tail.to_string(),
    };
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
            let hidden = if userinfo.contains(':') { ":***" } else { "" };
            format!("{scheme}://{user}{hidden}@{host}{tail}")
        }
        None => format!("{scheme}://{authority}{tail}"),
    }
}

/// A `postgres://` URL split for libpq's tools (`pg_dump`, `pg_restore`): the URL without its
/// password (so it never shows in a process list), and the password (for `PGPASSWORD`).
pub fn libpq_parts(url: &str) -> (String, Option<String>) {
    let Some((scheme, rest)) = url.split_once("://") else {
        return (url.to_string(), None);
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let mut password = None;
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, pw)) => {
                password = Some(percent_decode(pw));
                format!("{user}@{host}")
            }
            None => authority.to_string(),
        },
        None => authority.to_string(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let kept: Vec<&str> = query
                .split('&')
                .filter(|kv| match kv.split_once('=') {
                    Some((k, v)) if k.eq_ignore_ascii_case("password") => {
                        password = Some(percent_decode(v));
                        false
                    }
                    _ => !kv.is_empty(),
                })
                .collect();
            if kept.is_empty() {
                path.to_string()
            } else {
                format!("{path}?{}", kept.join("&"))
            }
        }
        None => tail.to_string(),
    };
    (format!("{scheme}://{authority}{tail}"), password)
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(b) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    #[test]
    fn libpq_gets_the_url_without_its_password() {
        assert_eq!(
            super::libpq_parts("postgres://weir:s3cr%40t@db:5432/weir?sslmode=require"),
            (
                "postgres://weir@db:5432/weir?sslmode=require".to_string(),
                Some("s3cr@t".to_string())
            )
        );
        assert_eq!(
            super::libpq_parts("postgres://weir@db/weir?password=pw&sslmode=require"),
            (
                "postgres://weir@db/weir?sslmode=require".to_string(),
                Some("pw".to_string())
            )
        );
        assert_eq!(
            super::libpq_parts("postgres://weir@db/weir"),
            ("postgres://weir@db/weir".to_string(), None)
        );
    }

    #[test]
    fn placeholders_are_numbered_outside_literals() {
        assert_eq!(
            super::number_placeholders("INSERT INTO t (a, b) VALUES (?, ?), (?, '?') -- \"?\""),
            "INSERT INTO t (a, b) VALUES ($1, $2), ($3, '?') -- \"?\""
        );
    }

    #[test]
    fn a_password_never_appears_in_a_redacted_url() {
        assert_eq!(
            super::redacted("postgres://weir:s3cr%40t@db.example:5432/weir?sslmode=require"),
            "postgres://weir:***@db.example:5432/weir?sslmode=require"
        );
        assert_eq!(
            super::redacted("postgres://weir@db/weir"),
            "postgres://weir@db/weir"
        );
        assert_eq!(
            super::redacted("postgres://a:b:c@h/d"),
            "postgres://a:***@h/d"
        );
        assert_eq!(
            super::redacted("postgres://weir@db/weir?sslmode=require&password=hunter2&x=1"),
            "postgres://weir@db/weir?sslmode=require&password=***&x=1"
        );
        assert_eq!(super::redacted("nonsense"), "(not a URL)");
    }
}
