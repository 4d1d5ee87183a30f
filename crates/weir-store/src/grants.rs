//! Compute grants (issue 14, point 1): calls, applications, reviews, awards and their progress
//! reports. Every change commits with its events; decisions are guarded by the state they were
//! read in. An award's usage is the sum of the charges of the jobs metered against it.

use sqlx::Row;
use sqlx::any::AnyRow;
use weir_core::Event;

use crate::events::record_event_in;
use crate::{Db, Result, StoreError};

/// A call for applications.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub id: i64,
    pub name: String,
    pub title: String,
    /// JSON: `Vec<weir_core::grants::Route>`.
    pub routes: String,
    /// JSON: the field names every application must answer.
    pub fields: String,
    pub auto_level: String,
    pub opened_by: String,
    pub opened_at: i64,
    pub closes_at: i64,
    pub closed_at: Option<i64>,
    /// (repo id, `NS/NAME`, highest access level).
    pub models: Vec<(i64, String, String)>,
}

#[derive(Debug, Clone)]
pub struct NewCall<'a> {
    pub name: &'a str,
    pub title: &'a str,
    pub routes: &'a str,
    pub fields: &'a str,
    pub auto_level: &'a str,
    pub opened_by: &'a str,
    pub at: i64,
    pub closes_at: i64,
    pub models: &'a [(i64, &'a str)],
}

#[derive(Debug, Clone, PartialEq)]
pub struct Application {
    pub id: i64,
    pub call_id: i64,
    pub call: String,
    pub route: String,
    pub project_id: i64,
    pub applicant: String,
    pub purpose: String,
    pub plan: String,
    /// JSON object: the call's fields answered.
    pub answers: String,
    pub cpu_ms: i64,
    pub gpu_ms: i64,
    pub state: String,
    pub submitted_at: i64,
    pub review_due_at: i64,
    pub decided_at: Option<i64>,
    pub decision: Option<String>,
}

#[derive(Debug, Clone)]
pub struct NewApplication<'a> {
    pub call_id: i64,
    pub route: &'a str,
    pub project_id: i64,
    pub applicant: &'a str,
    pub purpose: &'a str,
    pub plan: &'a str,
    pub answers: &'a str,
    pub cpu_ms: i64,
    pub gpu_ms: i64,
    pub at: i64,
    pub review_due_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Review {
    pub reviewer: String,
    /// `award`, `reject` or `conflict`.
    pub vote: String,
    pub reason: String,
    pub at: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Award {
    pub id: i64,
    pub application_id: i64,
    pub project_id: i64,
    pub cpu_ms: i64,
    pub gpu_ms: i64,
    pub released_cpu_ms: i64,
    pub released_gpu_ms: i64,
    pub starts_at: i64,
    pub ends_at: i64,
    pub awarded_at: i64,
    pub report: Option<String>,
    pub reported_at: Option<i64>,
    pub report_accepted_by: Option<String>,
    pub report_accepted_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub revoke_reason: Option<String>,
}

/// An award to make when an application is decided.
#[derive(Debug, Clone)]
pub struct NewAward {
    pub cpu_ms: i64,
    pub gpu_ms: i64,
    pub released_cpu_ms: i64,
    pub released_gpu_ms: i64,
    pub starts_at: i64,
    pub ends_at: i64,
}

const APPLICATION_COLUMNS: &str =
    "SELECT a.id, a.call_id, c.name AS call_name, a.route, a.project_id, a.applicant,
        a.purpose, a.plan, a.answers, a.cpu_ms, a.gpu_ms, a.state, a.submitted_at,
        a.review_due_at, a.decided_at, a.decision
     FROM grant_applications a JOIN grant_calls c ON c.id = a.call_id";

const AWARD_COLUMNS: &str =
    "SELECT id, application_id, project_id, cpu_ms, gpu_ms, released_cpu_ms, released_gpu_ms,
        starts_at, ends_at, awarded_at, report, reported_at, report_accepted_by,
        report_accepted_at, revoked_at, revoke_reason
     FROM grant_awards";

fn application_from_row(r: &AnyRow) -> Result<Application> {
    Ok(Application {
        id: r.try_get("id")?,
        call_id: r.try_get("call_id")?,
        call: r.try_get("call_name")?,
        route: r.try_get("route")?,
        project_id: r.try_get("project_id")?,
        applicant: r.try_get("applicant")?,
        purpose: r.try_get("purpose")?,
        plan: r.try_get("plan")?,
        answers: r.try_get("answers")?,
        cpu_ms: r.try_get("cpu_ms")?,
        gpu_ms: r.try_get("gpu_ms")?,
        state: r.try_get("state")?,
        submitted_at: r.try_get("submitted_at")?,
        review_due_at: r.try_get("review_due_at")?,
        decided_at: r.try_get("decided_at")?,
        decision: r.try_get("decision")?,
    })
}

fn award_from_row(r: &AnyRow) -> Result<Award> {
    Ok(Award {
        id: r.try_get("id")?,
        application_id: r.try_get("application_id")?,
        project_id: r.try_get("project_id")?,
        cpu_ms: r.try_get("cpu_ms")?,
        gpu_ms: r.try_get("gpu_ms")?,
        released_cpu_ms: r.try_get("released_cpu_ms")?,
        released_gpu_ms: r.try_get("released_gpu_ms")?,
        starts_at: r.try_get("starts_at")?,
        ends_at: r.try_get("ends_at")?,
        awarded_at: r.try_get("awarded_at")?,
        report: r.try_get("report")?,
        reported_at: r.try_get("reported_at")?,
        report_accepted_by: r.try_get("report_accepted_by")?,
        report_accepted_at: r.try_get("report_accepted_at")?,
        revoked_at: r.try_get("revoked_at")?,
        revoke_reason: r.try_get("revoke_reason")?,
    })
}

async fn record_all(tx: &mut sqlx::AnyConnection, events: &[Event]) -> Result<()> {
    for e in events {
        record_event_in(tx, e).await?;
    }
    Ok(())
}

impl Db {
    // ---- calls ---------------------------------------------------------------------------------

    /// Opens a call with its models and event. A taken name is [`StoreError::Exists`].
    pub async fn open_call_logged(&self, c: &NewCall<'_>, event: &Event) -> Result<Call> {
        let mut tx = self.begin_write().await?;
        let taken = sqlx::query("SELECT 1 AS one FROM grant_calls WHERE name = $1")
            .bind(c.name)
            .fetch_optional(&mut *tx)
            .await?;
        if taken.is_some() {
            return Err(StoreError::Exists(format!("call {}", c.name)));
        }
        let row = sqlx::query(
            "INSERT INTO grant_calls (name, title, routes, fields, auto_level, opened_by, opened_at, closes_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        )
        .bind(c.name)
        .bind(c.title)
        .bind(c.routes)
        .bind(c.fields)
        .bind(c.auto_level)
        .bind(c.opened_by)
        .bind(c.at)
        .bind(c.closes_at)
        .fetch_one(&mut *tx)
        .await?;
        let id: i64 = row.try_get("id")?;
        for (repo_id, level) in c.models {
            sqlx::query(
                "INSERT INTO grant_call_models (call_id, repo_id, max_level) VALUES ($1, $2, $3)",
            )
            .bind(id)
            .bind(*repo_id)
            .bind(*level)
            .execute(&mut *tx)
            .await?;
        }
        record_event_in(&mut tx, event).await?;
        tx.commit().await?;
        self.call(c.name)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("call {}", c.name)))
    }

    async fn call_from_row(&self, r: &AnyRow) -> Result<Call> {
        let id: i64 = r.try_get("id")?;
        let models = sqlx::query(
            "SELECT m.repo_id, r.namespace, r.name, m.max_level FROM grant_call_models m
             JOIN repos r ON r.id = m.repo_id WHERE m.call_id = $1 ORDER BY r.namespace, r.name",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|m| {
            let ns: String = m.try_get("namespace")?;
            let name: String = m.try_get("name")?;
            Ok((
                m.try_get("repo_id")?,
                format!("{ns}/{name}"),
                m.try_get("max_level")?,
            ))
        })
        .collect::<Result<Vec<_>>>()?;
        Ok(Call {
            id,
            name: r.try_get("name")?,
            title: r.try_get("title")?,
            routes: r.try_get("routes")?,
            fields: r.try_get("fields")?,
            auto_level: r.try_get("auto_level")?,
            opened_by: r.try_get("opened_by")?,
            opened_at: r.try_get("opened_at")?,
            closes_at: r.try_get("closes_at")?,
            closed_at: r.try_get("closed_at")?,
            models,
        })
    }

    pub async fn call(&self, name: &str) -> Result<Option<Call>> {
        let row = sqlx::query("SELECT * FROM grant_calls WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(r) => Ok(Some(self.call_from_row(&r).await?)),
            None => Ok(None),
        }
    }

    /// Every call, newest first.
    pub async fn calls(&self) -> Result<Vec<Call>> {
        let rows = sqlx::query("SELECT * FROM grant_calls ORDER BY id DESC LIMIT 500")
            .fetch_all(&self.pool)
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            out.push(self.call_from_row(r).await?);
        }
        Ok(out)
    }

    /// Closes an open call early, with its event.
    pub async fn close_call_logged(&self, id: i64, at: i64, event: &Event) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let r = sqlx::query(
            "UPDATE grant_calls SET closed_at = $1 WHERE id = $2 AND closed_at IS NULL",
        )
        .bind(at)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if r.rows_affected() == 0 {
            return Err(StoreError::StateChanged {
                record: format!("call {id}"),
                expected: "open".into(),
            });
        }
        record_event_in(&mut tx, event).await?;
        tx.commit().await?;
        Ok(())
    }

    // ---- applications --------------------------------------------------------------------------

    /// Records an application with its events (given its id).
    pub async fn submit_application_logged(
        &self,
        a: &NewApplication<'_>,
        events: impl FnOnce(i64) -> Vec<Event>,
    ) -> Result<Application> {
        let mut tx = self.begin_write().await?;
        // One application in review, or one award until it ends, per project; never again
        // after a revocation (checked inside the write, so two at once cannot both pass).
        let busy = sqlx::query(
            "SELECT 1 AS one FROM grant_applications WHERE project_id = $1 AND state = 'submitted'
             UNION ALL
             SELECT 1 AS one FROM grant_awards WHERE project_id = $1 AND revoked_at IS NULL
                 AND ends_at > $2",
        )
        .bind(a.project_id)
        .bind(a.at)
        .fetch_optional(&mut *tx)
        .await?;
        if busy.is_some() {
            return Err(StoreError::Exists(
                "an application in review or an award running for this project".into(),
            ));
        }
        let revoked = sqlx::query(
            "SELECT 1 AS one FROM grant_awards WHERE project_id = $1 AND revoked_at IS NOT NULL",
        )
        .bind(a.project_id)
        .fetch_optional(&mut *tx)
        .await?;
        if revoked.is_some() {
            return Err(StoreError::StateChanged {
                record: "the project's award".into(),
                expected: "not revoked".into(),
            });
        }
        let row = sqlx::query(
            "INSERT INTO grant_applications (call_id, route, project_id, applicant, purpose, plan,
                 answers, cpu_ms, gpu_ms, state, submitted_at, review_due_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'submitted', $10, $11) RETURNING id",
        )
        .bind(a.call_id)
        .bind(a.route)
        .bind(a.project_id)
        .bind(a.applicant)
        .bind(a.purpose)
        .bind(a.plan)
        .bind(a.answers)
        .bind(a.cpu_ms)
        .bind(a.gpu_ms)
        .bind(a.at)
        .bind(a.review_due_at)
        .fetch_one(&mut *tx)
        .await?;
        let id: i64 = row.try_get("id")?;
        record_all(&mut tx, &events(id)).await?;
        tx.commit().await?;
        self.application(id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("application {id}")))
    }

    pub async fn application(&self, id: i64) -> Result<Option<Application>> {
        let sql = format!("{APPLICATION_COLUMNS} WHERE a.id = $1");
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(application_from_row)
            .transpose()
    }

    /// Applications, newest first: of one call, of one project, or all.
    pub async fn applications(
        &self,
        call_id: Option<i64>,
        project_id: Option<i64>,
    ) -> Result<Vec<Application>> {
        let sql = format!(
            "{APPLICATION_COLUMNS} WHERE ($1 IS NULL OR a.call_id = $1)
                 AND ($2 IS NULL OR a.project_id = $2)
             ORDER BY a.id DESC LIMIT 500"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(call_id)
            .bind(project_id)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(application_from_row)
            .collect()
    }

    pub async fn grant_reviews(&self, application_id: i64) -> Result<Vec<Review>> {
        sqlx::query(
            "SELECT reviewer, vote, reason, at FROM grant_reviews WHERE application_id = $1
             ORDER BY at, reviewer",
        )
        .bind(application_id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            Ok(Review {
                reviewer: r.try_get("reviewer")?,
                vote: r.try_get("vote")?,
                reason: r.try_get("reason")?,
                at: r.try_get("at")?,
            })
        })
        .collect()
    }

    /// Records one reviewer's vote (or declared conflict) on a submitted application, and then
    /// `decide` sees every review so far: when it returns a decision (`awarded` or `rejected`,
    /// the recorded decision text, the award to make), the application is decided in the same
    /// transaction, with the events `events` gives (for the award's id, if one is made). A
    /// second review by the same reviewer is [`StoreError::Exists`]; an application no longer
    /// submitted is [`StoreError::StateChanged`].
    pub async fn review_application_logged(
        &self,
        application_id: i64,
        review: &Review,
        decide: impl FnOnce(&[Review]) -> Option<(&'static str, String, Option<NewAward>)>,
        events: impl FnOnce(Option<&str>, Option<i64>) -> Vec<Event>,
    ) -> Result<Option<Award>> {
        let mut tx = self.begin_write().await?;
        let row = sqlx::query("SELECT state, project_id FROM grant_applications WHERE id = $1")
            .bind(application_id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("application {application_id}")))?;
        let state: String = row.try_get("state")?;
        let project_id: i64 = row.try_get("project_id")?;
        if state != "submitted" {
            return Err(StoreError::StateChanged {
                record: format!("application {application_id}"),
                expected: "submitted".into(),
            });
        }
        let mine = sqlx::query(
            "SELECT 1 AS one FROM grant_reviews WHERE application_id = $1 AND reviewer = $2",
        )
        .bind(application_id)
        .bind(&review.reviewer)
        .fetch_optional(&mut *tx)
        .await?;
        if mine.is_some() {
            return Err(StoreError::Exists(format!(
                "a review of application {application_id} by {}",
                review.reviewer
            )));
        }
        sqlx::query(
            "INSERT INTO grant_reviews (application_id, reviewer, vote, reason, at)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(application_id)
        .bind(&review.reviewer)
        .bind(&review.vote)
        .bind(&review.reason)
        .bind(review.at)
        .execute(&mut *tx)
        .await?;
        let all = sqlx::query(
            "SELECT reviewer, vote, reason, at FROM grant_reviews WHERE application_id = $1
             ORDER BY at, reviewer",
        )
        .bind(application_id)
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| {
            Ok(Review {
                reviewer: r.try_get("reviewer")?,
                vote: r.try_get("vote")?,
                reason: r.try_get("reason")?,
                at: r.try_get("at")?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
        let decided = decide(&all);
        let mut award_id = None;
        if let Some((to, text, award)) = &decided {
            award_id = decide_in(
                &mut tx,
                application_id,
                project_id,
                to,
                text,
                review.at,
                award.as_ref(),
            )
            .await?;
        }
        record_all(&mut tx, &events(decided.as_ref().map(|d| d.0), award_id)).await?;
        tx.commit().await?;
        match award_id {
            Some(id) => self.award(id).await,
            None => Ok(None),
        }
    }

    /// Decides a submitted application without a reviewer (an automatic award, or the
    /// applicant's withdrawal), with its events.
    pub async fn decide_application_logged(
        &self,
        application_id: i64,
        to: &str,
        decision: &str,
        at: i64,
        award: Option<&NewAward>,
        events: impl FnOnce(Option<i64>) -> Vec<Event>,
    ) -> Result<Option<Award>> {
        let mut tx = self.begin_write().await?;
        let row = sqlx::query("SELECT state, project_id FROM grant_applications WHERE id = $1")
            .bind(application_id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("application {application_id}")))?;
        let state: String = row.try_get("state")?;
        if state != "submitted" {
            return Err(StoreError::StateChanged {
                record: format!("application {application_id}"),
                expected: "submitted".into(),
            });
        }
        let project_id: i64 = row.try_get("project_id")?;
        let award_id =
            decide_in(&mut tx, application_id, project_id, to, decision, at, award).await?;
        record_all(&mut tx, &events(award_id)).await?;
        tx.commit().await?;
        match award_id {
            Some(id) => self.award(id).await,
            None => Ok(None),
        }
    }

    // ---- awards --------------------------------------------------------------------------------

    pub async fn award(&self, id: i64) -> Result<Option<Award>> {
        let sql = format!("{AWARD_COLUMNS} WHERE id = $1");
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(award_from_row)
            .transpose()
    }

    pub async fn award_of_application(&self, application_id: i64) -> Result<Option<Award>> {
        let sql = format!("{AWARD_COLUMNS} WHERE application_id = $1");
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(application_id)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(award_from_row)
            .transpose()
    }

    /// Applications awaiting their review, oldest deadline first (the operators' queue).
    pub async fn submitted_applications(&self, limit: i64) -> Result<Vec<Application>> {
        let sql = format!(
            "{APPLICATION_COLUMNS} WHERE a.state = 'submitted' ORDER BY a.review_due_at, a.id LIMIT $1"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(limit)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(application_from_row)
            .collect()
    }

    /// Awards whose progress report awaits acceptance (reported, not accepted, not revoked),
    /// oldest report first.
    pub async fn awards_awaiting_acceptance(&self, limit: i64) -> Result<Vec<Award>> {
        let sql = format!(
            "{AWARD_COLUMNS} WHERE report IS NOT NULL AND report_accepted_at IS NULL
                 AND revoked_at IS NULL ORDER BY reported_at, id LIMIT $1"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(limit)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(award_from_row)
            .collect()
    }

    /// Every award, newest first.
    pub async fn awards(&self, before: Option<i64>, limit: i64) -> Result<Vec<Award>> {
        let sql =
            format!("{AWARD_COLUMNS} WHERE ($1 IS NULL OR id < $1) ORDER BY id DESC LIMIT $2");
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(before)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(award_from_row)
            .collect()
    }

    /// The project's newest award: the one its jobs are metered against.
    pub async fn current_award(&self, project_id: i64) -> Result<Option<Award>> {
        let sql = format!("{AWARD_COLUMNS} WHERE project_id = $1 ORDER BY id DESC LIMIT 1");
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(project_id)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(award_from_row)
            .transpose()
    }

    /// What the jobs metered against an award were charged: (CPU ms, jobs).
    pub async fn award_usage(&self, award_id: i64) -> Result<(i64, i64)> {
        let row = sqlx::query(
            "SELECT CAST(COALESCE(SUM(charged_ms), 0) AS BIGINT) AS used, COUNT(*) AS n FROM research_jobs
             WHERE award_id = $1",
        )
        .bind(award_id)
        .fetch_one(&self.pool)
        .await?;
        Ok((row.try_get("used")?, row.try_get("n")?))
    }

    /// Meters job `job_id` against `award_id` (when it starts).
    pub async fn set_job_award(&self, job_id: i64, award_id: Option<i64>) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query("UPDATE research_jobs SET award_id = $1 WHERE id = $2")
            .bind(award_id)
            .bind(job_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records the team's progress report (replacing an earlier one not yet accepted).
    pub async fn report_progress_logged(
        &self,
        award_id: i64,
        report: &str,
        at: i64,
        event: &Event,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let r = sqlx::query(
            "UPDATE grant_awards SET report = $1, reported_at = $2
             WHERE id = $3 AND report_accepted_at IS NULL AND revoked_at IS NULL",
        )
        .bind(report)
        .bind(at)
        .bind(award_id)
        .execute(&mut *tx)
        .await?;
        if r.rows_affected() == 0 {
            return Err(StoreError::StateChanged {
                record: format!("award {award_id}"),
                expected: "awaiting its progress report".into(),
            });
        }
        record_event_in(&mut tx, event).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Accepts the progress report `report` (exactly the text the operator read) and releases
    /// the second tranche (the whole award).
    pub async fn accept_report_logged(
        &self,
        award_id: i64,
        report: &str,
        by: &str,
        at: i64,
        event: &Event,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let r = sqlx::query(
            "UPDATE grant_awards SET report_accepted_by = $1, report_accepted_at = $2,
                 released_cpu_ms = cpu_ms, released_gpu_ms = gpu_ms
             WHERE id = $3 AND report = $4 AND report_accepted_at IS NULL
                 AND revoked_at IS NULL",
        )
        .bind(by)
        .bind(at)
        .bind(award_id)
        .bind(report)
        .execute(&mut *tx)
        .await?;
        if r.rows_affected() == 0 {
            return Err(StoreError::StateChanged {
                record: format!("award {award_id}"),
                expected: "reported and not yet accepted".into(),
            });
        }
        record_event_in(&mut tx, event).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn revoke_award_logged(
        &self,
        award_id: i64,
        reason: &str,
        at: i64,
        event: &Event,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let r = sqlx::query(
            "UPDATE grant_awards SET revoked_at = $1, revoke_reason = $2
             WHERE id = $3 AND revoked_at IS NULL",
        )
        .bind(at)
        .bind(reason)
        .bind(award_id)
        .execute(&mut *tx)
        .await?;
        if r.rows_affected() == 0 {
            return Err(StoreError::StateChanged {
                record: format!("award {award_id}"),
                expected: "not revoked".into(),
            });
        }
        record_event_in(&mut tx, event).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Decides application `id` inside `tx`; makes the award if one is given. Returns its id.
async fn decide_in(
    tx: &mut sqlx::AnyConnection,
    id: i64,
    project_id: i64,
    to: &str,
    decision: &str,
    at: i64,
    award: Option<&NewAward>,
) -> Result<Option<i64>> {
    sqlx::query(
        "UPDATE grant_applications SET state = $1, decided_at = $2, decision = $3 WHERE id = $4",
    )
    .bind(to)
    .bind(at)
    .bind(decision)
    .bind(id)
    .execute(&mut *tx)
    .await?;
    let Some(a) = award else {
        return Ok(None);
    };
    let row = sqlx::query(
        "INSERT INTO grant_awards (application_id, project_id, cpu_ms, gpu_ms, released_cpu_ms,
             released_gpu_ms, starts_at, ends_at, awarded_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
    )
    .bind(id)
    .bind(project_id)
    .bind(a.cpu_ms)
    .bind(a.gpu_ms)
    .bind(a.released_cpu_ms)
    .bind(a.released_gpu_ms)
    .bind(a.starts_at)
    .bind(a.ends_at)
    .bind(at)
    .fetch_one(&mut *tx)
    .await?;
    Ok(Some(row.try_get("id")?))
}
