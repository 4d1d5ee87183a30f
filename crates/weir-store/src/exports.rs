//! Custodial exports of restricted (T3) weights under dual control: a request by an accredited
//! organization's member, two distinct approvals, then one single-use, expiring download link
//! (only its SHA-256 is stored; consuming it is one atomic UPDATE).

use sqlx::Row;
use sqlx::any::AnyRow;
use weir_core::{CommitId, RepoId};

use weir_core::Event;

use crate::events::record_event_in;
use crate::{Db, Result, StoreError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Export {
    pub id: i64,
    pub repo: RepoId,
    pub commit: CommitId,
    pub requester: String,
    pub org: String,
    pub purpose: String,
    /// `pending`, `approved` or `downloaded`.
    pub state: String,
    pub created_at: i64,
    pub approvals: Vec<String>,
    pub link_issued: bool,
    pub link_expires_at: Option<i64>,
    pub downloaded_at: Option<i64>,
}

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

/// Approvals needed before a link can be issued.
pub const APPROVALS_NEEDED: usize = 2;

impl Db {
    /// Creates a pending export and its event (given the new export's id) in one transaction.
    #[allow(clippy::too_many_arguments)]
    pub async fn create_export_logged(
        &self,
        repo_id: i64,
        commit: &CommitId,
        requester: &str,
        org: &str,
        purpose: &str,
        at: i64,
        event: impl FnOnce(i64) -> Event,
    ) -> Result<Export> {
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(
            "INSERT INTO exports (repo_id, commit_id, requester, org, purpose, state, created_at)
             VALUES ($1, $2, $3, $4, $5, 'pending', $6) RETURNING id",
        )
        .bind(repo_id)
        .bind(commit.as_str())
        .bind(requester)
        .bind(org)
        .bind(purpose)
        .bind(at)
        .fetch_one(&mut *tx)
        .await?;
        let id: i64 = row.try_get("id")?;
        record_event_in(&mut tx, &event(id)).await?;
        tx.commit().await?;
        self.export(id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("export {id}")))
    }

    async fn export_from_row(&self, r: &AnyRow) -> Result<Export> {
        let id: i64 = r.try_get("id")?;
        let approvals = sqlx::query("SELECT reviewer FROM export_approvals WHERE export_id = $1 ORDER BY approved_at, reviewer")
            .bind(id)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|a| a.try_get::<String, _>("reviewer"))
            .collect::<Result<Vec<_>, _>>()?;
        let ns: String = r.try_get("namespace")?;
        let name: String = r.try_get("name")?;
        let link: Option<String> = r.try_get("link_hash")?;
        Ok(Export {
            id,
            repo: RepoId::new(&ns, &name).map_err(corrupt)?,
            commit: CommitId::parse(&r.try_get::<String, _>("commit_id")?).map_err(corrupt)?,
            requester: r.try_get("requester")?,
            org: r.try_get("org")?,
            purpose: r.try_get("purpose")?,
            state: r.try_get("state")?,
            created_at: r.try_get("created_at")?,
            approvals,
            link_issued: link.is_some(),
            link_expires_at: r.try_get("link_expires_at")?,
            downloaded_at: r.try_get("downloaded_at")?,
        })
    }

    /// The ids of exports awaiting approvals, oldest first (the operators' queue).
    pub async fn pending_exports(&self, limit: i64) -> Result<Vec<i64>> {
        let rows =
            sqlx::query("SELECT id FROM exports WHERE state = 'pending' ORDER BY id LIMIT $1")
                .bind(limit)
                .fetch_all(&self.pool)
                .await?;
        rows.iter().map(|r| Ok(r.try_get("id")?)).collect()
    }

    /// The ids of `requester`'s exports, newest first (their account page).
    pub async fn exports_of(&self, requester: &str, limit: i64) -> Result<Vec<i64>> {
        let rows =
            sqlx::query("SELECT id FROM exports WHERE requester = $1 ORDER BY id DESC LIMIT $2")
                .bind(requester)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?;
        rows.iter().map(|r| Ok(r.try_get("id")?)).collect()
    }

    pub async fn export(&self, id: i64) -> Result<Option<Export>> {
        let row = sqlx::query(
            "SELECT e.id, r.namespace, r.name, e.commit_id, e.requester, e.org, e.purpose, e.state, e.created_at,
                    e.link_hash, e.link_expires_at, e.downloaded_at
             FROM exports e JOIN repos r ON r.id = e.repo_id WHERE e.id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(r) => Ok(Some(self.export_from_row(&r).await?)),
            None => Ok(None),
        }
    }

    /// Records one reviewer's approval (once per reviewer) and, at the second distinct one,
    /// moves the export to `approved`, with its event (given the state after and the number of
    /// approvals) in the same transaction. Returns the export after the change.
    pub async fn approve_export_logged(
        &self,
        id: i64,
        reviewer: &str,
        at: i64,
        event: impl FnOnce(&str, usize) -> Event,
    ) -> Result<Export> {
        let mut tx = self.begin_write().await?;
        // Decided against the state inside the transaction: an export approved, spent or gone
        // meanwhile takes no late approval.
        let state: Option<String> = sqlx::query("SELECT state FROM exports WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .map(|r| r.try_get("state"))
            .transpose()?;
        match state.as_deref() {
            Some("pending") => {}
            Some(other) => {
                return Err(StoreError::StateChanged {
                    record: format!("export {id}"),
                    expected: format!("pending, found {other}"),
                });
            }
            None => return Err(StoreError::NotFound(format!("export {id}"))),
        }
        let res = sqlx::query(
            "INSERT INTO export_approvals (export_id, reviewer, approved_at) VALUES ($1, $2, $3)
             ON CONFLICT (export_id, reviewer) DO NOTHING",
        )
        .bind(id)
        .bind(reviewer)
        .bind(at)
        .execute(&mut *tx)
        .await?;
        if res.rows_affected() == 0 {
            return Err(StoreError::Exists(format!(
                "approval of export {id} by {reviewer}"
            )));
        }
        let n: i64 = sqlx::query("SELECT COUNT(*) AS n FROM export_approvals WHERE export_id = $1")
            .bind(id)
            .fetch_one(&mut *tx)
            .await?
            .try_get("n")?;
        if n as usize >= APPROVALS_NEEDED {
            sqlx::query(
                "UPDATE exports SET state = 'approved' WHERE id = $1 AND state = 'pending'",
            )
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
        let state: String = sqlx::query("SELECT state FROM exports WHERE id = $1")
            .bind(id)
            .fetch_one(&mut *tx)
            .await?
            .try_get("state")?;
        record_event_in(&mut tx, &event(&state, n as usize)).await?;
        tx.commit().await?;
        self.export(id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("export {id}")))
    }

    /// Stores the hash of the one download link, with its event. Only once, only for approved
    /// exports.
    pub async fn set_export_link_logged(
        &self,
        id: i64,
        link_hash: &str,
        expires_at: i64,
        event: &Event,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let res = sqlx::query(
            "UPDATE exports SET link_hash = $1, link_expires_at = $2 WHERE id = $3 AND state = 'approved' AND link_hash IS NULL",
        )
        .bind(link_hash)
        .bind(expires_at)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if res.rows_affected() == 0 {
            return Err(StoreError::Exists(format!(
                "a download link for export {id}"
            )));
        }
        record_event_in(&mut tx, event).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Spends a link under the write lock: the export it opens is read, `decide` runs while no
    /// other change can commit (SQLite has one writer, and this transaction holds it, so what
    /// `decide` reads is the state the spending commits against: a hold, a tier raise or a
    /// demotion that commits first is seen, none can commit in between), and the spending and
    /// the decision's event commit together. A link that is unknown, spent or expired is refused
    /// before `decide` runs, and records nothing.
    pub async fn spend_export_link<D, E: From<StoreError>>(
        &self,
        link_hash: &str,
        at: i64,
        decide: impl AsyncFnOnce(&Export) -> std::result::Result<(Event, D), E>,
    ) -> std::result::Result<std::result::Result<(Export, D), LinkRefusal>, E> {
        let mut tx = self.begin_write().await?;
        let row =
            sqlx::query("SELECT id, state, link_expires_at FROM exports WHERE link_hash = $1")
                .bind(link_hash)
                .fetch_optional(&mut *tx)
                .await
                .map_err(StoreError::from)?;
        let Some(row) = row else {
            return Ok(Err(LinkRefusal::Unknown));
        };
        let id: i64 = row.try_get("id").map_err(StoreError::from)?;
        let state: String = row.try_get("state").map_err(StoreError::from)?;
        let expires: Option<i64> = row.try_get("link_expires_at").map_err(StoreError::from)?;
        if state == "downloaded" {
            return Ok(Err(LinkRefusal::Used));
        }
        if state != "approved" || expires.is_none_or(|e| e <= at) {
            return Ok(Err(LinkRefusal::Expired));
        }
        let mut export = self
            .export(id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("export {id}")))?;
        let (event, decided) = decide(&export).await?;
        sqlx::query("UPDATE exports SET state = 'downloaded', downloaded_at = $1 WHERE id = $2")
            .bind(at)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::from)?;
        record_event_in(&mut tx, &event).await?;
        tx.commit().await?;
        export.state = "downloaded".into();
        export.downloaded_at = Some(at);
        Ok(Ok((export, decided)))
    }
}

/// Why an export link does not work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkRefusal {
    Unknown,
    Used,
    Expired,
}
