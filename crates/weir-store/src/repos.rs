//! Repos, their immutable commits (path → blob maps) and their refs (branches and tags).
//!
//! A commit is written with all its file rows in one transaction, and a branch moves only by
//! compare-and-swap from the head the commit was built on, so concurrent pushes never lose a
//! commit and a reader never sees a half-written one.

use std::collections::BTreeMap;

use sqlx::Row;
use sqlx::any::AnyRow;
use weir_core::git::{self, BlobHasher, CommitSignature, FileEntry, TreeBuilder};
use weir_core::{CommitId, IdentityLevel, RefName, RepoId, RepoPath, Revision, Sha256Hex, Tier};

use crate::{Db, Result, Store, StoreError, now};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repo {
    pub id: i64,
    pub repo_id: RepoId,
    pub private: bool,
    /// The effective tier: the stricter of `chosen_tier` and the policy's computed minimum.
    pub tier: Tier,
    /// The tier the publisher (or an operator, with a reason) chose.
    pub chosen_tier: Tier,
    pub gating: Gating,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A repo's access settings for gated tiers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gating {
    /// Minimum identity level for T2 downloads.
    pub min_level: IdentityLevel,
    /// Requests from users at or above this level (and not region-blocked) are approved at once.
    pub auto_approve_level: Option<IdentityLevel>,
    /// ISO alpha-2 codes whose users may not download (451).
    pub blocked_countries: Vec<String>,
    /// Extra fields an access request must fill in (HF's `extra_gated_fields`).
    pub required_fields: Vec<String>,
    /// Licence / acceptable-use terms shown before T1 downloads.
    pub terms: String,
    /// The identity level research-project members need to run jobs on this repo.
    pub research_level: IdentityLevel,
}

impl Default for Gating {
    fn default() -> Gating {
        Gating {
            min_level: IdentityLevel::Identified,
            auto_approve_level: None,
            blocked_countries: Vec::new(),
            required_fields: Vec::new(),
            terms: String::new(),
            research_level: IdentityLevel::Accredited,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefKind {
    Branch,
    Tag,
}

impl RefKind {
    fn as_str(self) -> &'static str {
        match self {
            RefKind::Branch => "branch",
            RefKind::Tag => "tag",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefInfo {
    pub kind: RefKind,
    pub name: RefName,
    pub commit: CommitId,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitInfo {
    pub id: CommitId,
    pub parent: Option<CommitId>,
    pub tree: String,
    pub author: String,
    pub summary: String,
    pub description: String,
    pub created_at: i64,
}

/// One change in a commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommitOp {
    /// Add or replace a file with a stored blob.
    Add {
        path: RepoPath,
        sha256: Sha256Hex,
        size: u64,
    },
    Delete(RepoPath),
    /// Delete every file under a directory.
    DeleteFolder(RepoPath),
}

#[derive(Debug, Clone)]
pub struct NewCommit {
    pub branch: RefName,
    /// When given, the commit is refused unless the branch head is exactly this commit.
    pub expected_parent: Option<CommitId>,
    /// Create the branch (from `main`'s head) if it does not exist.
    pub create_branch: bool,
    pub ops: Vec<CommitOp>,
    pub author: CommitSignature,
    pub summary: String,
    pub description: String,
}

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

fn level(s: &str) -> Result<IdentityLevel> {
    IdentityLevel::parse(s).ok_or_else(|| corrupt(format!("identity level {s}")))
}

fn commit_from_row(r: &AnyRow) -> Result<CommitInfo> {
    let parent: Option<String> = r.try_get("parent")?;
    Ok(CommitInfo {
        id: commit_id(&r.try_get::<String, _>("id")?)?,
        parent: parent.as_deref().map(commit_id).transpose()?,
        tree: r.try_get("tree")?,
        author: r.try_get("author")?,
        summary: r.try_get("summary")?,
        description: r.try_get("description")?,
        created_at: r.try_get("created_at")?,
    })
}

pub(crate) fn repo_from_row(r: &AnyRow) -> Result<Repo> {
    let ns: String = r.try_get("namespace")?;
    let name: String = r.try_get("name")?;
    let tier: String = r.try_get("tier")?;
    let chosen: String = r.try_get("chosen_tier")?;
    let auto: Option<String> = r.try_get("auto_approve_level")?;
    let blocked: String = r.try_get("blocked_countries")?;
    let fields: String = r.try_get("required_fields")?;
    Ok(Repo {
        id: r.try_get("id")?,
        repo_id: RepoId::new(&ns, &name).map_err(corrupt)?,
        private: r.try_get::<i64, _>("private")? != 0,
        tier: Tier::parse(&tier).ok_or_else(|| corrupt(format!("tier {tier}")))?,
        chosen_tier: Tier::parse(&chosen).ok_or_else(|| corrupt(format!("tier {chosen}")))?,
        gating: Gating {
            min_level: level(&r.try_get::<String, _>("min_level")?)?,
            auto_approve_level: auto.as_deref().map(level).transpose()?,
            blocked_countries: blocked
                .split(',')
                .filter(|c| !c.is_empty())
                .map(str::to_string)
                .collect(),
            required_fields: serde_json::from_str(&fields).map_err(corrupt)?,
            terms: r.try_get("terms")?,
            research_level: level(&r.try_get::<String, _>("research_level")?)?,
        },
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

fn file_from_row(r: &AnyRow) -> Result<FileEntry> {
    let path: String = r.try_get("path")?;
    let sha: String = r.try_get("sha256")?;
    Ok(FileEntry {
        path: RepoPath::parse(&path).map_err(corrupt)?,
        sha256: Sha256Hex::parse(&sha).map_err(corrupt)?,
        size: u64::try_from(r.try_get::<i64, _>("size")?).map_err(corrupt)?,
        git_oid: r.try_get("git_oid")?,
        lfs: r.try_get::<i64, _>("lfs")? != 0,
    })
}

fn commit_id(s: &str) -> Result<CommitId> {
    CommitId::parse(s).map_err(corrupt)
}

fn size_i64(n: u64) -> Result<i64> {
    i64::try_from(n).map_err(|_| StoreError::InvalidCommit(format!("size {n} out of range")))
}

/// Applies `ops` to `base` and checks the result is a valid tree (no path is both a file and a
/// directory). Pure.
pub fn apply_ops(
    mut files: BTreeMap<RepoPath, FileEntry>,
    ops: &[CommitOp],
    git_oids: &BTreeMap<RepoPath, String>,
) -> Result<BTreeMap<RepoPath, FileEntry>> {
    for op in ops {
        match op {
            CommitOp::Add { path, sha256, size } => {
                let lfs = weir_core::is_lfs(path, *size);
                let git_oid = if lfs {
                    git::lfs_pointer_oid(sha256, *size)
                } else {
                    git_oids
                        .get(path)
                        .cloned()
                        .ok_or_else(|| StoreError::InvalidCommit(format!("no git id for {path}")))?
                };
                files.insert(
                    path.clone(),
                    FileEntry {
                        path: path.clone(),
                        sha256: sha256.clone(),
                        size: *size,
                        git_oid,
                        lfs,
                    },
                );
            }
            CommitOp::Delete(path) => {
                if files.remove(path).is_none() {
                    return Err(StoreError::NoSuchEntry(path.to_string()));
                }
            }
            CommitOp::DeleteFolder(dir) => {
                let before = files.len();
                files.retain(|p, _| !p.is_under(dir.as_str()));
                if files.len() == before {
                    return Err(StoreError::NoSuchEntry(format!("{dir}/")));
                }
            }
        }
    }
    for path in files.keys() {
        let s = path.as_str();
        for (i, _) in s.match_indices('/') {
            if let Ok(prefix) = RepoPath::parse(&s[..i])
                && files.contains_key(&prefix)
            {
                return Err(StoreError::InvalidCommit(format!(
                    "{prefix} cannot be both a file and the directory of {s}"
                )));
            }
        }
    }
    Ok(files)
}

/// The size of a blob this repo possesses: uploaded for it, or in one of its commits.
async fn possessed_size<'e, E>(exec: E, repo_id: i64, sha: &Sha256Hex) -> Result<Option<u64>>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let row = sqlx::query(
        "SELECT size FROM repo_uploads WHERE repo_id = $1 AND sha256 = $2
         UNION ALL
         SELECT size FROM commit_files WHERE repo_id = $1 AND sha256 = $2
         LIMIT 1",
    )
    .bind(repo_id)
    .bind(sha.as_str())
    .fetch_optional(exec)
    .await?;
    row.map(|r| u64::try_from(r.try_get::<i64, _>("size")?).map_err(corrupt))
        .transpose()
}

impl Db {
    /// Records that the bytes of `sha` were received for `repo` (hashed by the server on the way
    /// in). Only this, or the blob being in one of the repo's commits, lets a commit reference it.
    pub async fn record_upload(&self, repo: &Repo, sha: &Sha256Hex, size: u64) -> Result<()> {
        let w = self.writing();
        sqlx::query(
            "INSERT INTO repo_uploads (repo_id, sha256, size, created_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (repo_id, sha256) DO NOTHING",
        )
        .bind(repo.id)
        .bind(sha.as_str())
        .bind(size_i64(size)?)
        .bind(now())
        .execute(&self.pool)
        .await?;
        drop(w);
        Ok(())
    }

    /// The size of `sha` if this repo possesses it (possession before reference), else `None`,
    /// whether or not the blob is stored for some other repo.
    pub async fn possessed(&self, repo: &Repo, sha: &Sha256Hex) -> Result<Option<u64>> {
        possessed_size(&self.pool, repo.id, sha).await
    }

    pub async fn record_blob(&self, sha: &Sha256Hex, size: u64) -> Result<()> {
        let w = self.writing();
        sqlx::query("INSERT INTO blobs (sha256, size, created_at) VALUES ($1, $2, $3) ON CONFLICT (sha256) DO NOTHING")
            .bind(sha.as_str())
            .bind(size_i64(size)?)
            .bind(now())
            .execute(&self.pool)
            .await?;
        drop(w);
        Ok(())
    }

    pub async fn blob_size(&self, sha: &Sha256Hex) -> Result<Option<u64>> {
        let row = sqlx::query("SELECT size FROM blobs WHERE sha256 = $1")
            .bind(sha.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| u64::try_from(r.try_get::<i64, _>("size")?).map_err(corrupt))
            .transpose()
    }

    pub async fn repo(&self, id: &RepoId) -> Result<Option<Repo>> {
        let key = (id.namespace.to_string(), id.name.to_string());
        self.memoized(&self.memo.repos, key, self.repo_uncached(id))
            .await
    }

    async fn repo_uncached(&self, id: &RepoId) -> Result<Option<Repo>> {
        let row = sqlx::query(
            "SELECT id, namespace, name, private, tier, created_at, updated_at, min_level,
                    auto_approve_level, blocked_countries, required_fields, terms, chosen_tier, research_level
             FROM repos WHERE namespace = $1 AND name = $2 AND deleted_at IS NULL",
        )
        .bind(id.namespace.as_str())
        .bind(id.name.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(repo_from_row).transpose()
    }

    /// Every repo that is not deleted.
    pub async fn list_live_repos(&self) -> Result<Vec<Repo>> {
        let rows = sqlx::query(
            "SELECT id, namespace, name, private, tier, created_at, updated_at, min_level,
                    auto_approve_level, blocked_countries, required_fields, terms, chosen_tier, research_level
             FROM repos WHERE deleted_at IS NULL ORDER BY namespace, name",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(repo_from_row).collect()
    }

    /// Records that `repo` is a copy of `source` at `commit`.
    pub async fn set_lineage(&self, repo: &Repo, source: &Repo, commit: &CommitId) -> Result<()> {
        let w = self.writing();
        sqlx::query("INSERT INTO repo_lineage (repo_id, source_id, commit_id) VALUES ($1, $2, $3)")
            .bind(repo.id)
            .bind(source.id)
            .bind(commit.as_str())
            .execute(&self.pool)
            .await?;
        drop(w);
        Ok(())
    }

    /// The repo a copy was made from (deleted or not) and the commit copied.
    pub async fn lineage(&self, repo: &Repo) -> Result<Option<(Repo, String)>> {
        let row = sqlx::query("SELECT source_id, commit_id FROM repo_lineage WHERE repo_id = $1")
            .bind(repo.id)
            .fetch_optional(&self.pool)
            .await?;
        let Some(r) = row else { return Ok(None) };
        let source: i64 = r.try_get("source_id")?;
        let commit: String = r.try_get("commit_id")?;
        Ok(self.repo_by_id(source).await?.map(|s| (s, commit)))
    }

    /// Whether the repo has an incident that is not settled (received, triaged, confirmed or
    /// mitigated): such a repo is not deleted while the report runs.
    pub async fn has_open_incident(&self, repo: &Repo) -> Result<bool> {
        let row = sqlx::query(
            "SELECT 1 AS one FROM incidents WHERE repo_id = $1
             AND state IN ('received', 'triaged', 'confirmed', 'mitigated') LIMIT 1",
        )
        .bind(repo.id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.is_some())
    }

    /// The live repo a former name redirects to, if any.
    pub async fn redirect_target(&self, id: &RepoId) -> Result<Option<Repo>> {
        let Some((mut target, was_private)) = self.redirect_row(id).await? else {
            return Ok(None);
        };
        if self.deleted_at(&target.repo_id).await?.is_some() {
            return Ok(None);
        }
        // A repo private when it moved keeps its former name private.
        target.private |= was_private;
        Ok(Some(target))
    }

    /// The repo (live or deleted) a former name belongs to.
    pub async fn former_name_of(&self, id: &RepoId) -> Result<Option<Repo>> {
        Ok(self.redirect_row(id).await?.map(|(r, _)| r))
    }

    /// A former name's repo (live or deleted) and whether it was private when it moved.
    async fn redirect_row(&self, id: &RepoId) -> Result<Option<(Repo, bool)>> {
        let row = sqlx::query(
            "SELECT repo_id, private_at_move FROM repo_redirects WHERE namespace = $1 AND name = $2",
        )
        .bind(id.namespace.as_str())
        .bind(id.name.as_str())
        .fetch_optional(&self.pool)
        .await?;
        let Some(r) = row else { return Ok(None) };
        let was_private = r.try_get::<i64, _>("private_at_move")? != 0;
        Ok(self
            .repo_by_id(r.try_get("repo_id")?)
            .await?
            .map(|repo| (repo, was_private)))
    }

    /// Every former name of a repo.
    pub async fn former_names(&self, repo: &Repo) -> Result<Vec<String>> {
        let rows = sqlx::query("SELECT namespace, name FROM repo_redirects WHERE repo_id = $1")
            .bind(repo.id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(format!(
                    "{}/{}",
                    r.try_get::<String, _>("namespace")?,
                    r.try_get::<String, _>("name")?
                ))
            })
            .collect()
    }

    /// Renames a repo, leaving a redirect at its former name, with its event, in one
    /// transaction. The new name must be free: no repo, tombstone or other repo's redirect
    /// (a redirect of this same repo is taken back).
    pub async fn move_repo_logged(
        &self,
        repo: &Repo,
        to: &RepoId,
        event: &weir_core::Event,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let taken = sqlx::query("SELECT 1 AS one FROM repos WHERE namespace = $1 AND name = $2")
            .bind(to.namespace.as_str())
            .bind(to.name.as_str())
            .fetch_optional(&mut *tx)
            .await?;
        let redirected =
            sqlx::query("SELECT repo_id FROM repo_redirects WHERE namespace = $1 AND name = $2")
                .bind(to.namespace.as_str())
                .bind(to.name.as_str())
                .fetch_optional(&mut *tx)
                .await?
                .map(|r| r.try_get::<i64, _>("repo_id"))
                .transpose()?;
        if taken.is_some() || redirected.is_some_and(|id| id != repo.id) {
            return Err(StoreError::Exists(format!("repo {to}")));
        }
        sqlx::query("DELETE FROM repo_redirects WHERE namespace = $1 AND name = $2")
            .bind(to.namespace.as_str())
            .bind(to.name.as_str())
            .execute(&mut *tx)
            .await?;
        // Leaving the namespace is decided in this transaction, so a record filed meanwhile
        // counts: releases, incidents, sign-offs and a running presumption clock belong to the
        // publisher that has them.
        if to.namespace != repo.repo_id.namespace {
            let record = sqlx::query(
                "SELECT 1 AS one FROM releases WHERE repo_id = $1
                 UNION ALL SELECT 1 FROM incidents WHERE repo_id = $1 AND state NOT IN ('rejected', 'withdrawn')
                 UNION ALL SELECT 1 FROM release_signoffs WHERE repo_id = $1
                 UNION ALL SELECT 1 FROM classifications WHERE repo_id = $1 AND presumption_since IS NOT NULL
                 LIMIT 1",
            )
            .bind(repo.id)
            .fetch_optional(&mut *tx)
            .await?;
            if record.is_some() {
                return Err(StoreError::StateChanged {
                    record: format!("repo {}", repo.repo_id),
                    expected: "without an accountability record".into(),
                });
            }
        }
        // The event first, under the name it had (sealed if the repo is private).
        crate::events::record_event_in(&mut tx, event).await?;
        let n = sqlx::query(
            "UPDATE repos SET namespace = $1, name = $2, updated_at = $3
             WHERE id = $4 AND namespace = $5 AND name = $6 AND deleted_at IS NULL",
        )
        .bind(to.namespace.as_str())
        .bind(to.name.as_str())
        .bind(now())
        .bind(repo.id)
        .bind(repo.repo_id.namespace.as_str())
        .bind(repo.repo_id.name.as_str())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n != 1 {
            return Err(StoreError::StateChanged {
                record: format!("repo {}", repo.repo_id),
                expected: "unmoved".into(),
            });
        }
        sqlx::query(
            "INSERT INTO repo_redirects (namespace, name, repo_id, created_at, private_at_move)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(repo.repo_id.namespace.as_str())
        .bind(repo.repo_id.name.as_str())
        .bind(repo.id)
        .bind(now())
        .bind(i64::from(repo.private))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// When the repo of this name was deleted, if it was (its tombstone).
    pub async fn deleted_at(&self, id: &RepoId) -> Result<Option<i64>> {
        let row = sqlx::query(
            "SELECT deleted_at FROM repos WHERE namespace = $1 AND name = $2 AND deleted_at IS NOT NULL",
        )
        .bind(id.namespace.as_str())
        .bind(id.name.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| r.try_get::<i64, _>("deleted_at"))
            .transpose()
            .map_err(Into::into)
    }

    /// Deletes a repo, leaving its tombstone, with its event, in one transaction. Refused with
    /// `StateChanged` if it was deleted meanwhile.
    pub async fn delete_repo_logged(&self, repo: &Repo, event: &weir_core::Event) -> Result<()> {
        let mut tx = self.begin_write().await?;
        // The event first: it is sealed if the repo is private, as the repo was.
        crate::events::record_event_in(&mut tx, event).await?;
        let n =
            sqlx::query("UPDATE repos SET deleted_at = $1 WHERE id = $2 AND deleted_at IS NULL")
                .bind(crate::now())
                .bind(repo.id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        if n != 1 {
            return Err(StoreError::StateChanged {
                record: format!("repo {}", repo.repo_id),
                expected: "not deleted".into(),
            });
        }
        sqlx::query("DELETE FROM likes WHERE repo_id = $1")
            .bind(repo.id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// A repo by its row id (records such as incidents and evidence point at repos this way).
    /// A deleted repo's row is still found: the records about it remain.
    pub async fn repo_by_id(&self, id: i64) -> Result<Option<Repo>> {
        let row = sqlx::query(
            "SELECT id, namespace, name, private, tier, created_at, updated_at, min_level,
                    auto_approve_level, blocked_countries, required_fields, terms, chosen_tier, research_level
             FROM repos WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(repo_from_row).transpose()
    }

    /// Every repo, deleted ones included (their records count: standing, the OSV feed, the
    /// incident list). See [`Db::list_live_repos`].
    pub async fn list_repos(&self) -> Result<Vec<Repo>> {
        let rows = sqlx::query(
            "SELECT id, namespace, name, private, tier, created_at, updated_at, min_level,
                    auto_approve_level, blocked_countries, required_fields, terms, chosen_tier, research_level
             FROM repos ORDER BY namespace, name",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(repo_from_row).collect()
    }

    pub async fn resolve(&self, repo: &Repo, rev: &Revision) -> Result<Option<CommitId>> {
        let lookup = |kind: RefKind, name: &RefName| {
            sqlx::query("SELECT commit_id FROM refs WHERE repo_id = $1 AND kind = $2 AND name = $3")
                .bind(repo.id)
                .bind(kind.as_str())
                .bind(name.as_str().to_string())
        };
        let row = match rev {
            Revision::Commit(c) => {
                sqlx::query("SELECT id AS commit_id FROM commits WHERE repo_id = $1 AND id = $2")
                    .bind(repo.id)
                    .bind(c.as_str())
                    .fetch_optional(&self.pool)
                    .await?
            }
            Revision::Branch(b) => {
                lookup(RefKind::Branch, b)
                    .fetch_optional(&self.pool)
                    .await?
            }
            Revision::Tag(t) => lookup(RefKind::Tag, t).fetch_optional(&self.pool).await?,
            Revision::Ref(r) => match lookup(RefKind::Branch, r)
                .fetch_optional(&self.pool)
                .await?
            {
                Some(row) => Some(row),
                None => lookup(RefKind::Tag, r).fetch_optional(&self.pool).await?,
            },
        };
        row.map(|r| commit_id(&r.try_get::<String, _>("commit_id")?))
            .transpose()
    }

    /// A revision and one file at it, in one query (the download path asks both): `None` when
    /// the revision does not resolve, `Some((commit, None))` when the file is not there. The
    /// same resolution as [`Db::resolve`]: a bare name is a branch before a tag.
    pub async fn file_at(
        &self,
        repo: &Repo,
        rev: &Revision,
        path: &RepoPath,
    ) -> Result<Option<(CommitId, Option<FileEntry>)>> {
        let rev_key = match rev {
            Revision::Commit(c) => format!("c:{c}"),
            Revision::Branch(n) => format!("b:{n}"),
            Revision::Tag(n) => format!("t:{n}"),
            Revision::Ref(n) => format!("r:{n}"),
        };
        let key = (repo.id, rev_key, path.as_str().to_string());
        self.memoized(
            &self.memo.files,
            key,
            self.file_at_uncached(repo, rev, path),
        )
        .await
    }

    async fn file_at_uncached(
        &self,
        repo: &Repo,
        rev: &Revision,
        path: &RepoPath,
    ) -> Result<Option<(CommitId, Option<FileEntry>)>> {
        let row = match rev {
            Revision::Commit(c) => {
                sqlx::query(
                    "SELECT c.id AS commit_id, f.path, f.sha256, f.size, f.git_oid, f.lfs FROM commits c
                     LEFT JOIN commit_files f ON f.repo_id = c.repo_id AND f.commit_id = c.id AND f.path = $3
                     WHERE c.repo_id = $1 AND c.id = $2",
                )
                .bind(repo.id)
                .bind(c.as_str())
                .bind(path.as_str())
                .fetch_optional(&self.pool)
                .await?
            }
            Revision::Branch(name) | Revision::Tag(name) | Revision::Ref(name) => {
                let kinds: &[&str] = match rev {
                    Revision::Branch(_) => &["branch", "branch"],
                    Revision::Tag(_) => &["tag", "tag"],
                    _ => &["branch", "tag"],
                };
                sqlx::query(
                    "SELECT r.commit_id, f.path, f.sha256, f.size, f.git_oid, f.lfs FROM refs r
                     LEFT JOIN commit_files f ON f.repo_id = r.repo_id AND f.commit_id = r.commit_id AND f.path = $5
                     WHERE r.repo_id = $1 AND r.name = $2 AND r.kind IN ($3, $4)
                     ORDER BY CASE r.kind WHEN 'branch' THEN 0 ELSE 1 END LIMIT 1",
                )
                .bind(repo.id)
                .bind(name.as_str().to_string())
                .bind(kinds[0])
                .bind(kinds[1])
                .bind(path.as_str())
                .fetch_optional(&self.pool)
                .await?
            }
        };
        let Some(r) = row else { return Ok(None) };
        let commit = commit_id(&r.try_get::<String, _>("commit_id")?)?;
        let file = match r.try_get::<Option<String>, _>("path")? {
            Some(_) => Some(file_from_row(&r)?),
            None => None,
        };
        Ok(Some((commit, file)))
    }

    pub async fn commit_info(&self, repo: &Repo, id: &CommitId) -> Result<Option<CommitInfo>> {
        let row = sqlx::query(
            "SELECT id, parent, tree, author, summary, description, created_at FROM commits
             WHERE repo_id = $1 AND id = $2",
        )
        .bind(repo.id)
        .bind(id.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(commit_from_row).transpose()
    }

    /// The commits of `repo` from `head` back through first parents, newest first, at most
    /// `max` (one query: the repo's commits are read and walked in memory).
    pub async fn history(
        &self,
        repo: &Repo,
        head: &CommitId,
        max: usize,
    ) -> Result<Vec<CommitInfo>> {
        let rows = sqlx::query(
            "SELECT id, parent, tree, author, summary, description, created_at FROM commits
             WHERE repo_id = $1",
        )
        .bind(repo.id)
        .fetch_all(&self.pool)
        .await?;
        let mut by_id = std::collections::HashMap::with_capacity(rows.len());
        for r in &rows {
            let c = commit_from_row(r)?;
            by_id.insert(c.id.clone(), c);
        }
        let mut out = Vec::new();
        let mut at = Some(head.clone());
        while let Some(id) = at {
            if out.len() >= max {
                break;
            }
            let Some(c) = by_id.remove(&id) else { break };
            at = c.parent.clone();
            out.push(c);
        }
        Ok(out)
    }

    /// Every file of a commit, ordered by path.
    pub async fn files(&self, repo: &Repo, commit: &CommitId) -> Result<Vec<FileEntry>> {
        let rows = sqlx::query(
            "SELECT path, sha256, size, git_oid, lfs FROM commit_files
             WHERE repo_id = $1 AND commit_id = $2 ORDER BY path",
        )
        .bind(repo.id)
        .bind(commit.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(file_from_row).collect()
    }

    pub async fn file(
        &self,
        repo: &Repo,
        commit: &CommitId,
        path: &RepoPath,
    ) -> Result<Option<FileEntry>> {
        let row = sqlx::query(
            "SELECT path, sha256, size, git_oid, lfs FROM commit_files
             WHERE repo_id = $1 AND commit_id = $2 AND path = $3",
        )
        .bind(repo.id)
        .bind(commit.as_str())
        .bind(path.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(file_from_row).transpose()
    }

    pub async fn refs(&self, repo: &Repo) -> Result<Vec<RefInfo>> {
        let rows = sqlx::query(
            "SELECT kind, name, commit_id FROM refs WHERE repo_id = $1 ORDER BY kind, name",
        )
        .bind(repo.id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let kind: String = r.try_get("kind")?;
                let name: String = r.try_get("name")?;
                Ok(RefInfo {
                    kind: if kind == "tag" {
                        RefKind::Tag
                    } else {
                        RefKind::Branch
                    },
                    name: RefName::parse(&name).map_err(corrupt)?,
                    commit: commit_id(&r.try_get::<String, _>("commit_id")?)?,
                })
            })
            .collect()
    }

    /// Creates a branch or tag pointing at an existing commit. Fails if it already exists.
    pub async fn create_ref(
        &self,
        repo: &Repo,
        kind: RefKind,
        name: &RefName,
        commit: &CommitId,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        // A bare revision resolves to a branch before a tag: a branch named like a published
        // tag (`v1.0`) would shadow it. Names are unique across branches and tags.
        if let Some(other) = ref_named(&mut tx, repo, name).await? {
            return Err(StoreError::Exists(format!("{} {name}", other.as_str())));
        }
        sqlx::query(
            "INSERT INTO refs (repo_id, kind, name, commit_id, updated_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(repo.id)
        .bind(kind.as_str())
        .bind(name.as_str())
        .bind(commit.as_str())
        .bind(now())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Deletes a branch or a tag with its event (given the commit it pointed at), in one
    /// transaction. `Ok(None)` when there is no such ref. A tag naming a released commit is
    /// refused with [`StoreError::StateChanged`]: a published release's tag is not moved away.
    pub async fn delete_ref_logged(
        &self,
        repo: &Repo,
        kind: RefKind,
        name: &RefName,
        event: impl FnOnce(&CommitId) -> weir_core::Event,
    ) -> Result<Option<CommitId>> {
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(
            "SELECT commit_id FROM refs WHERE repo_id = $1 AND kind = $2 AND name = $3",
        )
        .bind(repo.id)
        .bind(kind.as_str())
        .bind(name.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let commit = commit_id(&row.try_get::<String, _>("commit_id")?)?;
        if kind == RefKind::Tag {
            let released =
                sqlx::query("SELECT 1 AS one FROM releases WHERE repo_id = $1 AND commit_id = $2")
                    .bind(repo.id)
                    .bind(commit.as_str())
                    .fetch_optional(&mut *tx)
                    .await?;
            if released.is_some() {
                return Err(StoreError::StateChanged {
                    record: format!("tag {name}"),
                    expected: "a tag of an unreleased commit".into(),
                });
            }
        }
        sqlx::query("DELETE FROM refs WHERE repo_id = $1 AND kind = $2 AND name = $3")
            .bind(repo.id)
            .bind(kind.as_str())
            .bind(name.as_str())
            .execute(&mut *tx)
            .await?;
        crate::events::record_event_in(&mut tx, &event(&commit)).await?;
        tx.commit().await?;
        Ok(Some(commit))
    }

    /// [`Db::set_private`] and its event, in one transaction.
    pub async fn set_private_logged(
        &self,
        repo: &Repo,
        private: bool,
        event: &weir_core::Event,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query("UPDATE repos SET private = $1, updated_at = $2 WHERE id = $3")
            .bind(i64::from(private))
            .bind(now())
            .bind(repo.id)
            .execute(&mut *tx)
            .await?;
        crate::events::record_event_in(&mut tx, event).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn set_private(&self, repo: &Repo, private: bool) -> Result<()> {
        let w = self.writing();
        sqlx::query("UPDATE repos SET private = $1, updated_at = $2 WHERE id = $3")
            .bind(i64::from(private))
            .bind(now())
            .bind(repo.id)
            .execute(&self.pool)
            .await?;
        drop(w);
        Ok(())
    }

    /// Creates the repo row, its first commit (given files) and `main`, in one transaction.
    async fn insert_repo(
        &self,
        id: &RepoId,
        private: bool,
        first: &NewCommit,
        git_oids: &BTreeMap<RepoPath, String>,
    ) -> Result<Repo> {
        let mut tx = self.begin_write().await?;
        let t = now();
        let row = sqlx::query(
            "INSERT INTO repos (namespace, name, kind, private, tier, created_at, updated_at)
             VALUES ($1, $2, 'model', $3, 'T0', $4, $4) ON CONFLICT (namespace, name) DO NOTHING RETURNING id",
        )
        .bind(id.namespace.as_str())
        .bind(id.name.as_str())
        .bind(i64::from(private))
        .bind(t)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Err(StoreError::Exists(format!("repo {id}")));
        };
        let repo = Repo {
            id: row.try_get("id")?,
            repo_id: id.clone(),
            private,
            tier: Tier::T0,
            chosen_tier: Tier::T0,
            gating: Gating::default(),
            created_at: t,
            updated_at: t,
        };
        let files = apply_ops(BTreeMap::new(), &first.ops, git_oids)?;
        let commit = write_commit(&mut tx, &repo, None, &files, first).await?;
        sqlx::query("INSERT INTO refs (repo_id, kind, name, commit_id, updated_at) VALUES ($1, 'branch', 'main', $2, $3)")
            .bind(repo.id)
            .bind(commit.as_str())
            .bind(t)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(repo)
    }

    async fn apply_commit(
        &self,
        repo: &Repo,
        c: &NewCommit,
        git_oids: &BTreeMap<RepoPath, String>,
    ) -> Result<CommitId> {
        let mut tx = self.begin_write().await?;
        require_live(&mut tx, repo).await?;
        let head = branch_head_in(&mut tx, repo, &c.branch).await?;
        let base = match &head {
            Some(h) => Some(h.clone()),
            None if c.create_branch => {
                if let Some(other) = ref_named(&mut tx, repo, &c.branch).await? {
                    return Err(StoreError::Exists(format!(
                        "{} {} (branch and tag names are unique)",
                        other.as_str(),
                        c.branch
                    )));
                }
                let main = sqlx::query("SELECT commit_id FROM refs WHERE repo_id = $1 AND kind = 'branch' AND name = 'main'")
                    .bind(repo.id)
                    .fetch_optional(&mut *tx)
                    .await?;
                main.map(|r| commit_id(&r.try_get::<String, _>("commit_id")?))
                    .transpose()?
            }
            None => return Err(StoreError::NotFound(format!("branch {}", c.branch))),
        };
        if let Some(expected) = &c.expected_parent
            && Some(expected) != base.as_ref()
        {
            return Err(StoreError::Conflict {
                branch: c.branch.to_string(),
                head: base.map(|b| b.to_string()).unwrap_or_else(|| "none".into()),
                expected: expected.to_string(),
            });
        }
        let files = match &base {
            Some(b) => files_in(&mut tx, repo, b).await?,
            None => BTreeMap::new(),
        };
        for op in &c.ops {
            if let CommitOp::Add { path, sha256, size } = op
                && possessed_size(&mut *tx, repo.id, sha256).await? != Some(*size)
            {
                return Err(not_uploaded(path, sha256, *size));
            }
        }
        let files = apply_ops(files, &c.ops, git_oids)?;
        let new = write_commit(&mut tx, repo, base.as_ref(), &files, c).await?;
        let t = now();
        let moved = match &head {
            Some(h) => move_branch_in(&mut tx, repo, &c.branch, h, &new).await?,
            None => sqlx::query(
                "INSERT INTO refs (repo_id, kind, name, commit_id, updated_at) VALUES ($1, 'branch', $2, $3, $4)
                 ON CONFLICT (repo_id, kind, name) DO NOTHING",
            )
            .bind(repo.id)
            .bind(c.branch.as_str())
            .bind(new.as_str())
            .bind(t)
            .execute(&mut *tx)
            .await?
            .rows_affected(),
        };
        if moved != 1 {
            return Err(StoreError::Conflict {
                branch: c.branch.to_string(),
                head: "moved concurrently".into(),
                expected: head.map(|h| h.to_string()).unwrap_or_else(|| "none".into()),
            });
        }
        sqlx::query("UPDATE repos SET updated_at = $1 WHERE id = $2")
            .bind(t)
            .bind(repo.id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(new)
    }
}

impl Db {
    /// Squashes a branch's history: one new root commit with the head's files becomes the
    /// branch's head (compare-and-swap on the head read), with its event, in one transaction.
    /// The old commits stay: releases and tags keep naming them, and they still resolve by id.
    pub async fn squash_branch_logged(
        &self,
        repo: &Repo,
        c: &NewCommit,
        event: impl FnOnce(&CommitId, &CommitId) -> weir_core::Event,
    ) -> Result<CommitId> {
        let mut tx = self.begin_write().await?;
        require_live(&mut tx, repo).await?;
        let head = branch_head_in(&mut tx, repo, &c.branch)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("branch {}", c.branch)))?;
        let files = files_in(&mut tx, repo, &head).await?;
        let new = write_commit(&mut tx, repo, None, &files, c).await?;
        let moved = move_branch_in(&mut tx, repo, &c.branch, &head, &new).await?;
        if moved != 1 {
            return Err(StoreError::Conflict {
                branch: c.branch.to_string(),
                head: "moved concurrently".into(),
                expected: head.to_string(),
            });
        }
        crate::events::record_event_in(&mut tx, &event(&head, &new)).await?;
        tx.commit().await?;
        Ok(new)
    }
}

/// The head of a branch, read inside a write transaction.
async fn branch_head_in(
    tx: &mut sqlx::AnyConnection,
    repo: &Repo,
    branch: &RefName,
) -> Result<Option<CommitId>> {
    sqlx::query("SELECT commit_id FROM refs WHERE repo_id = $1 AND kind = 'branch' AND name = $2")
        .bind(repo.id)
        .bind(branch.as_str())
        .fetch_optional(&mut *tx)
        .await?
        .map(|r| commit_id(&r.try_get::<String, _>("commit_id")?))
        .transpose()
}

/// A commit's files by path, read inside a write transaction.
async fn files_in(
    tx: &mut sqlx::AnyConnection,
    repo: &Repo,
    commit: &CommitId,
) -> Result<BTreeMap<RepoPath, FileEntry>> {
    let rows = sqlx::query(
        "SELECT path, sha256, size, git_oid, lfs FROM commit_files WHERE repo_id = $1 AND commit_id = $2",
    )
    .bind(repo.id)
    .bind(commit.as_str())
    .fetch_all(&mut *tx)
    .await?;
    let mut files = BTreeMap::new();
    for r in &rows {
        let f = file_from_row(r)?;
        files.insert(f.path.clone(), f);
    }
    Ok(files)
}

/// Moves a branch from `from` to `to` by compare-and-swap; the rows moved (0 if it moved
/// meanwhile).
async fn move_branch_in(
    tx: &mut sqlx::AnyConnection,
    repo: &Repo,
    branch: &RefName,
    from: &CommitId,
    to: &CommitId,
) -> Result<u64> {
    Ok(sqlx::query(
        "UPDATE refs SET commit_id = $1, updated_at = $2
         WHERE repo_id = $3 AND kind = 'branch' AND name = $4 AND commit_id = $5",
    )
    .bind(to.as_str())
    .bind(now())
    .bind(repo.id)
    .bind(branch.as_str())
    .bind(from.as_str())
    .execute(&mut *tx)
    .await?
    .rows_affected())
}

/// Refuses a write to a repo deleted since it was looked up (checked inside the write's
/// transaction, so nothing lands on a tombstone).
pub(crate) async fn require_live(tx: &mut sqlx::AnyConnection, repo: &Repo) -> Result<()> {
    let row = sqlx::query("SELECT deleted_at FROM repos WHERE id = $1")
        .bind(repo.id)
        .fetch_optional(&mut *tx)
        .await?;
    match row {
        Some(r) if r.try_get::<Option<i64>, _>("deleted_at")?.is_none() => Ok(()),
        _ => Err(StoreError::NotFound(format!("repo {}", repo.repo_id))),
    }
}

/// The kind of the ref called `name` in `repo`, branch or tag, if there is one.
async fn ref_named(
    tx: &mut sqlx::AnyConnection,
    repo: &Repo,
    name: &RefName,
) -> Result<Option<RefKind>> {
    let row = sqlx::query("SELECT kind FROM refs WHERE repo_id = $1 AND name = $2 LIMIT 1")
        .bind(repo.id)
        .bind(name.as_str())
        .fetch_optional(&mut *tx)
        .await?;
    row.map(|r| {
        let k: String = r.try_get("kind")?;
        Ok(if k == "tag" {
            RefKind::Tag
        } else {
            RefKind::Branch
        })
    })
    .transpose()
}

fn not_uploaded(path: &RepoPath, sha256: &Sha256Hex, size: u64) -> StoreError {
    StoreError::NotUploaded {
        path: path.to_string(),
        sha256: sha256.to_string(),
        size,
    }
}

async fn write_commit(
    tx: &mut sqlx::AnyConnection,
    repo: &Repo,
    parent: Option<&CommitId>,
    files: &BTreeMap<RepoPath, FileEntry>,
    c: &NewCommit,
) -> Result<CommitId> {
    let mut tree = TreeBuilder::new();
    for f in files.values() {
        tree.add(&f.path, &f.git_oid);
    }
    let (root, _) = tree.finish();
    let message = if c.description.is_empty() {
        c.summary.clone()
    } else {
        format!("{}\n\n{}", c.summary, c.description)
    };
    let id = git::commit_oid(&root, parent, &c.author, &message);
    let inserted = sqlx::query(
        "INSERT INTO commits (repo_id, id, parent, tree, author, summary, description, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (repo_id, id) DO NOTHING",
    )
    .bind(repo.id)
    .bind(id.as_str())
    .bind(parent.map(|p| p.as_str().to_string()))
    .bind(&root)
    .bind(&c.author.name)
    .bind(&c.summary)
    .bind(&c.description)
    .bind(c.author.time)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if inserted == 1 {
        for f in files.values() {
            sqlx::query(
                "INSERT INTO commit_files (repo_id, commit_id, path, sha256, size, git_oid, lfs)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(repo.id)
            .bind(id.as_str())
            .bind(f.path.as_str())
            .bind(f.sha256.as_str())
            .bind(size_i64(f.size)?)
            .bind(&f.git_oid)
            .bind(i64::from(f.lfs))
            .execute(&mut *tx)
            .await?;
        }
    }
    Ok(id)
}

impl Store {
    /// Git blob ids of the small (non-LFS) files a commit adds, hashed from the stored blobs.
    async fn git_oids(
        &self,
        repo: Option<&Repo>,
        ops: &[CommitOp],
    ) -> Result<BTreeMap<RepoPath, String>> {
        let mut out = BTreeMap::new();
        for op in ops {
            if let CommitOp::Add { path, sha256, size } = op {
                // Possession before reference: the same answer whether or not the bytes are
                // stored for another repo. (Checked again inside the commit transaction.)
                if let Some(repo) = repo
                    && self.db.possessed(repo, sha256).await? != Some(*size)
                {
                    return Err(not_uploaded(path, sha256, *size));
                }
                if !self.has_blob(sha256, *size).await? {
                    return Err(not_uploaded(path, sha256, *size));
                }
                if weir_core::is_lfs(path, *size) {
                    continue;
                }
                let len = *size;
                let bytes = self
                    .blobs
                    .read_prefix(sha256, len)
                    .await
                    .map_err(|source| StoreError::Io {
                        path: self.blobs.path_of(sha256),
                        source,
                    })?;
                let oid = tokio::task::spawn_blocking(move || {
                    let mut h = BlobHasher::new(len);
                    h.update(&bytes);
                    h.finish()
                })
                .await
                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                out.insert(path.clone(), oid);
            }
        }
        Ok(out)
    }

    /// Creates a repo with a first commit holding the default `.gitattributes` on `main`.
    pub async fn create_repo(
        &self,
        id: &RepoId,
        private: bool,
        author: CommitSignature,
    ) -> Result<Repo> {
        if self.db.repo(id).await?.is_some() {
            return Err(StoreError::Exists(format!("repo {id}")));
        }
        // A former name is never free again, whatever became of the repo it names.
        if let Some(target) = self.db.former_name_of(id).await? {
            return match self.db.deleted_at(&target.repo_id).await? {
                Some(at) => Err(StoreError::Deleted {
                    repo: id.to_string(),
                    at,
                }),
                None => Err(StoreError::Exists(format!(
                    "repo {id} (the former name of {}, which it redirects to)",
                    target.repo_id
                ))),
            };
        }
        if let Some(at) = self.db.deleted_at(id).await? {
            return Err(StoreError::Deleted {
                repo: id.to_string(),
                at,
            });
        }
        let attrs = weir_core::default_gitattributes();
        let (sha, size) = self.ingest_bytes(attrs.into_bytes().into()).await?;
        let first = NewCommit {
            branch: RefName::main(),
            expected_parent: None,
            create_branch: true,
            ops: vec![CommitOp::Add {
                path: RepoPath::parse(".gitattributes").map_err(corrupt)?,
                sha256: sha,
                size,
            }],
            author,
            summary: "initial commit".into(),
            description: String::new(),
        };
        // The repo does not exist yet: its first commit holds only bytes made here.
        let oids = self.git_oids(None, &first.ops).await?;
        self.db.insert_repo(id, private, &first, &oids).await
    }

    /// Makes a commit on a branch. Every added blob must be possessed by the repo: uploaded for
    /// it ([`Store::ingest_for`]) or already in one of its commits.
    pub async fn commit(&self, repo: &Repo, c: &NewCommit) -> Result<CommitId> {
        let oids = self.git_oids(Some(repo), &c.ops).await?;
        // The unsafe-serialization scan and the parameter count, before the commit is visible.
        self.read_added(&c.ops).await?;
        self.db.apply_commit(repo, c, &oids).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sig() -> CommitSignature {
        CommitSignature {
            name: "alice".into(),
            email: "alice@example.org".into(),
            time: 1_700_000_000,
        }
    }

    async fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open_test(dir.path()).await.expect("open");
        store
            .db
            .create_user(&weir_core::Name::parse("alice").expect("name"), None, false)
            .await
            .expect("user");
        (dir, store)
    }

    fn p(s: &str) -> RepoPath {
        RepoPath::parse(s).expect("path")
    }

    #[tokio::test]
    async fn commits_branches_and_tags() {
        let (_dir, store) = store().await;
        let id = RepoId::parse("alice/m").expect("id");
        let repo = store.create_repo(&id, false, sig()).await.expect("create");
        assert!(matches!(
            store.create_repo(&id, false, sig()).await,
            Err(StoreError::Exists(_))
        ));
        let main = store
            .db
            .resolve(&repo, &Revision::parse("main").expect("rev"))
            .await
            .expect("resolve")
            .expect("main");
        let (sha, size) = store
            .ingest_bytes_for(&repo, "hello\n".into())
            .await
            .expect("blob");
        let c = NewCommit {
            branch: RefName::main(),
            expected_parent: Some(main.clone()),
            create_branch: false,
            ops: vec![CommitOp::Add {
                path: p("sub/hello.txt"),
                sha256: sha.clone(),
                size,
            }],
            author: sig(),
            summary: "add".into(),
            description: String::new(),
        };
        let c1 = store.commit(&repo, &c).await.expect("commit");
        // the same expected parent again is a conflict: the branch moved
        assert!(matches!(
            store.commit(&repo, &c).await,
            Err(StoreError::Conflict { .. })
        ));
        let files = store.db.files(&repo, &c1).await.expect("files");
        assert_eq!(files.len(), 2);
        let hello = store
            .db
            .file(&repo, &c1, &p("sub/hello.txt"))
            .await
            .expect("q")
            .expect("file");
        assert_eq!(hello.git_oid, "ce013625030ba8dba906f756967f9e9ca394464a");
        assert!(!hello.lfs);
        store
            .db
            .create_ref(
                &repo,
                RefKind::Tag,
                &RefName::parse("v1").expect("ref"),
                &c1,
            )
            .await
            .expect("tag");
        assert_eq!(
            store
                .db
                .resolve(&repo, &Revision::parse("v1").expect("rev"))
                .await
                .expect("q"),
            Some(c1.clone())
        );
        assert_eq!(
            store
                .db
                .resolve(&repo, &Revision::Commit(main.clone()))
                .await
                .expect("q"),
            Some(main.clone())
        );
        // old commits stay immutable
        assert_eq!(store.db.files(&repo, &main).await.expect("files").len(), 1);
        // a file cannot also be a directory
        let clash = NewCommit {
            ops: vec![CommitOp::Add {
                path: p("sub"),
                sha256: sha.clone(),
                size,
            }],
            expected_parent: None,
            ..c.clone()
        };
        assert!(matches!(
            store.commit(&repo, &clash).await,
            Err(StoreError::InvalidCommit(_))
        ));
        // unknown blobs are refused
        let ghost = NewCommit {
            ops: vec![CommitOp::Add {
                path: p("x"),
                sha256: Sha256Hex::parse(&"1".repeat(64)).expect("hex"),
                size: 3,
            }],
            expected_parent: None,
            ..c.clone()
        };
        assert!(matches!(
            store.commit(&repo, &ghost).await,
            Err(StoreError::NotUploaded { .. })
        ));
        // Possession before reference: bytes stored for another repo are not this repo's.
        let other = store
            .create_repo(&RepoId::parse("alice/other").expect("id"), false, sig())
            .await
            .expect("create");
        let (foreign, fsize) = store
            .ingest_bytes_for(&other, "other's weights\n".into())
            .await
            .expect("blob");
        // ...nor are bytes stored outside any repo (raw evaluation logs, attachments).
        let (loose, lsize) = store
            .ingest_bytes("a raw log\n".into())
            .await
            .expect("blob");
        for (path, sha256, size) in [("stolen", foreign, fsize), ("log", loose, lsize)] {
            let claim = NewCommit {
                ops: vec![CommitOp::Add {
                    path: p(path),
                    sha256,
                    size,
                }],
                expected_parent: None,
                ..c.clone()
            };
            assert!(matches!(
                store.commit(&repo, &claim).await,
                Err(StoreError::NotUploaded { .. })
            ));
        }
        // new branch from main
        let feat = NewCommit {
            branch: RefName::parse("feature/x").expect("ref"),
            expected_parent: None,
            create_branch: true,
            ops: vec![CommitOp::DeleteFolder(p("sub"))],
            ..c.clone()
        };
        let c2 = store.commit(&repo, &feat).await.expect("branch commit");
        assert_eq!(store.db.files(&repo, &c2).await.expect("files").len(), 1);
        assert_eq!(store.db.refs(&repo).await.expect("refs").len(), 3);
    }
}
