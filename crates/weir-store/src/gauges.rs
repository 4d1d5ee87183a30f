//! What `/metrics` and `/readyz` read from the database at the moment they are asked: the log's
//! size and how far integration lags, the queues' depths, jobs by state. Counts only: nothing
//! here names an account or a repo.

use sqlx::Row;

use crate::{Db, Result};

/// The registry's gauges at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Gauges {
    /// Entries in the signed tree.
    pub log_size: i64,
    /// Events waiting to be integrated.
    pub log_pending: i64,
    /// Seconds the oldest waiting event has waited (0 with none waiting).
    pub log_lag_secs: i64,
    pub requests_pending: i64,
    /// Mails claimed and not sent yet (failing, or being sent).
    pub mail_pending: i64,
    /// Research jobs by state (`queued`, `running`, `succeeded`, `failed`, `cancelled`).
    pub jobs_by_state: Vec<(String, i64)>,
}

/// A research job's states.
pub const JOB_STATES: &[&str] = &["queued", "running", "succeeded", "failed", "cancelled"];

impl Db {
    /// What `/readyz` asks: the database answers, and how long the oldest event waiting for
    /// the sequencer has waited (0 with none). Two indexed reads, whoever asks.
    pub async fn readiness(&self, now: i64) -> Result<i64> {
        let oldest = sqlx::query(
            "SELECT e.at AS at FROM log_pending p JOIN events e ON e.id = p.event_id
             ORDER BY p.id LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await?;
        Ok(match oldest {
            Some(r) => (now - r.try_get::<i64, _>("at")?).max(0),
            None => 0,
        })
    }

    pub async fn gauges(&self, now: i64) -> Result<Gauges> {
        let one = |sql: &'static str| async move {
            let r = sqlx::query(sql).fetch_one(&self.pool).await?;
            Ok::<i64, crate::StoreError>(r.try_get::<Option<i64>, _>("n")?.unwrap_or(0))
        };
        let log_size = one("SELECT MAX(size) AS n FROM log_state").await?;
        let log_pending = one("SELECT COUNT(*) AS n FROM log_pending").await?;
        let oldest =
            one("SELECT MIN(e.at) AS n FROM log_pending p JOIN events e ON e.id = p.event_id")
                .await?;
        let requests_pending =
            one("SELECT COUNT(*) AS n FROM access_requests WHERE state = 'pending'").await?;
        let mail_pending =
            one("SELECT COUNT(*) AS n FROM mail_outbox WHERE sent_at IS NULL").await?;
        let rows = sqlx::query(
            "SELECT state, COUNT(*) AS n FROM research_jobs GROUP BY state ORDER BY state",
        )
        .fetch_all(&self.pool)
        .await?;
        // Every state, a missing one as 0 (so a gauge that fell to nothing says so).
        let mut jobs_by_state: Vec<(String, i64)> =
            JOB_STATES.iter().map(|s| (s.to_string(), 0)).collect();
        for r in &rows {
            let state: String = r.try_get("state")?;
            let n: i64 = r.try_get("n")?;
            if let Some(slot) = jobs_by_state.iter_mut().find(|(s, _)| *s == state) {
                slot.1 = n;
            }
        }
        Ok(Gauges {
            log_size,
            log_pending,
            log_lag_secs: if log_pending > 0 && oldest > 0 {
                (now - oldest).max(0)
            } else {
                0
            },
            requests_pending,
            mail_pending,
            jobs_by_state,
        })
    }
}
