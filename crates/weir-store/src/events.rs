//! The audit event log: one row per governance event (`weir_core::Event`), append-only.

use sqlx::Row;
use weir_core::Event;

use crate::{Db, Result, StoreError};

impl Db {
    pub async fn record_event(&self, e: &Event) -> Result<i64> {
        let row = sqlx::query(
            "INSERT INTO events (at, actor, action, repo, subject, decision, reason, request_id, user_agent, details)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
        )
        .bind(e.at)
        .bind(e.actor.as_deref())
        .bind(&e.action)
        .bind(e.repo.as_deref())
        .bind(e.subject.as_deref())
        .bind(&e.decision)
        .bind(&e.reason)
        .bind(e.request_id.as_deref())
        .bind(e.user_agent.as_deref())
        .bind(e.details.to_string())
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get("id")?)
    }

    /// Events about one repo (or all when `None`), newest first.
    pub async fn events(&self, repo: Option<&str>, limit: i64) -> Result<Vec<(i64, Event)>> {
        let rows = sqlx::query(
            "SELECT id, at, actor, action, repo, subject, decision, reason, request_id, user_agent, details
             FROM events WHERE ($1 = '' OR repo = $1) ORDER BY id DESC LIMIT $2",
        )
        .bind(repo.unwrap_or(""))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let details: String = r.try_get("details")?;
                Ok((
                    r.try_get("id")?,
                    Event {
                        at: r.try_get("at")?,
                        actor: r.try_get("actor")?,
                        action: r.try_get("action")?,
                        repo: r.try_get("repo")?,
                        subject: r.try_get("subject")?,
                        decision: r.try_get("decision")?,
                        reason: r.try_get("reason")?,
                        request_id: r.try_get("request_id")?,
                        user_agent: r.try_get("user_agent")?,
                        details: serde_json::from_str(&details)
                            .map_err(|e| StoreError::Corrupt(e.to_string()))?,
                    },
                ))
            })
            .collect()
    }
}
