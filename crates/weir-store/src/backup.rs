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
        sqlx::query("SELECT sha256, size FROM blobs ORDER BY sha256")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| Ok((r.try_get("sha256")?, r.try_get("size")?)))
            .collect()
    }

    /// The log's head: its size and signed checkpoint (size 0 and none before the first).
    pub async fn log_head(&self) -> Result<LogHead> {
        let row = sqlx::query("SELECT size, checkpoint FROM log_state WHERE id = 1")
            .fetch_optional(&self.pool)
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
