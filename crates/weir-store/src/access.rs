//! Access to gated repos: terms acceptances (T1), access requests (T2), tier and gating changes.
//! One current request row per (repo, user); its history is in the event log.

use std::collections::BTreeMap;

use sqlx::Row;
use sqlx::any::AnyRow;
use weir_core::{RepoId, RequestState, Tier};

use crate::repos::{Gating, Repo};
use crate::{Db, Result, StoreError, now};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessRequest {
    pub account: String,
    pub state: RequestState,
    pub purpose: String,
    pub fields: BTreeMap<String, String>,
    pub requested_at: i64,
    pub due_at: i64,
    pub decided_by: Option<String>,
    pub decided_at: Option<i64>,
    pub reason: Option<String>,
    pub expires_at: Option<i64>,
}

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

fn request_from_row(r: &AnyRow) -> Result<AccessRequest> {
    let state: String = r.try_get("state")?;
    let fields: String = r.try_get("fields")?;
    Ok(AccessRequest {
        account: r.try_get("account")?,
        state: RequestState::parse(&state).ok_or_else(|| corrupt(&state))?,
        purpose: r.try_get("purpose")?,
        fields: serde_json::from_str(&fields).map_err(corrupt)?,
        requested_at: r.try_get("requested_at")?,
        due_at: r.try_get("due_at")?,
        decided_by: r.try_get("decided_by")?,
        decided_at: r.try_get("decided_at")?,
        reason: r.try_get("reason")?,
        expires_at: r.try_get("expires_at")?,
    })
}

impl Db {
    pub async fn accept_terms(&self, repo: &Repo, user: &str) -> Result<()> {
        let mut tx = self.begin_write().await?;
        accept_terms_in(&mut tx, repo, user).await?;
        tx.commit().await?;
        Ok(())
    }

    /// [`Db::accept_terms`] and its governance event, in one transaction.
    pub async fn accept_terms_logged(
        &self,
        repo: &Repo,
        user: &str,
        event: &weir_core::Event,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        accept_terms_in(&mut tx, repo, user).await?;
        crate::events::record_event_in(&mut tx, event).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Withdraws an acceptance (the user's own choice, or an operator correcting a mistake).
    pub async fn withdraw_terms(&self, repo: &Repo, user: &str) -> Result<()> {
        let w = self.writing();
        sqlx::query("DELETE FROM terms_acceptances WHERE repo_id = $1 AND account = $2")
            .bind(repo.id)
            .bind(user)
            .execute(&self.pool)
            .await?;
        drop(w);
        Ok(())
    }

    pub async fn terms_accepted(&self, repo: &Repo, user: &str) -> Result<bool> {
        let key = (repo.id, user.to_string());
        self.memoized(
            &self.memo.terms,
            key,
            self.terms_accepted_uncached(repo, user),
        )
        .await
    }

    async fn terms_accepted_uncached(&self, repo: &Repo, user: &str) -> Result<bool> {
        let row =
            sqlx::query("SELECT 1 AS x FROM terms_acceptances WHERE repo_id = $1 AND account = $2")
                .bind(repo.id)
                .bind(user)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.is_some())
    }

    pub async fn access_request(&self, repo: &Repo, user: &str) -> Result<Option<AccessRequest>> {
        let key = (repo.id, user.to_string());
        self.memoized(
            &self.memo.requests,
            key,
            self.access_request_uncached(repo, user),
        )
        .await
    }

    async fn access_request_uncached(
        &self,
        repo: &Repo,
        user: &str,
    ) -> Result<Option<AccessRequest>> {
        let row = sqlx::query(
            "SELECT account, state, purpose, fields, requested_at, due_at, decided_by, decided_at, reason, expires_at
             FROM access_requests WHERE repo_id = $1 AND account = $2",
        )
        .bind(repo.id).bind(user).fetch_optional(&self.pool).await?;
        row.as_ref().map(request_from_row).transpose()
    }

    /// Writes the current request of `req.account` for the repo (insert or replace).
    pub async fn put_access_request(&self, repo: &Repo, req: &AccessRequest) -> Result<()> {
        let mut tx = self.begin_write().await?;
        put_access_request_in(&mut tx, repo, req).await?;
        tx.commit().await?;
        Ok(())
    }

    /// [`Db::put_access_request`] and its governance event, in one transaction.
    pub async fn put_access_request_logged(
        &self,
        repo: &Repo,
        req: &AccessRequest,
        event: &weir_core::Event,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        put_access_request_in(&mut tx, repo, req).await?;
        crate::events::record_event_in(&mut tx, event).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Requests for a repo, optionally only in one stored state, oldest first.
    pub async fn requests_for_repo(
        &self,
        repo: &Repo,
        state: Option<RequestState>,
    ) -> Result<Vec<AccessRequest>> {
        let rows = sqlx::query(
            "SELECT account, state, purpose, fields, requested_at, due_at, decided_by, decided_at, reason, expires_at
             FROM access_requests WHERE repo_id = $1 AND ($2 = '' OR state = $2) ORDER BY requested_at, account",
        )
            .bind(repo.id)
            .bind(state.map(RequestState::as_str).unwrap_or(""))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(request_from_row).collect()
    }

    /// Pending requests whose decision is due in `[from, to)`, with their repo's row id.
    pub async fn pending_due_between(
        &self,
        from: i64,
        to: i64,
        limit: i64,
    ) -> Result<Vec<(i64, AccessRequest)>> {
        let rows = sqlx::query(
            "SELECT repo_id, account, state, purpose, fields, requested_at, due_at, decided_by, decided_at, reason, expires_at
             FROM access_requests WHERE state = 'pending' AND due_at >= $1 AND due_at < $2
             ORDER BY due_at, repo_id, account LIMIT $3",
        )
        .bind(from)
        .bind(to)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get::<i64, _>("repo_id")?, request_from_row(r)?)))
            .collect()
    }

    /// Requests in `state` on the repos of `namespaces` (the reviewer's own), with their repo's
    /// row id, nearest deadline first.
    pub async fn requests_in_namespaces(
        &self,
        state: RequestState,
        namespaces: &[String],
        limit: i64,
    ) -> Result<Vec<(i64, AccessRequest)>> {
        if namespaces.is_empty() {
            return Ok(vec![]);
        }
        let marks: Vec<String> = (0..namespaces.len())
            .map(|i| format!("${}", i + 3))
            .collect();
        let sql = format!(
            "SELECT q.repo_id, q.account, q.state, q.purpose, q.fields, q.requested_at, q.due_at, q.decided_by, q.decided_at, q.reason, q.expires_at
             FROM access_requests q JOIN repos r ON r.id = q.repo_id
             WHERE q.state = $1 AND r.namespace IN ({})
             ORDER BY q.due_at, q.repo_id, q.account LIMIT $2",
            marks.join(", ")
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(state.as_str())
            .bind(limit);
        for n in namespaces {
            query = query.bind(n.as_str());
        }
        let rows = query.fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| Ok((r.try_get::<i64, _>("repo_id")?, request_from_row(r)?)))
            .collect()
    }

    /// Every request in `state` across all repos, with its repo's row id, oldest first (the
    /// review queue; the caller filters by who may review which repo).
    pub async fn requests_in_state(
        &self,
        state: RequestState,
        limit: i64,
    ) -> Result<Vec<(i64, AccessRequest)>> {
        let rows = sqlx::query(
            "SELECT repo_id, account, state, purpose, fields, requested_at, due_at, decided_by, decided_at, reason, expires_at
             FROM access_requests WHERE state = $1 ORDER BY due_at, repo_id, account LIMIT $2",
        )
        .bind(state.as_str())
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get::<i64, _>("repo_id")?, request_from_row(r)?)))
            .collect()
    }

    /// Every request a user made, with its repo.
    pub async fn requests_of_user(&self, user: &str) -> Result<Vec<(RepoId, AccessRequest)>> {
        let rows = sqlx::query(
            "SELECT r.namespace, r.name, q.account, q.state, q.purpose, q.fields, q.requested_at, q.due_at, q.decided_by, q.decided_at, q.reason, q.expires_at
             FROM access_requests q JOIN repos r ON r.id = q.repo_id WHERE q.account = $1 ORDER BY r.namespace, r.name",
        )
        .bind(user).fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                let ns: String = r.try_get("namespace")?;
                let name: String = r.try_get("name")?;
                Ok((
                    RepoId::new(&ns, &name).map_err(corrupt)?,
                    request_from_row(r)?,
                ))
            })
            .collect()
    }

    pub async fn set_tier(&self, repo: &Repo, tier: Tier) -> Result<()> {
        let mut tx = self.begin_write().await?;
        set_tier_in(&mut tx, repo, tier).await?;
        tx.commit().await?;
        Ok(())
    }

    /// [`Db::set_tier`] and its governance event, in one transaction; with `reset_declarations`
    /// (an operator's correction) the card's earlier declarations are forgotten in it too.
    pub async fn set_tier_logged(
        &self,
        repo: &Repo,
        tier: Tier,
        reset_declarations: bool,
        event: &weir_core::Event,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        // Decided against the tier the caller read: a raise (a classification, an incident)
        // committed meanwhile is never overwritten by a change decided before it.
        let res = sqlx::query(
            "UPDATE repos SET tier = $1, chosen_tier = $1, updated_at = $2 WHERE id = $3 AND tier = $4",
        )
        .bind(tier.as_str())
        .bind(now())
        .bind(repo.id)
        .bind(repo.tier.as_str())
        .execute(&mut *tx)
        .await?;
        if res.rows_affected() == 0 {
            return Err(StoreError::StateChanged {
                record: format!("the tier of {}", repo.repo_id),
                expected: repo.tier.as_str().to_string(),
            });
        }
        if reset_declarations {
            crate::evals::reset_declarations_in(&mut tx, repo).await?;
        }
        crate::events::record_event_in(&mut tx, event).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn set_gating(&self, repo: &Repo, g: &Gating) -> Result<()> {
        let mut tx = self.begin_write().await?;
        set_gating_in(&mut tx, repo, g).await?;
        tx.commit().await?;
        Ok(())
    }

    /// [`Db::set_gating`] and its governance event, in one transaction.
    pub async fn set_gating_logged(
        &self,
        repo: &Repo,
        g: &Gating,
        event: &weir_core::Event,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        set_gating_in(&mut tx, repo, g).await?;
        crate::events::record_event_in(&mut tx, event).await?;
        tx.commit().await?;
        Ok(())
    }
}

async fn accept_terms_in(tx: &mut sqlx::AnyConnection, repo: &Repo, user: &str) -> Result<()> {
    sqlx::query(
        "INSERT INTO terms_acceptances (repo_id, account, accepted_at) VALUES ($1, $2, $3)
         ON CONFLICT (repo_id, account) DO UPDATE SET accepted_at = excluded.accepted_at",
    )
    .bind(repo.id)
    .bind(user)
    .bind(now())
    .execute(&mut *tx)
    .await?;
    Ok(())
}

async fn put_access_request_in(
    tx: &mut sqlx::AnyConnection,
    repo: &Repo,
    req: &AccessRequest,
) -> Result<()> {
    let fields = serde_json::to_string(&req.fields).map_err(corrupt)?;
    sqlx::query(
        "INSERT INTO access_requests (repo_id, account, state, purpose, fields, requested_at, due_at, decided_by, decided_at, reason, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
         ON CONFLICT (repo_id, account) DO UPDATE SET state = excluded.state, purpose = excluded.purpose,
           fields = excluded.fields, requested_at = excluded.requested_at, due_at = excluded.due_at,
           decided_by = excluded.decided_by, decided_at = excluded.decided_at, reason = excluded.reason,
           expires_at = excluded.expires_at",
    )
    .bind(repo.id)
    .bind(&req.account)
    .bind(req.state.as_str())
    .bind(&req.purpose)
    .bind(fields)
    .bind(req.requested_at)
    .bind(req.due_at)
    .bind(req.decided_by.as_deref())
    .bind(req.decided_at)
    .bind(req.reason.as_deref())
    .bind(req.expires_at)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

async fn set_tier_in(tx: &mut sqlx::AnyConnection, repo: &Repo, tier: Tier) -> Result<()> {
    // Setting a tier is a choice; the effective tier follows it (the caller checked it is not
    // below the policy's minimum).
    sqlx::query("UPDATE repos SET tier = $1, chosen_tier = $1, updated_at = $2 WHERE id = $3")
        .bind(tier.as_str())
        .bind(now())
        .bind(repo.id)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

async fn set_gating_in(tx: &mut sqlx::AnyConnection, repo: &Repo, g: &Gating) -> Result<()> {
    sqlx::query(
        "UPDATE repos SET min_level = $1, auto_approve_level = $2, blocked_countries = $3,
           required_fields = $4, terms = $5, updated_at = $6, research_level = $8 WHERE id = $7",
    )
    .bind(g.min_level.as_str())
    .bind(g.auto_approve_level.map(|l| l.as_str()))
    .bind(g.blocked_countries.join(","))
    .bind(serde_json::to_string(&g.required_fields).map_err(corrupt)?)
    .bind(&g.terms)
    .bind(now())
    .bind(repo.id)
    .bind(g.research_level.as_str())
    .execute(&mut *tx)
    .await?;
    Ok(())
}
