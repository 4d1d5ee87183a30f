//! Research-environment jobs (issue 13, point 2): a persistent, bounded queue (rows in
//! `research_jobs`; a restart finds them there), the job's inputs, its held outputs and the
//! output checkers' votes. Every change commits with its events; every state change is guarded
//! by the state it was read in.

use sqlx::Row;
use sqlx::any::AnyRow;
use weir_core::research::JobKind;
use weir_core::{CommitId, Event, RepoId};

use crate::dialect::Lease;
use crate::events::record_event_in;
use crate::{Db, Result, StoreError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    Queued,
    Running,
    Succeeded,
    Failed,
    Cancelled,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Succeeded => "succeeded",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<JobState> {
        Some(match s {
            "queued" => JobState::Queued,
            "running" => JobState::Running,
            "succeeded" => JobState::Succeeded,
            "failed" => JobState::Failed,
            "cancelled" => JobState::Cancelled,
            _ => return None,
        })
    }

    pub fn finished(self) -> bool {
        matches!(
            self,
            JobState::Succeeded | JobState::Failed | JobState::Cancelled
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub id: i64,
    pub project_id: i64,
    /// `namespace/name` of the project.
    pub project: String,
    pub repo_id: i64,
    pub repo: RepoId,
    pub commit: CommitId,
    pub kind: JobKind,
    /// The kind's parameters, as JSON text.
    pub params: String,
    pub submitted_by: String,
    pub submitted_at: i64,
    pub state: JobState,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub ending: Option<String>,
    pub cpu_ms: Option<i64>,
    pub wall_ms: Option<i64>,
    pub peak_memory: Option<i64>,
    pub charged_ms: i64,
    pub outputs_state: String,
    /// The version of the output rules its outputs were checked under, if it has any.
    pub output_rules: Option<String>,
}

/// A job to queue.
#[derive(Debug, Clone)]
pub struct NewJob<'a> {
    pub project_id: i64,
    pub repo_id: i64,
    pub commit: &'a CommitId,
    pub kind: JobKind,
    pub params: &'a str,
    pub submitted_by: &'a str,
    pub at: i64,
    pub inputs: &'a [(String, Vec<u8>)],
}

/// The queue's bounds, checked inside the queuing transaction.
#[derive(Debug, Clone, Copy)]
pub struct QueueBounds {
    pub per_project: i64,
    pub total: i64,
}

/// How a run ended, as recorded.
#[derive(Debug, Clone)]
pub struct Finish<'a> {
    pub state: JobState,
    pub ending: &'a str,
    pub at: i64,
    pub cpu_ms: Option<i64>,
    pub wall_ms: Option<i64>,
    pub peak_memory: Option<i64>,
    pub charged_ms: i64,
    pub outputs_state: &'a str,
    pub output_rules: Option<&'a str>,
}

/// A held output file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    pub path: String,
    pub size: i64,
    pub sha256: String,
    /// The automatic rules' findings, as JSON text (`[]`: none).
    pub findings: String,
}

/// One checker's vote on one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vote {
    pub path: String,
    pub reviewer: String,
    pub vote: String,
    pub reason: String,
    pub at: i64,
}

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

const JOB_COLUMNS: &str =
    "SELECT j.id, j.project_id, p.namespace AS p_ns, p.name AS p_name, j.repo_id,
        r.namespace AS r_ns, r.name AS r_name, j.commit_id, j.kind, j.params, j.submitted_by,
        j.submitted_at, j.state, j.started_at, j.finished_at, j.ending, j.cpu_ms, j.wall_ms,
        j.peak_memory, j.charged_ms, j.outputs_state, j.output_rules
     FROM research_jobs j
     JOIN research_projects p ON p.id = j.project_id
     JOIN repos r ON r.id = j.repo_id";

fn job_from_row(r: &AnyRow) -> Result<Job> {
    let kind: String = r.try_get("kind")?;
    let state: String = r.try_get("state")?;
    let p_ns: String = r.try_get("p_ns")?;
    let p_name: String = r.try_get("p_name")?;
    let r_ns: String = r.try_get("r_ns")?;
    let r_name: String = r.try_get("r_name")?;
    Ok(Job {
        id: r.try_get("id")?,
        project_id: r.try_get("project_id")?,
        project: format!("{p_ns}/{p_name}"),
        repo_id: r.try_get("repo_id")?,
        repo: RepoId::new(&r_ns, &r_name).map_err(corrupt)?,
        commit: CommitId::parse(&r.try_get::<String, _>("commit_id")?).map_err(corrupt)?,
        kind: JobKind::parse(&kind).ok_or_else(|| corrupt(format!("job kind {kind}")))?,
        params: r.try_get("params")?,
        submitted_by: r.try_get("submitted_by")?,
        submitted_at: r.try_get("submitted_at")?,
        state: JobState::parse(&state).ok_or_else(|| corrupt(format!("job state {state}")))?,
        started_at: r.try_get("started_at")?,
        finished_at: r.try_get("finished_at")?,
        ending: r.try_get("ending")?,
        cpu_ms: r.try_get("cpu_ms")?,
        wall_ms: r.try_get("wall_ms")?,
        peak_memory: r.try_get("peak_memory")?,
        charged_ms: r.try_get("charged_ms")?,
        outputs_state: r.try_get("outputs_state")?,
        output_rules: r.try_get("output_rules")?,
    })
}

fn vote_from_row(r: &AnyRow) -> Result<Vote> {
    Ok(Vote {
        path: r.try_get("path")?,
        reviewer: r.try_get("reviewer")?,
        vote: r.try_get("vote")?,
        reason: r.try_get("reason")?,
        at: r.try_get("at")?,
    })
}

/// Job `id` is in one of `from` inside `tx`, else [`StoreError::StateChanged`].
async fn expect_state(tx: &mut sqlx::AnyConnection, id: i64, from: &[JobState]) -> Result<()> {
    let row = sqlx::query("SELECT state FROM research_jobs WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("job {id}")))?;
    let state: String = row.try_get("state")?;
    if from.iter().any(|s| s.as_str() == state) {
        Ok(())
    } else {
        Err(changed(id, from.first().map(|s| s.as_str()).unwrap_or("")))
    }
}

fn changed(id: i64, expected: &str) -> StoreError {
    StoreError::StateChanged {
        record: format!("job {id}"),
        expected: expected.to_string(),
    }
}

impl Db {
    /// Queues a job with its inputs and its event (given the new job's id), unless the queue is
    /// full: [`StoreError::LimitReached`].
    pub async fn submit_job_logged(
        &self,
        j: &NewJob<'_>,
        bounds: QueueBounds,
        event: impl FnOnce(i64) -> Event,
    ) -> Result<Job> {
        let mut tx = self.begin_write().await?;
        let counts = sqlx::query(
            "SELECT COUNT(*) AS total, CAST(COALESCE(SUM(CASE WHEN project_id = $1 THEN 1 ELSE 0 END), 0) AS BIGINT) AS mine
             FROM research_jobs WHERE state IN ('queued', 'running')",
        )
        .bind(j.project_id)
        .fetch_one(&mut *tx)
        .await?;
        let total: i64 = counts.try_get("total")?;
        let mine: i64 = counts.try_get("mine")?;
        if mine >= bounds.per_project {
            return Err(StoreError::LimitReached(format!(
                "the project has {mine} jobs queued or running; at most {}",
                bounds.per_project
            )));
        }
        if total >= bounds.total {
            return Err(StoreError::LimitReached(format!(
                "the registry's job queue is full ({total} jobs); try again later"
            )));
        }
        let row = sqlx::query(
            "INSERT INTO research_jobs (project_id, repo_id, commit_id, kind, params, submitted_by,
                 submitted_at, state)
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'queued') RETURNING id",
        )
        .bind(j.project_id)
        .bind(j.repo_id)
        .bind(j.commit.as_str())
        .bind(j.kind.as_str())
        .bind(j.params)
        .bind(j.submitted_by)
        .bind(j.at)
        .fetch_one(&mut *tx)
        .await?;
        let id: i64 = row.try_get("id")?;
        for (path, bytes) in j.inputs {
            sqlx::query(
                "INSERT INTO research_job_inputs (job_id, path, bytes) VALUES ($1, $2, $3)",
            )
            .bind(id)
            .bind(path.as_str())
            .bind(bytes.as_slice())
            .execute(&mut *tx)
            .await?;
        }
        record_event_in(&mut tx, &event(id)).await?;
        tx.commit().await?;
        self.job(id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("job {id}")))
    }

    pub async fn job(&self, id: i64) -> Result<Option<Job>> {
        let sql = format!("{JOB_COLUMNS} WHERE j.id = $1");
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(job_from_row)
            .transpose()
    }

    /// Jobs newest first, of one project or of all; at most `limit`, below `before` if given.
    pub async fn list_jobs(
        &self,
        project_id: Option<i64>,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<Job>> {
        let sql = format!(
            "{JOB_COLUMNS} WHERE ($1 IS NULL OR j.project_id = $1) AND ($2 IS NULL OR j.id < $2)
             ORDER BY j.id DESC LIMIT $3"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(project_id)
            .bind(before)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(job_from_row)
            .collect()
    }

    /// The jobs metered against award `award_id`, oldest first (its usage statement).
    pub async fn jobs_of_award(&self, award_id: i64) -> Result<Vec<Job>> {
        let sql = format!("{JOB_COLUMNS} WHERE j.award_id = $1 ORDER BY j.id LIMIT 10000");
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(award_id)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(job_from_row)
            .collect()
    }

    /// Jobs whose outputs await review, oldest first (the output checkers' queue).
    pub async fn jobs_in_review(&self, limit: i64) -> Result<Vec<Job>> {
        let sql = format!(
            "{JOB_COLUMNS} WHERE j.outputs_state = 'awaiting_review' ORDER BY j.id LIMIT $1"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(limit)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(job_from_row)
            .collect()
    }

    pub async fn job_inputs(&self, id: i64) -> Result<Vec<(String, Vec<u8>)>> {
        sqlx::query("SELECT path, bytes FROM research_job_inputs WHERE job_id = $1 ORDER BY path")
            .bind(id)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| Ok((r.try_get("path")?, r.try_get("bytes")?)))
            .collect()
    }

    /// The oldest queued job of a project with no job running, now running (started at `at`);
    /// `None` when there is none. One job per project at a time: its wall clock is cut to the
    /// project's remaining quota, which a second job at once would spend again, and no project
    /// holds every slot.
    pub async fn claim_next_job(&self, at: i64) -> Result<Option<Job>> {
        let mut tx = self.begin_write().await?;
        let Some(id) = next_claimable(&mut tx).await? else {
            return Ok(None);
        };
        mark_running(&mut tx, id, at).await?;
        tx.commit().await?;
        self.job(id).await
    }

    /// Ends job `id`, which must be in one of `from`, with its outputs and events, in one
    /// transaction. A job found in another state (cancelled meanwhile) is
    /// [`StoreError::StateChanged`] and nothing is written.
    pub async fn finish_job_logged(
        &self,
        id: i64,
        from: &[JobState],
        f: &Finish<'_>,
        outputs: &[(Output, Vec<u8>)],
        events: &[Event],
    ) -> Result<Job> {
        let mut tx = self.begin_write().await?;
        expect_state(&mut tx, id, from).await?;
        sqlx::query(
            "UPDATE research_jobs SET state = $1, ending = $2, finished_at = $3, cpu_ms = $4,
                 wall_ms = $5, peak_memory = $6, charged_ms = $7, outputs_state = $8,
                 output_rules = $9
             WHERE id = $10",
        )
        .bind(f.state.as_str())
        .bind(f.ending)
        .bind(f.at)
        .bind(f.cpu_ms)
        .bind(f.wall_ms)
        .bind(f.peak_memory)
        .bind(f.charged_ms)
        .bind(f.outputs_state)
        .bind(f.output_rules)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        for (o, bytes) in outputs {
            sqlx::query(
                "INSERT INTO research_job_outputs (job_id, path, size, sha256, findings, bytes)
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(id)
            .bind(o.path.as_str())
            .bind(o.size)
            .bind(o.sha256.as_str())
            .bind(o.findings.as_str())
            .bind(bytes.as_slice())
            .execute(&mut *tx)
            .await?;
        }
        for e in events {
            record_event_in(&mut tx, e).await?;
        }
        tx.commit().await?;
        self.job(id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("job {id}")))
    }

    /// Records what a job cancelled while running used (its charge) with its event.
    pub async fn charge_cancelled_logged(
        &self,
        id: i64,
        cpu_ms: Option<i64>,
        wall_ms: Option<i64>,
        peak_memory: Option<i64>,
        charged_ms: i64,
        event: &Event,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "UPDATE research_jobs SET cpu_ms = $1, wall_ms = $2, peak_memory = $3, charged_ms = $4
             WHERE id = $5 AND state = 'cancelled'",
        )
        .bind(cpu_ms)
        .bind(wall_ms)
        .bind(peak_memory)
        .bind(charged_ms)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        record_event_in(&mut tx, event).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The jobs a stopped server left running: the runner fails them at start (`interrupted`).
    pub async fn running_jobs(&self) -> Result<Vec<Job>> {
        let sql = format!("{JOB_COLUMNS} WHERE j.state = 'running' ORDER BY j.id");
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(job_from_row)
            .collect()
    }

    /// [`Db::claim_next_job`] with the job's run lease: on PostgreSQL a session advisory lock
    /// taken on a connection of its own inside the very transaction that marks the job running,
    /// so no other process ever sees the job running without its lease held. The lease ends
    /// with its connection (the runner's process dying included), which is how another replica's
    /// recovery tells a job still running somewhere from one whose runner is gone. On SQLite
    /// (one process) there is nothing to hold.
    pub async fn claim_next_job_leased(&self, at: i64) -> Result<Option<(Job, Lease)>> {
        if self.backend != crate::Backend::Postgres {
            return Ok(self.claim_next_job(at).await?.map(|j| (j, Lease::none())));
        }
        // A connection of its own only when there is something to claim.
        if sqlx::query("SELECT 1 AS x FROM research_jobs WHERE state = 'queued' LIMIT 1")
            .fetch_optional(&self.pool)
            .await?
            .is_none()
        {
            return Ok(None);
        }
        let mut conn = self.pool.acquire().await?.detach();
        let id = {
            let mut tx = crate::dialect::begin_write_on(&mut conn, self.backend).await?;
            let Some(id) = next_claimable(&mut tx).await? else {
                return Ok(None); // the connection closes with `conn`
            };
            crate::dialect::lock_lease_in(&mut tx, crate::dialect::JOB_LEASE, id).await?;
            mark_running(&mut tx, id, at).await?;
            tx.commit().await?;
            id
        };
        Ok(self.job(id).await?.map(|j| (j, Lease::holding(conn))))
    }

    /// Whether some process holds job `id`'s run lease (always false on SQLite).
    pub async fn job_is_held(&self, id: i64) -> Result<bool> {
        self.lease_is_held(crate::dialect::JOB_LEASE, id).await
    }

    /// CPU milliseconds charged to a project so far.
    pub async fn project_charged_ms(&self, project_id: i64) -> Result<i64> {
        let row = sqlx::query(
            "SELECT CAST(COALESCE(SUM(charged_ms), 0) AS BIGINT) AS used FROM research_jobs WHERE project_id = $1",
        )
        .bind(project_id)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get("used")?)
    }

    pub async fn job_outputs(&self, id: i64) -> Result<Vec<Output>> {
        sqlx::query(
            "SELECT path, size, sha256, findings FROM research_job_outputs WHERE job_id = $1 ORDER BY path",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            Ok(Output {
                path: r.try_get("path")?,
                size: r.try_get("size")?,
                sha256: r.try_get("sha256")?,
                findings: r.try_get("findings")?,
            })
        })
        .collect()
    }

    pub async fn job_output_bytes(&self, id: i64, path: &str) -> Result<Option<Vec<u8>>> {
        Ok(
            sqlx::query("SELECT bytes FROM research_job_outputs WHERE job_id = $1 AND path = $2")
                .bind(id)
                .bind(path)
                .fetch_optional(&self.pool)
                .await?
                .map(|r| r.try_get("bytes"))
                .transpose()?,
        )
    }

    pub async fn output_votes(&self, id: i64) -> Result<Vec<Vote>> {
        sqlx::query(
            "SELECT path, reviewer, vote, reason, at FROM research_output_votes WHERE job_id = $1
             ORDER BY at, reviewer, path",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(vote_from_row)
        .collect()
    }

    /// Records one reviewer's votes (a reviewer votes once per file) while the outputs are
    /// `expected`, then lets `decide` compute the outputs' state from every vote now, and writes
    /// it with the event `decide` returns, in one transaction.
    pub async fn vote_outputs_logged(
        &self,
        id: i64,
        expected: &str,
        votes: &[Vote],
        decide: impl FnOnce(&[Vote]) -> (String, Event),
    ) -> Result<String> {
        let mut tx = self.begin_write().await?;
        let row = sqlx::query("SELECT outputs_state FROM research_jobs WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("job {id}")))?;
        let now: String = row.try_get("outputs_state")?;
        if now != expected {
            return Err(changed(id, expected));
        }
        for v in votes {
            let done = sqlx::query(
                "INSERT INTO research_output_votes (job_id, path, reviewer, vote, reason, at)
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
            )
            .bind(id)
            .bind(v.path.as_str())
            .bind(v.reviewer.as_str())
            .bind(v.vote.as_str())
            .bind(v.reason.as_str())
            .bind(v.at)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() != 1 {
                return Err(StoreError::Exists(format!(
                    "{}'s vote on {} of job {id}",
                    v.reviewer, v.path
                )));
            }
        }
        let all = sqlx::query(
            "SELECT path, reviewer, vote, reason, at FROM research_output_votes WHERE job_id = $1",
        )
        .bind(id)
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(vote_from_row)
        .collect::<Result<Vec<_>>>()?;
        let (state, event) = decide(&all);
        sqlx::query("UPDATE research_jobs SET outputs_state = $1 WHERE id = $2")
            .bind(state.as_str())
            .bind(id)
            .execute(&mut *tx)
            .await?;
        record_event_in(&mut tx, &event).await?;
        tx.commit().await?;
        Ok(state)
    }

    /// Moves job `id` from `from` to `to` (a cancel) with its event; a job found in another
    /// state is [`StoreError::StateChanged`].
    pub async fn set_job_state_logged(
        &self,
        id: i64,
        from: &[JobState],
        to: JobState,
        ending: &str,
        at: i64,
        event: &Event,
    ) -> Result<Job> {
        let mut tx = self.begin_write().await?;
        expect_state(&mut tx, id, from).await?;
        sqlx::query(
            "UPDATE research_jobs SET state = $1, ending = $2, finished_at = $3 WHERE id = $4",
        )
        .bind(to.as_str())
        .bind(ending)
        .bind(at)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        record_event_in(&mut tx, event).await?;
        tx.commit().await?;
        self.job(id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("job {id}")))
    }

    // ---- designated output checkers ------------------------------------------------------------

    /// Names user `account` an output checker (again, if revoked), with its event.
    pub async fn add_output_checker_logged(
        &self,
        account: &str,
        reason: &str,
        at: i64,
        event: &Event,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let user = sqlx::query("SELECT 1 AS one FROM accounts WHERE name = $1 AND kind = 'user'")
            .bind(account)
            .fetch_optional(&mut *tx)
            .await?;
        if user.is_none() {
            return Err(StoreError::NotFound(format!("user {account}")));
        }
        sqlx::query(
            "INSERT INTO output_checkers (account, reason, added_at) VALUES ($1, $2, $3)
             ON CONFLICT (account) DO UPDATE SET reason = excluded.reason,
                 added_at = excluded.added_at, revoked_at = NULL",
        )
        .bind(account)
        .bind(reason)
        .bind(at)
        .execute(&mut *tx)
        .await?;
        record_event_in(&mut tx, event).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Withdraws `account`'s designation, with its event.
    pub async fn revoke_output_checker_logged(
        &self,
        account: &str,
        at: i64,
        event: &Event,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let r = sqlx::query(
            "UPDATE output_checkers SET revoked_at = $1 WHERE account = $2 AND revoked_at IS NULL",
        )
        .bind(at)
        .bind(account)
        .execute(&mut *tx)
        .await?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("output checker {account}")));
        }
        record_event_in(&mut tx, event).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Whether `account` is a designated output checker now.
    pub async fn is_output_checker(&self, account: &str) -> Result<bool> {
        Ok(sqlx::query(
            "SELECT 1 AS one FROM output_checkers WHERE account = $1 AND revoked_at IS NULL",
        )
        .bind(account)
        .fetch_optional(&self.pool)
        .await?
        .is_some())
    }

    /// Every designation, current and revoked, by account.
    pub async fn output_checkers(&self) -> Result<Vec<OutputChecker>> {
        sqlx::query(
            "SELECT account, reason, added_at, revoked_at FROM output_checkers ORDER BY account",
        )
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            Ok(OutputChecker {
                account: r.try_get("account")?,
                reason: r.try_get("reason")?,
                added_at: r.try_get("added_at")?,
                revoked_at: r.try_get("revoked_at")?,
            })
        })
        .collect()
    }
}

/// A designated output checker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputChecker {
    pub account: String,
    pub reason: String,
    pub added_at: i64,
    pub revoked_at: Option<i64>,
}

/// The next queued job whose project runs none (in the claim's write transaction).
async fn next_claimable(conn: &mut sqlx::AnyConnection) -> Result<Option<i64>> {
    let next = sqlx::query(
        "SELECT j.id FROM research_jobs j WHERE j.state = 'queued'
           AND NOT EXISTS (SELECT 1 FROM research_jobs r
                           WHERE r.project_id = j.project_id AND r.state = 'running')
         ORDER BY j.id LIMIT 1",
    )
    .fetch_optional(&mut *conn)
    .await?;
    Ok(match next {
        Some(r) => Some(r.try_get("id")?),
        None => None,
    })
}

async fn mark_running(conn: &mut sqlx::AnyConnection, id: i64, at: i64) -> Result<()> {
    sqlx::query(
        "UPDATE research_jobs SET state = 'running', started_at = $1 WHERE id = $2 AND state = 'queued'",
    )
    .bind(at)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
