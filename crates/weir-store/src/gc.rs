//! Garbage collection of blobs nothing refers to: bytes of refused commits, abandoned uploads,
//! failed imports and crash leftovers.
//!
//! A blob is kept while a commit, an evaluation result or an incident attachment refers to it,
//! or while a repo's fresh upload of it (younger than the grace period) waits for its commit.
//! Only blobs and upload records older than the grace period are collected, and a blob file
//! written within it is never removed, so an upload in progress is never collected under it.
//! Run with `weir admin gc`; safest with the server stopped, safe enough beside it (a blob
//! re-uploaded during the collection keeps a fresh file, which the next run keeps).

use std::time::{Duration, SystemTime};

use sqlx::Row;

use crate::{Result, Store, StoreError};

/// What one collection did (or, dry, would do).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct GcReport {
    /// Upload records (possession of bytes never committed) forgotten.
    pub uploads_forgotten: u64,
    /// Blobs removed (database rows and files).
    pub blobs_removed: u64,
    /// Files without a database row removed (crash leftovers).
    pub orphan_files_removed: u64,
    pub bytes_freed: u64,
    /// With an object store: cached copies evicted from this replica's blob directory (the
    /// object store keeps the blobs).
    pub cache_files_evicted: u64,
}

/// The blob `b` is referred to by nothing (SQL text, no values: bound parameters only).
macro_rules! unreferenced {
    () => {
        "NOT EXISTS (SELECT 1 FROM commit_files c WHERE c.sha256 = b.sha256)
         AND NOT EXISTS (SELECT 1 FROM repo_uploads u WHERE u.sha256 = b.sha256)
         AND NOT EXISTS (SELECT 1 FROM eval_results e WHERE e.raw_log_sha256 = b.sha256)
         AND NOT EXISTS (SELECT 1 FROM incident_attachments a WHERE a.sha256 = b.sha256)"
    };
}

/// Upload records older than `$1` whose bytes no commit of their repo holds.
macro_rules! stale_uploads {
    () => {
        "FROM repo_uploads WHERE created_at < $1 AND NOT EXISTS (
           SELECT 1 FROM commit_files c
           WHERE c.repo_id = repo_uploads.repo_id AND c.sha256 = repo_uploads.sha256)"
    };
}

impl Store {
    /// Collects what is unreferenced and older than `grace` at `now` (unix seconds).
    pub async fn collect_garbage(
        &self,
        now: i64,
        grace: Duration,
        dry_run: bool,
    ) -> Result<GcReport> {
        let cutoff = now - grace.as_secs() as i64;
        // 1. Uploads never committed within the grace period: the repo no longer possesses them.
        let uploads_forgotten = if dry_run {
            let r = sqlx::query(concat!("SELECT COUNT(*) AS n ", stale_uploads!()))
                .bind(cutoff)
                .fetch_one(&self.db.pool)
                .await?;
            r.try_get::<i64, _>("n")? as u64
        } else {
            let _w = self.db.writing();
            sqlx::query(concat!("DELETE ", stale_uploads!()))
                .bind(cutoff)
                .execute(&self.db.pool)
                .await?
                .rows_affected()
        };
        let mut report = GcReport {
            uploads_forgotten,
            ..GcReport::default()
        };
        // 2. Blob rows nothing refers to.
        let rows = sqlx::query(concat!(
            "SELECT sha256, size FROM blobs b WHERE created_at < $1 AND ",
            unreferenced!()
        ))
        .bind(cutoff)
        .fetch_all(&self.db.pool)
        .await?;
        let cutoff_time = SystemTime::UNIX_EPOCH + Duration::from_secs(cutoff.max(0) as u64);
        let io = |path: std::path::PathBuf| move |source| StoreError::Io { path, source };
        for r in rows {
            let sha: String = r.try_get("sha256")?;
            let size: i64 = r.try_get("size")?;
            let Ok(hex) = weir_core::Sha256Hex::parse(&sha) else {
                continue;
            };
            let path = self.blobs.path_of(&hex);
            let modified = self.blobs.modified(&hex).await.map_err(io(path.clone()))?;
            if modified.is_none_or(|t| t < cutoff_time) {
                if !dry_run {
                    // Decided again inside the delete: a reference made since is respected.
                    let w = self.db.writing();
                    let n = sqlx::query(concat!(
                        "DELETE FROM blobs WHERE sha256 = $1 AND sha256 IN (
                           SELECT b.sha256 FROM blobs b WHERE b.sha256 = $1 AND ",
                        unreferenced!(),
                        ")"
                    ))
                    .bind(&sha)
                    .execute(&self.db.pool)
                    .await?
                    .rows_affected();
                    drop(w);
                    if n == 0 {
                        continue;
                    }
                    // Written again since (an upload of the same bytes)? Then it stays.
                    let modified = self.blobs.modified(&hex).await.map_err(io(path.clone()))?;
                    if modified.is_some_and(|t| t < cutoff_time) {
                        self.blobs.remove(&hex).await.map_err(io(path.clone()))?;
                    }
                }
                report.blobs_removed += 1;
                report.bytes_freed += size.max(0) as u64;
            }
        }
        let blob_dir = std::path::PathBuf::from("the blob store");
        // 3. Blobs with no row at all (a crash between storing and recording, a failed import).
        let listed = self.blobs.list().await.map_err(io(blob_dir.clone()))?;
        for (name, len, modified) in listed {
            let Ok(hex) = weir_core::Sha256Hex::parse(&name) else {
                continue;
            };
            if modified >= cutoff_time {
                continue;
            }
            let referenced = sqlx::query(
                "SELECT 1 AS x FROM blobs WHERE sha256 = $1
                 UNION ALL SELECT 1 AS x FROM eval_results WHERE raw_log_sha256 = $1
                 UNION ALL SELECT 1 AS x FROM incident_attachments WHERE sha256 = $1
                 LIMIT 1",
            )
            .bind(&name)
            .fetch_optional(&self.db.pool)
            .await?
            .is_some();
            if referenced {
                continue;
            }
            if !dry_run {
                self.blobs
                    .remove(&hex)
                    .await
                    .map_err(io(self.blobs.path_of(&hex)))?;
            }
            report.orphan_files_removed += 1;
            report.bytes_freed += len;
        }
        // 4. With an object store: this replica's cached copies not written within the grace.
        if !dry_run {
            let (files, _) = self
                .blobs
                .evict_cache(cutoff_time)
                .await
                .map_err(io(blob_dir.clone()))?;
            report.cache_files_evicted = files;
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use weir_core::git::CommitSignature;
    use weir_core::{RefName, RepoId, RepoPath};

    use crate::{CommitOp, NewCommit, Store};

    #[tokio::test]
    async fn collects_what_nothing_refers_to_and_keeps_the_rest() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open_test(dir.path()).await.expect("open");
        store
            .db
            .create_user(&weir_core::Name::parse("alice").expect("n"), None, false)
            .await
            .expect("user");
        let sig = CommitSignature {
            name: "alice".into(),
            email: "a@x".into(),
            time: 1,
        };
        let repo = store
            .create_repo(&RepoId::parse("alice/m").expect("id"), false, sig.clone())
            .await
            .expect("repo");
        let (kept, ksize) = store
            .ingest_bytes_for(&repo, "committed\n".into())
            .await
            .expect("blob");
        store
            .commit(
                &repo,
                &NewCommit {
                    branch: RefName::main(),
                    expected_parent: None,
                    create_branch: false,
                    ops: vec![CommitOp::Add {
                        path: RepoPath::parse("a.txt").expect("p"),
                        sha256: kept.clone(),
                        size: ksize,
                    }],
                    author: sig,
                    summary: "add".into(),
                    description: String::new(),
                },
            )
            .await
            .expect("commit");
        // The bytes of a refused commit: uploaded for the repo, never committed.
        let (refused, _) = store
            .ingest_bytes_for(&repo, "refused\n".into())
            .await
            .expect("blob");
        // A crash leftover: a file with no row.
        let (orphan, _) = store
            .blobs
            .ingest(
                futures::stream::iter([Ok::<_, std::convert::Infallible>(
                    bytes::Bytes::from_static(b"orphan\n"),
                )]),
                crate::blobs::Expect::default(),
            )
            .await
            .expect("file");
        let now = crate::now();
        // Within the grace period nothing goes.
        let r = store
            .collect_garbage(now, std::time::Duration::from_secs(3600), false)
            .await
            .expect("gc");
        assert_eq!(r, super::GcReport::default());
        // Far in the future (files are old by then).
        let later = now + 10 * 86_400;
        let dry = store
            .collect_garbage(later, std::time::Duration::from_secs(3600), true)
            .await
            .expect("gc");
        assert_eq!((dry.uploads_forgotten, dry.orphan_files_removed), (1, 1));
        assert!(
            store.blobs.size(&refused).await.is_some(),
            "a dry run removes nothing"
        );
        let r = store
            .collect_garbage(later, std::time::Duration::from_secs(3600), false)
            .await
            .expect("gc");
        assert_eq!(r.uploads_forgotten, 1);
        assert_eq!(r.blobs_removed, 1);
        assert_eq!(r.orphan_files_removed, 1);
        assert!(store.blobs.size(&refused).await.is_none());
        assert!(store.blobs.size(&orphan).await.is_none());
        assert!(
            store.blobs.size(&kept).await.is_some(),
            "committed bytes stay"
        );
        assert!(!store.blobs.path_of(&refused).exists(), "nor a cached copy");
        assert!(store.db.blob_size(&refused).await.expect("db").is_none());
        assert!(
            store
                .db
                .possessed(&repo, &kept)
                .await
                .expect("db")
                .is_some()
        );
        assert!(
            store
                .db
                .possessed(&repo, &refused)
                .await
                .expect("db")
                .is_none()
        );
    }
}
