//! The audit event log: one row per governance event (`weir_core::Event`), append-only.

use sqlx::Row;
use weir_core::Event;

use crate::{Db, Result, StoreError};

impl Db {
    /// Records an event and queues its log entry, in one transaction: every event reaches the
    /// transparency log, and the log never holds an event the database lacks.
    pub async fn record_event(&self, e: &Event) -> Result<i64> {
        let mut tx = self.begin_write().await?;
        let id = record_event_in(&mut tx, e).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// The opening of an event's log entry: its salt and its `public` facts. Callers give it
    /// only to those who may see the event's repo.
    pub async fn event_opening(&self, id: i64) -> Result<Option<weir_core::event::Opening>> {
        let row = sqlx::query("SELECT salt, details, reason FROM events WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            let salt: Vec<u8> = r.try_get("salt")?;
            let details: String = r.try_get("details")?;
            let details: serde_json::Value = serde_json::from_str(&details)
                .map_err(|e| StoreError::Corrupt(format!("event {id} details: {e}")))?;
            Ok(weir_core::event::Opening {
                salt: hex::encode(weir_core::event::seal_salt(&salt)),
                public: details
                    .get("public")
                    .filter(|p| !p.is_null())
                    .cloned()
                    .unwrap_or_default(),
                reason: r.try_get("reason")?,
            })
        })
        .transpose()
    }

    /// Events about one repo (or all when `None`), newest first.
    pub async fn events(&self, repo: Option<&str>, limit: i64) -> Result<Vec<(i64, Event)>> {
        self.query_events(
            &EventFilter {
                repo: repo.map(str::to_string),
                ..EventFilter::default()
            },
            limit,
        )
        .await
    }

    /// Events matching `f`, newest first, at most `limit`. Only the filters given are in the
    /// query, so each can use its index.
    pub async fn query_events(&self, f: &EventFilter, limit: i64) -> Result<Vec<(i64, Event)>> {
        let mut sql = String::from(
            "SELECT id, at, actor, action, repo, subject, decision, reason, request_id, user_agent, details
             FROM events WHERE 1 = 1",
        );
        let mut texts: Vec<&str> = Vec::new();
        let mut numbers: Vec<i64> = Vec::new();
        for (col, v) in [
            ("repo", &f.repo),
            ("actor", &f.actor),
            ("action", &f.action),
        ] {
            if let Some(v) = v {
                texts.push(v);
                sql.push_str(&format!(" AND {col} = ${}", texts.len()));
            }
        }
        for (cond, v) in [
            ("at >=", f.since),
            ("at <=", f.until),
            ("id <", f.before_id),
        ] {
            if let Some(v) = v {
                numbers.push(v);
                sql.push_str(&format!(" AND {cond} ${}", texts.len() + numbers.len()));
            }
        }
        sql.push_str(&format!(
            " ORDER BY id DESC LIMIT ${}",
            texts.len() + numbers.len() + 1
        ));
        // Only fixed column names and numbered placeholders go into the text; values are bound.
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for t in texts {
            q = q.bind(t);
        }
        for n in numbers {
            q = q.bind(n);
        }
        let rows = q.bind(limit).fetch_all(&self.pool).await?;
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

/// Which events to read: each `Some` narrows (times inclusive, unix seconds); `before_id` pages
/// back from an event id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    pub repo: Option<String>,
    pub actor: Option<String>,
    pub action: Option<String>,
    pub since: Option<i64>,
    pub until: Option<i64>,
    pub before_id: Option<i64>,
}

/// Records an event and queues its log entry inside the caller's transaction, so a change and
/// its event commit together.
pub(crate) async fn record_event_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    e: &Event,
) -> Result<i64> {
    let mut salt = [0u8; 16];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut salt);
    let row = sqlx::query(
        "INSERT INTO events (at, actor, action, repo, subject, decision, reason, request_id, user_agent, details, salt)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
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
    .bind(salt.to_vec())
    .fetch_one(&mut **tx)
    .await?;
    let id: i64 = row.try_get("id")?;
    let sealed = is_hidden(tx, e).await?;
    sqlx::query("INSERT INTO log_pending (event_id, data) VALUES ($1, $2)")
        .bind(id)
        .bind(e.log_entry(&salt, sealed))
        .execute(&mut **tx)
        .await?;
    Ok(id)
}

/// Whether an event concerns a repo that is private now, or that does not exist (fail closed:
/// a name that is not a public repo never reaches the log in clear). Decided inside the event's
/// transaction, so a repo made private in the same transaction is already sealed.
async fn is_hidden(tx: &mut sqlx::Transaction<'_, sqlx::Any>, e: &Event) -> Result<bool> {
    for name in e.repos() {
        let Some((ns, n)) = name.split_once('/') else {
            return Ok(true);
        };
        let row = sqlx::query("SELECT private FROM repos WHERE namespace = $1 AND name = $2")
            .bind(ns)
            .bind(n)
            .fetch_optional(&mut **tx)
            .await?;
        match row {
            Some(r) if r.try_get::<i64, _>("private")? == 0 => {}
            _ => return Ok(true),
        }
    }
    Ok(false)
}
