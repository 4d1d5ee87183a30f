//! Signed releases: the model-signing bundle of a released commit and its announcing event.

use sqlx::Row;
use weir_core::{CommitId, Event};

use crate::repos::Repo;
use crate::{Db, Result, StoreError, now};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    pub commit: CommitId,
    pub bundle: String,
    pub event_id: i64,
    pub created_at: i64,
    /// The repo's tier when it was released (unknown for releases made before it was recorded).
    pub tier: Option<weir_core::Tier>,
}

impl Db {
    /// Records the release event and the bundle together, in one transaction. A commit is
    /// released once.
    pub async fn create_release(
        &self,
        repo: &Repo,
        commit: &CommitId,
        bundle: &str,
        event: &Event,
    ) -> Result<Release> {
        if self.release(repo, commit).await?.is_some() {
            return Err(StoreError::Exists(format!(
                "release of {} at {commit}",
                repo.repo_id
            )));
        }
        let mut tx = self.begin_write().await?;
        crate::repos::require_live(&mut tx, repo).await?;
        let event_id = crate::events::record_event_in(&mut tx, event).await?;
        let t = now();
        sqlx::query("INSERT INTO releases (repo_id, commit_id, bundle, event_id, created_at, tier) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(repo.id)
            .bind(commit.as_str())
            .bind(bundle)
            .bind(event_id)
            .bind(t)
            .bind(repo.tier.as_str())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Release {
            commit: commit.clone(),
            bundle: bundle.to_string(),
            event_id,
            created_at: t,
            tier: Some(repo.tier),
        })
    }

    pub async fn release(&self, repo: &Repo, commit: &CommitId) -> Result<Option<Release>> {
        let r = sqlx::query("SELECT bundle, event_id, created_at, tier FROM releases WHERE repo_id = $1 AND commit_id = $2")
            .bind(repo.id)
            .bind(commit.as_str())
            .fetch_optional(&self.pool)
            .await?;
        r.map(|r| {
            Ok(Release {
                commit: commit.clone(),
                bundle: r.try_get("bundle")?,
                event_id: r.try_get("event_id")?,
                created_at: r.try_get("created_at")?,
                tier: tier_of(&r)?,
            })
        })
        .transpose()
    }

    /// A repo's releases, newest first.
    pub async fn releases_of(&self, repo: &Repo) -> Result<Vec<Release>> {
        let rows = sqlx::query(
            "SELECT commit_id, bundle, event_id, created_at, tier FROM releases WHERE repo_id = $1 ORDER BY created_at DESC, event_id DESC",
        )
        .bind(repo.id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let c: String = r.try_get("commit_id")?;
                Ok(Release {
                    commit: CommitId::parse(&c).map_err(|e| StoreError::Corrupt(e.to_string()))?,
                    bundle: r.try_get("bundle")?,
                    event_id: r.try_get("event_id")?,
                    created_at: r.try_get("created_at")?,
                    tier: tier_of(r)?,
                })
            })
            .collect()
    }

    /// Registers (or replaces) a namespace's model-signing public key (PEM).
    pub async fn set_publisher_key_logged(
        &self,
        namespace: &str,
        public_pem: &str,
        event: &weir_core::Event,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO publisher_keys (namespace, public_pem, created_at) VALUES ($1, $2, $3)
             ON CONFLICT (namespace) DO UPDATE SET public_pem = excluded.public_pem, created_at = excluded.created_at",
        )
        .bind(namespace)
        .bind(public_pem)
        .bind(now())
        .execute(&mut *tx)
        .await?;
        crate::events::record_event_in(&mut tx, event).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn publisher_key(&self, namespace: &str) -> Result<Option<String>> {
        let r = sqlx::query("SELECT public_pem FROM publisher_keys WHERE namespace = $1")
            .bind(namespace)
            .fetch_optional(&self.pool)
            .await?;
        Ok(r.map(|r| r.try_get("public_pem")).transpose()?)
    }

    /// Attaches the publisher's own bundle to a release, with its event, in one transaction.
    pub async fn set_publisher_bundle(
        &self,
        repo: &Repo,
        commit: &CommitId,
        bundle: &str,
        event: &Event,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let res = sqlx::query(
            "UPDATE releases SET publisher_bundle = $1 WHERE repo_id = $2 AND commit_id = $3",
        )
        .bind(bundle)
        .bind(repo.id)
        .bind(commit.as_str())
        .execute(&mut *tx)
        .await?;
        if res.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!(
                "release of {} at {commit}",
                repo.repo_id
            )));
        }
        crate::events::record_event_in(&mut tx, event).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn publisher_bundle(&self, repo: &Repo, commit: &CommitId) -> Result<Option<String>> {
        let r = sqlx::query(
            "SELECT publisher_bundle FROM releases WHERE repo_id = $1 AND commit_id = $2",
        )
        .bind(repo.id)
        .bind(commit.as_str())
        .fetch_optional(&self.pool)
        .await?;
        Ok(r.and_then(|r| {
            r.try_get::<Option<String>, _>("publisher_bundle")
                .transpose()
        })
        .transpose()?)
    }

    /// A sequenced log entry by index.
    pub async fn log_entry(&self, index: u64) -> Result<Option<Vec<u8>>> {
        Ok(self.log_entries(index, 1).await?.into_iter().next())
    }
}

fn tier_of(r: &sqlx::any::AnyRow) -> Result<Option<weir_core::Tier>> {
    let t: Option<String> = r.try_get("tier")?;
    Ok(t.as_deref().and_then(weir_core::Tier::parse))
}
