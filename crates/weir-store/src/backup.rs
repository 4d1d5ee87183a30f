//! What a backup reads of the database: a consistent copy of it at one transaction (SQLite's
//! `VACUUM INTO`, online: the server keeps serving and writing), and, from that copy, every
//! blob it knows and the log's signed head.

use std::path::Path;

use sqlx::Row;

use crate::{Db, Result, StoreError};

/// The transparency log's head in a database: the tree size and its signed checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogHead {
    pub size: i64,
    pub checkpoint: Option<String>,
}

impl Db {
    /// Writes a consistent copy of the whole database to `path` (which must not exist), as of
    /// one moment: every row committed before it, none after.
    pub async fn snapshot_into(&self, path: &Path) -> Result<()> {
        if path.exists() {
            return Err(StoreError::Exists(path.display().to_string()));
        }
        let target = path
            .to_str()
            .ok_or_else(|| StoreError::Corrupt(format!("{} is not UTF-8", path.display())))?;
        sqlx::query("VACUUM INTO $1")
            .bind(target)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Every blob the database knows: (SHA-256, size), by SHA-256.
    pub async fn blob_manifest(&self) -> Result<Vec<(String, i64)>> {
        manifest_on(&self.pool).await
    }

    /// The log's head: its size and signed checkpoint (size 0 and none before the first).
    pub async fn log_head(&self) -> Result<LogHead> {
        log_head_on(&self.pool).await
    }

    /// PostgreSQL: a read-only transaction on a connection of its own whose snapshot is
    /// exported, so that `pg_dump --snapshot ID` copies exactly the state it reads (the blob
    /// manifest and the log's head read through it are of the same moment as the dump).
    pub async fn export_snapshot(&self) -> Result<PgSnapshot> {
        if self.backend != crate::Backend::Postgres {
            return Err(StoreError::Config(
                "an exported snapshot is PostgreSQL's; SQLite is copied with VACUUM INTO".into(),
            ));
        }
        let mut conn = self.pool.acquire().await?.detach();
        sqlx::query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .execute(&mut conn)
            .await?;
        let id: String = sqlx::query("SELECT pg_export_snapshot() AS s")
            .fetch_one(&mut conn)
            .await?
            .try_get("s")?;
        Ok(PgSnapshot { conn, id })
    }
}

async fn manifest_on<'c, E>(e: E) -> Result<Vec<(String, i64)>>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    sqlx::query("SELECT sha256, size FROM blobs ORDER BY sha256")
        .fetch_all(e)
        .await?
        .iter()
        .map(|r| Ok((r.try_get("sha256")?, r.try_get("size")?)))
        .collect()
}

async fn log_head_on<'c, E>(e: E) -> Result<LogHead>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    let row = sqlx::query("SELECT size, checkpoint FROM log_state WHERE id = 1")
        .fetch_optional(e)
        .await?;
    Ok(match row {
        Some(r) => LogHead {
            size: r.try_get("size")?,
            checkpoint: r.try_get("checkpoint")?,
        },
        None => LogHead {
            size: 0,
            checkpoint: None,
        },
    })
}

/// An exported PostgreSQL snapshot, held open until [`PgSnapshot::close`] (see
/// [`Db::export_snapshot`]).
pub struct PgSnapshot {
    conn: sqlx::AnyConnection,
    /// The id `pg_dump --snapshot` takes.
    pub id: String,
}

impl PgSnapshot {
    pub async fn blob_manifest(&mut self) -> Result<Vec<(String, i64)>> {
        manifest_on(&mut self.conn).await
    }

    pub async fn log_head(&mut self) -> Result<LogHead> {
        log_head_on(&mut self.conn).await
    }

    pub async fn close(mut self) {
        let _ = sqlx::query("COMMIT").execute(&mut self.conn).await;
        let _ = sqlx::Connection::close(self.conn).await;
    }
}

/// Whether the PostgreSQL database at `url` has no table yet (a restore's target), checked
/// without migrating it.
pub async fn postgres_is_empty(url: &str) -> Result<bool> {
    sqlx::any::install_default_drivers();
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(url).await?;
    let n: i64 = sqlx::query(
        "SELECT COUNT(*)::BIGINT AS n FROM pg_tables WHERE schemaname = current_schema()",
    )
    .fetch_one(&mut conn)
    .await?
    .try_get("n")?;
    let _ = sqlx::Connection::close(conn).await;
    Ok(n == 0)
}

impl Db {
    /// Every row of every table of a PostgreSQL database, as text (bytes as hex), one per line:
    /// what a reader of the database sees. Tests check with it that no secret is stored.
    #[doc(hidden)]
    pub async fn every_row_as_text(&self) -> Result<Vec<u8>> {
        let tables: Vec<String> = sqlx::query(
            "SELECT tablename::TEXT AS t FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1",
        )
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| r.try_get("t"))
        .collect::<std::result::Result<_, _>>()?;
        let mut out = Vec::new();
        for t in tables {
            let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT CAST(x AS TEXT) AS row FROM \"{}\" x",
                t.replace('"', "\"\"")
            )))
            .fetch_all(&self.pool)
            .await?;
            for r in rows {
                let row: String = r.try_get("row")?;
                out.extend_from_slice(row.as_bytes());
                out.push(b'\n');
            }
        }
        Ok(out)
    }
}
