//! Facts read from a blob's bytes once, when a commit first adds it (or a release finds them
//! missing): the unsafe-serialization scan of a pickle-based file and the parameter count of a
//! safetensors file by dtype. Keyed by content, so a blob shared by many repos is read once.
//!
//! Bounded: at most [`CONCURRENT_READS`] blobs are read at a time (each scan has its own limits,
//! `weir_core::pickle`), on the blocking pool.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;

use sqlx::Row;
use weir_core::pickle::{self, Report};
use weir_core::{CommitId, RepoPath, Sha256Hex};

use crate::{CommitOp, Db, Repo, Result, Store, StoreError};

/// The facts reader's version: the scanner's, so a scanner that could change a verdict makes
/// every stored verdict stale.
pub const VERSION: i64 = pickle::SCANNER_VERSION;
/// Blobs read at once.
pub const CONCURRENT_READS: usize = 2;

/// What was read from one blob.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BlobFacts {
    pub version: i64,
    /// The scan of a pickle-based file.
    pub pickle: Option<Report>,
    /// Parameters by dtype of a valid safetensors file.
    pub safetensors: Option<BTreeMap<String, u64>>,
}

/// Whether a file is read for facts: a pickle-based file (by name or first bytes) or a
/// safetensors file.
pub fn wanted(path: &RepoPath, head: &[u8]) -> bool {
    is_safetensors(path) || pickle::wants_scan(path.as_str(), head)
}

fn is_safetensors(path: &RepoPath) -> bool {
    path.as_str().to_ascii_lowercase().ends_with(".safetensors")
}

/// Reads the facts of one file's bytes (blocking).
fn read_facts(
    path: &RepoPath,
    file: &std::path::Path,
    size: u64,
) -> std::io::Result<Option<BlobFacts>> {
    let mut f = std::fs::File::open(file)?;
    let mut head = [0u8; 8];
    let n = (&mut f).take(8).read(&mut head)?;
    if !wanted(path, &head[..n]) {
        return Ok(None);
    }
    let mut facts = BlobFacts {
        version: VERSION,
        ..Default::default()
    };
    // Both readers where both apply: a pickle renamed `.safetensors` is still scanned.
    if is_safetensors(path) {
        facts.safetensors = safetensors_parameters(&mut f, &head[..n], size)?;
    }
    if pickle::wants_scan(path.as_str(), &head[..n]) {
        use std::io::Seek;
        f.seek(std::io::SeekFrom::Start(0))?;
        facts.pickle = Some(pickle::scan_file(f));
    }
    Ok(Some(facts))
}

fn safetensors_parameters(
    f: &mut std::fs::File,
    head: &[u8],
    size: u64,
) -> std::io::Result<Option<BTreeMap<String, u64>>> {
    let Ok(len) = weir_core::safetensors::header_len(head, size) else {
        return Ok(None);
    };
    let mut header = vec![0u8; len as usize];
    use std::io::{Seek, SeekFrom};
    f.seek(SeekFrom::Start(8))?;
    f.read_exact(&mut header)?;
    let Ok(h) = weir_core::safetensors::parse_header(&header, size) else {
        return Ok(None);
    };
    let mut by_dtype = BTreeMap::new();
    for t in h.tensors.values() {
        let n = t.shape.iter().try_fold(1u64, |a, d| a.checked_mul(*d));
        *by_dtype.entry(t.dtype.clone()).or_insert(0u64) += n.unwrap_or(0);
    }
    Ok(Some(by_dtype))
}

impl Store {
    /// Reads and records the facts of every added file of `ops` not yet read by this version.
    pub(crate) async fn read_added(&self, ops: &[CommitOp]) -> Result<()> {
        for op in ops {
            if let CommitOp::Add { path, sha256, size } = op {
                self.ensure_facts(path, sha256, *size).await?;
            }
        }
        Ok(())
    }

    /// The facts of one blob, read now if missing or stale (`None`: nothing to read in it).
    pub async fn ensure_facts(
        &self,
        path: &RepoPath,
        sha: &Sha256Hex,
        size: u64,
    ) -> Result<Option<BlobFacts>> {
        // Which readers apply depends on the name too (a blob first committed as
        // `x.safetensors` and then as `x.bin` is scanned when it becomes `x.bin`).
        let stored = self.db.blob_facts(sha).await?;
        if let Some(f) = &stored
            && f.version == VERSION
            && (f.pickle.is_some() || !pickle::wants_scan(path.as_str(), b""))
            && (f.safetensors.is_some() || !is_safetensors(path))
        {
            return Ok(stored);
        }
        let _permit = self
            .fact_reads
            .acquire()
            .await
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let file = self
            .blobs
            .local_path(sha)
            .await
            .map_err(|source| StoreError::Io {
                path: self.blobs.path_of(sha),
                source,
            })?;
        let (p, f2) = (path.clone(), file.clone());
        let facts = tokio::task::spawn_blocking(move || read_facts(&p, &f2, size))
            .await
            .map_err(|e| StoreError::Corrupt(e.to_string()))?
            .map_err(|source| StoreError::Io { path: file, source })?;
        // What an earlier name's readers found stays (same version only).
        let facts = match (facts, stored.filter(|s| s.version == VERSION)) {
            (Some(mut new), Some(old)) => {
                new.pickle = new.pickle.or(old.pickle);
                new.safetensors = new.safetensors.or(old.safetensors);
                Some(new)
            }
            (Some(new), None) => Some(new),
            (None, old) => old,
        };
        if let Some(f) = &facts {
            self.db.put_blob_facts(sha, f).await?;
        }
        Ok(facts)
    }

    /// Makes sure every file of a commit has its facts (a release asks before it decides).
    pub async fn ensure_commit_facts(
        &self,
        repo: &Repo,
        commit: &CommitId,
    ) -> Result<HashMap<String, BlobFacts>> {
        let mut out = HashMap::new();
        for f in self.db.files(repo, commit).await? {
            if let Some(facts) = self.ensure_facts(&f.path, &f.sha256, f.size).await? {
                out.insert(f.path.to_string(), facts);
            }
        }
        Ok(out)
    }
}

fn facts_from_row(r: &sqlx::any::AnyRow) -> Result<BlobFacts> {
    let corrupt = |e: serde_json::Error| StoreError::Corrupt(format!("blob facts: {e}"));
    let pickle: Option<String> = r.try_get("pickle")?;
    let st: Option<String> = r.try_get("safetensors")?;
    Ok(BlobFacts {
        version: r.try_get("version")?,
        pickle: pickle
            .map(|p| serde_json::from_str(&p))
            .transpose()
            .map_err(corrupt)?,
        safetensors: st
            .map(|p| serde_json::from_str(&p))
            .transpose()
            .map_err(corrupt)?,
    })
}

impl Db {
    pub async fn blob_facts(&self, sha: &Sha256Hex) -> Result<Option<BlobFacts>> {
        let row =
            sqlx::query("SELECT version, pickle, safetensors FROM blob_facts WHERE sha256 = $1")
                .bind(sha.as_str())
                .fetch_optional(&self.pool)
                .await?;
        row.as_ref().map(facts_from_row).transpose()
    }

    async fn put_blob_facts(&self, sha: &Sha256Hex, f: &BlobFacts) -> Result<()> {
        let json = |e: serde_json::Error| StoreError::Corrupt(e.to_string());
        let pickle = f
            .pickle
            .as_ref()
            .map(serde_json::to_string)
            .transpose()
            .map_err(json)?;
        let st = f
            .safetensors
            .as_ref()
            .map(serde_json::to_string)
            .transpose()
            .map_err(json)?;
        let w = self.writing();
        sqlx::query(
            "INSERT INTO blob_facts (sha256, version, pickle, safetensors) VALUES ($1, $2, $3, $4)
             ON CONFLICT (sha256) DO UPDATE SET version = excluded.version,
                 pickle = excluded.pickle, safetensors = excluded.safetensors",
        )
        .bind(sha.as_str())
        .bind(f.version)
        .bind(pickle)
        .bind(st)
        .execute(&self.pool)
        .await?;
        drop(w);
        Ok(())
    }

    /// The facts recorded for the files of a commit, by path (files without any are absent).
    pub async fn facts_at(
        &self,
        repo: &Repo,
        commit: &CommitId,
    ) -> Result<HashMap<String, BlobFacts>> {
        let rows = sqlx::query(
            "SELECT f.path, b.version, b.pickle, b.safetensors FROM commit_files f
             JOIN blob_facts b ON b.sha256 = f.sha256
             WHERE f.repo_id = $1 AND f.commit_id = $2",
        )
        .bind(repo.id)
        .bind(commit.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get::<String, _>("path")?, facts_from_row(r)?)))
            .collect()
    }
}
