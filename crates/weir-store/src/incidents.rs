//! Incidents and what follows from them: the record and its transitions, attachments,
//! deliveries (who received which revision), notifications, webhooks, publisher standing and
//! release sign-offs. Every governance change commits with its event(s).

use sqlx::Row;
use weir_core::Event;
use weir_core::incident::{Class, Kind, Severity, State as IState};

use crate::events::record_event_in;
use crate::repos::Repo;
use crate::{Db, Result, StoreError, now};

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incident {
    pub id: i64,
    pub osv_id: String,
    pub repo_id: i64,
    pub kind: Kind,
    pub class: Class,
    pub state: IState,
    pub severity: Option<Severity>,
    pub domain: Option<String>,
    pub summary: String,
    /// The report's fields (JSON object), stored as given.
    pub details: String,
    pub revisions: Vec<String>,
    pub fixed_revision: Option<String>,
    pub aliases: Vec<String>,
    pub in_the_wild: bool,
    pub hold: bool,
    pub reporter: Option<String>,
    /// The reporter agreed to show their identity to the publisher (operators always see it).
    pub reporter_shared: bool,
    pub followup_hash: Option<String>,
    pub aware_at: i64,
    pub triaged_at: Option<i64>,
    pub confirmed_at: Option<i64>,
    pub resolved_at: Option<i64>,
    pub disclosed_at: Option<i64>,
    pub withdrawn_at: Option<i64>,
    pub last_update_at: Option<i64>,
    pub final_report_at: Option<i64>,
    pub embargo_until: Option<i64>,
    pub updated_at: i64,
}

impl Incident {
    /// A new report, as received: no id yet (the store assigns it), every later instant unset.
    #[expect(
        clippy::too_many_arguments,
        reason = "the fields every report has, named"
    )]
    pub fn received(
        repo_id: i64,
        kind: Kind,
        class: Class,
        summary: &str,
        details: String,
        revisions: Vec<String>,
        reporter: Option<String>,
        aware_at: i64,
    ) -> Incident {
        Incident {
            id: 0,
            osv_id: String::new(),
            repo_id,
            kind,
            class,
            state: IState::Received,
            severity: None,
            domain: None,
            summary: summary.into(),
            details,
            revisions,
            fixed_revision: None,
            aliases: Vec::new(),
            in_the_wild: false,
            reporter_shared: false,
            hold: false,
            reporter,
            followup_hash: None,
            aware_at,
            triaged_at: None,
            confirmed_at: None,
            resolved_at: None,
            disclosed_at: None,
            withdrawn_at: None,
            last_update_at: None,
            final_report_at: None,
            embargo_until: None,
            updated_at: aware_at,
        }
    }
}

macro_rules! incident_columns {
    () => {
        "id, osv_id, repo_id, kind, class, state, severity, domain, summary, details, revisions, fixed_revision, aliases, in_the_wild, hold, reporter, reporter_shared, followup_hash, aware_at, triaged_at, confirmed_at, resolved_at, disclosed_at, withdrawn_at, last_update_at, final_report_at, embargo_until, updated_at"
    };
}

/// A closed-set column: a value the domain does not know is a corrupt row, never a default.
fn parsed<T>(r: &sqlx::any::AnyRow, col: &str, parse: fn(&str) -> Option<T>) -> Result<T> {
    let s: String = r.try_get(col)?;
    parse(&s).ok_or_else(|| corrupt(format!("incident {col} {s:?}")))
}

fn incident_from_row(r: &sqlx::any::AnyRow) -> Result<Incident> {
    let list = |col: &str| -> Result<Vec<String>> {
        let s: String = r.try_get(col)?;
        serde_json::from_str(&s).map_err(corrupt)
    };
    Ok(Incident {
        id: r.try_get("id")?,
        osv_id: r.try_get("osv_id")?,
        repo_id: r.try_get("repo_id")?,
        kind: parsed(r, "kind", Kind::parse)?,
        class: parsed(r, "class", Class::parse)?,
        state: parsed(r, "state", IState::parse)?,
        severity: r
            .try_get::<Option<String>, _>("severity")?
            .map(|s| Severity::parse(&s).ok_or_else(|| corrupt(format!("incident severity {s:?}"))))
            .transpose()?,
        domain: r.try_get("domain")?,
        summary: r.try_get("summary")?,
        details: r.try_get("details")?,
        revisions: list("revisions")?,
        fixed_revision: r.try_get("fixed_revision")?,
        aliases: list("aliases")?,
        in_the_wild: r.try_get::<i64, _>("in_the_wild")? != 0,
        hold: r.try_get::<i64, _>("hold")? != 0,
        reporter: r.try_get("reporter")?,
        reporter_shared: r.try_get::<i64, _>("reporter_shared")? != 0,
        followup_hash: r.try_get("followup_hash")?,
        aware_at: r.try_get("aware_at")?,
        triaged_at: r.try_get("triaged_at")?,
        confirmed_at: r.try_get("confirmed_at")?,
        resolved_at: r.try_get("resolved_at")?,
        disclosed_at: r.try_get("disclosed_at")?,
        withdrawn_at: r.try_get("withdrawn_at")?,
        last_update_at: r.try_get("last_update_at")?,
        final_report_at: r.try_get("final_report_at")?,
        embargo_until: r.try_get("embargo_until")?,
        updated_at: r.try_get("updated_at")?,
    })
}

/// One line of an incident's history: a transition, an update, an attachment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub kind: String,
    pub from_state: Option<String>,
    pub to_state: Option<String>,
    pub actor: String,
    pub note: String,
    pub at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub name: String,
    pub sha256: String,
    pub size: i64,
    pub added_by: String,
    pub at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub id: i64,
    pub account: String,
    pub kind: String,
    pub incident_id: Option<i64>,
    pub message: String,
    pub created_at: i64,
    pub read_at: Option<i64>,
    /// A page of this server it is about (a local path), if any.
    pub link: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    pub account: String,
    pub url: String,
    pub secret: String,
    pub created_at: i64,
    pub last_status: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StandingRecord {
    pub namespace: String,
    pub standing: String,
    pub rule: String,
    pub detail: String,
    pub since: i64,
}

/// A notification to send in the same transaction as the change that causes it.
#[derive(Debug, Clone)]
pub struct NewNotification {
    pub account: String,
    pub kind: String,
    pub message: String,
}

async fn log_line_in(tx: &mut sqlx::AnyConnection, incident_id: i64, line: &LogLine) -> Result<()> {
    sqlx::query(
        "INSERT INTO incident_log (incident_id, kind, from_state, to_state, actor, note, at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(incident_id)
    .bind(&line.kind)
    .bind(line.from_state.as_deref())
    .bind(line.to_state.as_deref())
    .bind(&line.actor)
    .bind(&line.note)
    .bind(line.at)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

impl Db {
    /// Files a new incident: the next id of `year` (`PREFIX-YYYY-NNNN`), its first history line
    /// and its event, in one transaction. `osv_id(year, seq)` builds the id.
    pub async fn create_incident_logged(
        &self,
        new: &Incident,
        year: i64,
        osv_id: impl Fn(i64) -> String,
        event: &Event,
    ) -> Result<Incident> {
        let mut tx = self.begin_write().await?;
        let seq: i64 =
            sqlx::query("SELECT COALESCE(MAX(seq), 0) + 1 AS n FROM incidents WHERE year = $1")
                .bind(year)
                .fetch_one(&mut *tx)
                .await?
                .try_get("n")?;
        let id_text = osv_id(seq);
        let json = |v: &Vec<String>| serde_json::to_string(v).map_err(corrupt);
        let row = sqlx::query(
            "INSERT INTO incidents (osv_id, year, seq, repo_id, kind, class, state, domain, summary, details,
               revisions, aliases, in_the_wild, reporter, followup_hash, aware_at, updated_at, reporter_shared)
             VALUES ($1, $2, $3, $4, $5, $6, 'received', $7, $8, $9, $10, $11, $12, $13, $14, $15, $15, $16)
             RETURNING id",
        )
        .bind(&id_text)
        .bind(year)
        .bind(seq)
        .bind(new.repo_id)
        .bind(new.kind.as_str())
        .bind(new.class.as_str())
        .bind(new.domain.as_deref())
        .bind(&new.summary)
        .bind(&new.details)
        .bind(json(&new.revisions)?)
        .bind(json(&new.aliases)?)
        .bind(i64::from(new.in_the_wild))
        .bind(new.reporter.as_deref())
        .bind(new.followup_hash.as_deref())
        .bind(new.aware_at)
        .bind(i64::from(new.reporter_shared))
        .fetch_one(&mut *tx)
        .await?;
        let id: i64 = row.try_get("id")?;
        log_line_in(
            &mut tx,
            id,
            &LogLine {
                kind: "report".into(),
                from_state: None,
                to_state: Some("received".into()),
                actor: new.reporter.clone().unwrap_or_else(|| "anonymous".into()),
                note: "reported".into(),
                at: new.aware_at,
            },
        )
        .await?;
        let mut e = event.clone();
        if let Some(p) = e.details.get_mut("public").and_then(|p| p.as_object_mut()) {
            p.insert("id".into(), id_text.clone().into());
        }
        record_event_in(&mut tx, &e).await?;
        tx.commit().await?;
        self.incident_by_osv(&id_text)
            .await?
            .ok_or_else(|| corrupt("incident vanished"))
    }

    pub async fn incident_by_osv(&self, osv_id: &str) -> Result<Option<Incident>> {
        let r = sqlx::query(concat!(
            "SELECT ",
            incident_columns!(),
            " FROM incidents WHERE osv_id = $1"
        ))
        .bind(osv_id)
        .fetch_optional(&self.pool)
        .await?;
        r.as_ref().map(incident_from_row).transpose()
    }

    /// Every incident (optionally of one repo), oldest first.
    pub async fn incidents(&self, repo_id: Option<i64>) -> Result<Vec<Incident>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            incident_columns!(),
            " FROM incidents WHERE ($1 = 0 OR repo_id = $1) ORDER BY id"
        ))
        .bind(repo_id.unwrap_or(0))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(incident_from_row).collect()
    }

    /// The incidents about a namespace's repos, oldest first.
    pub async fn incidents_of_namespace(&self, namespace: &str) -> Result<Vec<Incident>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            incident_columns!(),
            " FROM incidents WHERE repo_id IN (SELECT id FROM repos WHERE namespace = $1) ORDER BY id"
        ))
        .bind(namespace)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(incident_from_row).collect()
    }

    /// Writes an incident's mutable fields, a history line, the events and the notifications it
    /// causes, in one transaction. `expected_state` guards against a concurrent transition.
    pub async fn update_incident_logged(
        &self,
        i: &Incident,
        expected_state: IState,
        line: &LogLine,
        events: &[Event],
        notify: &[NewNotification],
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let r = sqlx::query(
            "UPDATE incidents SET state = $1, severity = $2, domain = $3, fixed_revision = $4, aliases = $5,
               in_the_wild = $6, hold = $7, triaged_at = $8, confirmed_at = $9, resolved_at = $10,
               disclosed_at = $11, withdrawn_at = $12, last_update_at = $13, final_report_at = $14,
               embargo_until = $15, updated_at = $16
             WHERE id = $17 AND state = $18",
        )
        .bind(i.state.as_str())
        .bind(i.severity.map(Severity::as_str))
        .bind(i.domain.as_deref())
        .bind(i.fixed_revision.as_deref())
        .bind(serde_json::to_string(&i.aliases).map_err(corrupt)?)
        .bind(i64::from(i.in_the_wild))
        .bind(i64::from(i.hold))
        .bind(i.triaged_at)
        .bind(i.confirmed_at)
        .bind(i.resolved_at)
        .bind(i.disclosed_at)
        .bind(i.withdrawn_at)
        .bind(i.last_update_at)
        .bind(i.final_report_at)
        .bind(i.embargo_until)
        .bind(i.updated_at)
        .bind(i.id)
        .bind(expected_state.as_str())
        .execute(&mut *tx)
        .await?;
        if r.rows_affected() == 0 {
            return Err(StoreError::StateChanged {
                record: i.osv_id.clone(),
                expected: expected_state.as_str().into(),
            });
        }
        log_line_in(&mut tx, i.id, line).await?;
        for e in events {
            record_event_in(&mut tx, e).await?;
        }
        for n in notify {
            sqlx::query(
                "INSERT INTO notifications (account, kind, incident_id, message, created_at) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&n.account)
            .bind(&n.kind)
            .bind(i.id)
            .bind(&n.message)
            .bind(now())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn incident_log(&self, incident_id: i64) -> Result<Vec<LogLine>> {
        let rows = sqlx::query(
            "SELECT kind, from_state, to_state, actor, note, at FROM incident_log WHERE incident_id = $1 ORDER BY id",
        )
        .bind(incident_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(LogLine {
                    kind: r.try_get("kind")?,
                    from_state: r.try_get("from_state")?,
                    to_state: r.try_get("to_state")?,
                    actor: r.try_get("actor")?,
                    note: r.try_get("note")?,
                    at: r.try_get("at")?,
                })
            })
            .collect()
    }

    /// Records an attachment with its history line and event, if the report stays within
    /// `max_count` attachments and `max_bytes` in all: decided inside the write transaction, so
    /// concurrent uploads cannot pass the bounds together (the refused bytes are collected).
    pub async fn add_attachment_logged(
        &self,
        incident_id: i64,
        a: &Attachment,
        event: &Event,
        max_count: i64,
        max_bytes: i64,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let r = sqlx::query(
            "SELECT COUNT(*) AS n, CAST(COALESCE(SUM(size), 0) AS BIGINT) AS total FROM incident_attachments
             WHERE incident_id = $1",
        )
        .bind(incident_id)
        .fetch_one(&mut *tx)
        .await?;
        let (n, total): (i64, i64) = (r.try_get("n")?, r.try_get("total")?);
        if n >= max_count || total.saturating_add(a.size) > max_bytes {
            return Err(StoreError::LimitReached(format!(
                "a report has at most {max_count} attachments and {max_bytes} bytes in all"
            )));
        }
        sqlx::query(
            "INSERT INTO incident_attachments (incident_id, name, sha256, size, added_by, at) VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (incident_id, sha256) DO NOTHING",
        )
        .bind(incident_id)
        .bind(&a.name)
        .bind(&a.sha256)
        .bind(a.size)
        .bind(&a.added_by)
        .bind(a.at)
        .execute(&mut *tx)
        .await?;
        log_line_in(
            &mut tx,
            incident_id,
            &LogLine {
                kind: "attachment".into(),
                from_state: None,
                to_state: None,
                actor: a.added_by.clone(),
                note: format!("{} ({} bytes, sha256 {})", a.name, a.size, a.sha256),
                at: a.at,
            },
        )
        .await?;
        record_event_in(&mut tx, event).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn attachments(&self, incident_id: i64) -> Result<Vec<Attachment>> {
        let rows = sqlx::query(
            "SELECT name, sha256, size, added_by, at FROM incident_attachments WHERE incident_id = $1 ORDER BY at, name",
        )
        .bind(incident_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Attachment {
                    name: r.try_get("name")?,
                    sha256: r.try_get("sha256")?,
                    size: r.try_get("size")?,
                    added_by: r.try_get("added_by")?,
                    at: r.try_get("at")?,
                })
            })
            .collect()
    }

    // ---- deliveries and holds --------------------------------------------------------------

    /// Records a download decision's event and, for a delivery to a signed-in account, who
    /// received which revision, in one transaction (a group commit with other requests'): the
    /// delivery records are what incident notifications reach. Returns once durable.
    pub async fn record_download(
        &self,
        event: Option<&Event>,
        delivery: Option<(&Repo, &str, &str)>,
    ) -> Result<()> {
        self.recorder
            .record(crate::events::Record {
                event: event.cloned(),
                delivery: delivery.map(|(r, c, a)| (r.id, c.to_string(), a.to_string())),
                likely_sealed: delivery.is_some_and(|(r, _, _)| r.private),
            })
            .await?;
        Ok(())
    }

    /// Accounts that received any of `commits` of the repo.
    pub async fn recipients(&self, repo_id: i64, commits: &[String]) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT DISTINCT account, commit_id FROM deliveries WHERE repo_id = $1 ORDER BY account",
        )
        .bind(repo_id)
        .fetch_all(&self.pool)
        .await?;
        let mut out: Vec<String> = Vec::new();
        for r in rows {
            let c: String = r.try_get("commit_id")?;
            let a: String = r.try_get("account")?;
            if commits.iter().any(|x| x == &c) && !out.contains(&a) {
                out.push(a);
            }
        }
        Ok(out)
    }

    /// Whether deliveries of this revision are held: by a confirmed incident on the repo, or,
    /// for a copy, by one on its source's copied revision. One query (every gated GET asks).
    pub async fn is_held_here_or_at_source(&self, repo_id: i64, commit: &str) -> Result<bool> {
        let key = (repo_id, commit.to_string());
        self.memoized(
            &self.memo.held,
            key,
            self.is_held_here_or_at_source_uncached(repo_id, commit),
        )
        .await
    }

    async fn is_held_here_or_at_source_uncached(&self, repo_id: i64, commit: &str) -> Result<bool> {
        // The repo, then its source, the source's source…: each at the revision copied.
        let rows = sqlx::query(
            "WITH RECURSIVE chain(repo_id, commit_id) AS (
                 SELECT $1, $2
                 UNION
                 SELECT l.source_id, l.commit_id FROM repo_lineage l JOIN chain c ON l.repo_id = c.repo_id
             )
             SELECT i.revisions, c.commit_id AS want FROM chain c
               JOIN incidents i ON i.repo_id = c.repo_id
             WHERE i.hold = 1 AND i.state IN ('confirmed', 'mitigated', 'disclosed')",
        )
        .bind(repo_id)
        .bind(commit)
        .fetch_all(&self.pool)
        .await?;
        for r in rows {
            let s: String = r.try_get("revisions")?;
            let want: String = r.try_get("want")?;
            let want = want.as_str();
            let revs: Vec<String> = serde_json::from_str(&s).map_err(corrupt)?;
            if revs.iter().any(|x| x == want) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Whether a confirmed incident holds deliveries of this revision.
    pub async fn is_held(&self, repo_id: i64, commit: &str) -> Result<bool> {
        let rows = sqlx::query(
            "SELECT revisions FROM incidents WHERE repo_id = $1 AND hold = 1
             AND state IN ('confirmed', 'mitigated', 'disclosed')",
        )
        .bind(repo_id)
        .fetch_all(&self.pool)
        .await?;
        for r in rows {
            let s: String = r.try_get("revisions")?;
            let revs: Vec<String> = serde_json::from_str(&s).map_err(corrupt)?;
            if revs.iter().any(|x| x == commit) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    // ---- notifications and webhooks ----------------------------------------------------------

    pub async fn notifications(&self, account: &str) -> Result<Vec<Notification>> {
        let rows = sqlx::query(
            "SELECT id, account, kind, incident_id, message, created_at, read_at, link
             FROM notifications WHERE account = $1 ORDER BY id DESC LIMIT 500",
        )
        .bind(account)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Notification {
                    id: r.try_get("id")?,
                    account: r.try_get("account")?,
                    kind: r.try_get("kind")?,
                    incident_id: r.try_get("incident_id")?,
                    message: r.try_get("message")?,
                    created_at: r.try_get("created_at")?,
                    read_at: r.try_get("read_at")?,
                    link: r.try_get("link")?,
                })
            })
            .collect()
    }

    /// How many of `account`'s notifications are unread (the bell's count).
    pub async fn unread_notifications(&self, account: &str) -> Result<i64> {
        let r = sqlx::query(
            "SELECT COUNT(*) AS n FROM notifications WHERE account = $1 AND read_at IS NULL",
        )
        .bind(account)
        .fetch_one(&self.pool)
        .await?;
        Ok(r.try_get("n")?)
    }

    /// Marks every one of `account`'s notifications read; returns how many were unread.
    pub async fn mark_all_read(&self, account: &str, at: i64) -> Result<u64> {
        let w = self.writing();
        let r = sqlx::query(
            "UPDATE notifications SET read_at = $1 WHERE account = $2 AND read_at IS NULL",
        )
        .bind(at)
        .bind(account)
        .execute(&self.pool)
        .await?;
        drop(w);
        Ok(r.rows_affected())
    }

    pub async fn mark_read(&self, account: &str, id: i64) -> Result<bool> {
        let w = self.writing();
        let r = sqlx::query(
            "UPDATE notifications SET read_at = $1 WHERE account = $2 AND id = $3 AND read_at IS NULL",
        )
        .bind(now())
        .bind(account)
        .bind(id)
        .execute(&self.pool)
        .await?;
        drop(w);
        Ok(r.rows_affected() > 0)
    }

    pub async fn set_webhook(&self, account: &str, url: &str, secret: &str) -> Result<()> {
        let w = self.writing();
        sqlx::query(
            "INSERT INTO webhooks (account, url, secret, created_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (account) DO UPDATE SET url = excluded.url, secret = excluded.secret,
               created_at = excluded.created_at, last_status = NULL",
        )
        .bind(account)
        .bind(url)
        .bind(secret)
        .bind(now())
        .execute(&self.pool)
        .await?;
        drop(w);
        Ok(())
    }

    pub async fn delete_webhook(&self, account: &str) -> Result<bool> {
        let w = self.writing();
        let r = sqlx::query("DELETE FROM webhooks WHERE account = $1")
            .bind(account)
            .execute(&self.pool)
            .await?;
        drop(w);
        Ok(r.rows_affected() > 0)
    }

    pub async fn webhook(&self, account: &str) -> Result<Option<Webhook>> {
        let r = sqlx::query(
            "SELECT account, url, secret, created_at, last_status FROM webhooks WHERE account = $1",
        )
        .bind(account)
        .fetch_optional(&self.pool)
        .await?;
        r.map(|r| {
            Ok(Webhook {
                account: r.try_get("account")?,
                url: r.try_get("url")?,
                secret: r.try_get("secret")?,
                created_at: r.try_get("created_at")?,
                last_status: r.try_get("last_status")?,
            })
        })
        .transpose()
    }

    pub async fn set_webhook_status(&self, account: &str, status: &str) -> Result<()> {
        let w = self.writing();
        sqlx::query("UPDATE webhooks SET last_status = $1 WHERE account = $2")
            .bind(status)
            .bind(account)
            .execute(&self.pool)
            .await?;
        drop(w);
        Ok(())
    }

    // ---- publisher standing and release sign-offs ---------------------------------------------

    pub async fn standing(&self, namespace: &str) -> Result<Option<StandingRecord>> {
        let r = sqlx::query(
            "SELECT namespace, standing, rule, detail, since FROM publisher_standing WHERE namespace = $1",
        )
        .bind(namespace)
        .fetch_optional(&self.pool)
        .await?;
        r.map(|r| {
            Ok(StandingRecord {
                namespace: r.try_get("namespace")?,
                standing: r.try_get("standing")?,
                rule: r.try_get("rule")?,
                detail: r.try_get("detail")?,
                since: r.try_get("since")?,
            })
        })
        .transpose()
    }

    pub async fn put_standing_logged(&self, s: &StandingRecord, event: &Event) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO publisher_standing (namespace, standing, rule, detail, since) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (namespace) DO UPDATE SET standing = excluded.standing, rule = excluded.rule,
               detail = excluded.detail, since = excluded.since",
        )
        .bind(&s.namespace)
        .bind(&s.standing)
        .bind(&s.rule)
        .bind(&s.detail)
        .bind(s.since)
        .execute(&mut *tx)
        .await?;
        record_event_in(&mut tx, event).await?;
        tx.commit().await?;
        Ok(())
    }

    /// An operator's sign-off on releasing one revision (needed while the publisher is on
    /// probation).
    pub async fn signoff(&self, repo: &Repo, commit: &str) -> Result<Option<(String, i64)>> {
        let r = sqlx::query(
            "SELECT reviewer, at FROM release_signoffs WHERE repo_id = $1 AND commit_id = $2",
        )
        .bind(repo.id)
        .bind(commit)
        .fetch_optional(&self.pool)
        .await?;
        r.map(|r| Ok((r.try_get("reviewer")?, r.try_get("at")?)))
            .transpose()
    }

    pub async fn put_signoff_logged(
        &self,
        repo: &Repo,
        commit: &str,
        reviewer: &str,
        reason: &str,
        event: &Event,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO release_signoffs (repo_id, commit_id, reviewer, reason, at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (repo_id, commit_id) DO UPDATE SET reviewer = excluded.reviewer, reason = excluded.reason, at = excluded.at",
        )
        .bind(repo.id)
        .bind(commit)
        .bind(reviewer)
        .bind(reason)
        .bind(now())
        .execute(&mut *tx)
        .await?;
        record_event_in(&mut tx, event).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Every release of a namespace's repos: (repo id, release), newest first.
    pub async fn releases_of_namespace(
        &self,
        namespace: &str,
    ) -> Result<Vec<(weir_core::RepoId, crate::releases::Release)>> {
        let rows = sqlx::query(
            "SELECT r.namespace, r.name, l.commit_id, l.bundle, l.event_id, l.created_at, l.tier
             FROM releases l JOIN repos r ON r.id = l.repo_id WHERE r.namespace = $1
             ORDER BY l.created_at DESC, l.event_id DESC",
        )
        .bind(namespace)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let ns: String = r.try_get("namespace")?;
                let name: String = r.try_get("name")?;
                let c: String = r.try_get("commit_id")?;
                let tier: Option<String> = r.try_get("tier")?;
                Ok((
                    weir_core::RepoId::new(&ns, &name).map_err(corrupt)?,
                    crate::releases::Release {
                        commit: weir_core::CommitId::parse(&c).map_err(corrupt)?,
                        bundle: r.try_get("bundle")?,
                        event_id: r.try_get("event_id")?,
                        created_at: r.try_get("created_at")?,
                        tier: tier.as_deref().and_then(weir_core::Tier::parse),
                    },
                ))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use weir_core::incident::{Class, Kind};
    use weir_core::{Event, Name, RepoId};

    use weir_core::CommitSignature;

    use crate::StoreError;
    use crate::incidents::Incident;

    /// A row whose closed-set column holds a value the domain does not know is a corrupt row,
    /// never read as a default state.
    #[tokio::test]
    async fn an_unknown_state_is_a_corrupt_row() {
        let dir = tempfile::tempdir().expect("tmp");
        let store = crate::Store::open_test(dir.path()).await.expect("store");
        store
            .db
            .create_user(&Name::parse("ann").expect("n"), None, false)
            .await
            .expect("user");
        let repo = store
            .create_repo(
                &RepoId::parse("ann/m").expect("id"),
                false,
                CommitSignature {
                    name: "ann".into(),
                    email: "ann@example.org".into(),
                    time: 1,
                },
            )
            .await
            .expect("repo");
        let event = Event {
            at: 1,
            actor: None,
            action: "incident.reported".into(),
            repo: None,
            subject: None,
            decision: "change".into(),
            reason: "t".into(),
            request_id: None,
            user_agent: None,
            details: serde_json::json!({}),
        };
        let new = Incident::received(
            repo.id,
            Kind::Incident,
            Class::Minor,
            "s",
            "{}".into(),
            vec![],
            None,
            1,
        );
        let i = store
            .db
            .create_incident_logged(&new, 2026, |n| format!("x_T-2026-{n:04}"), &event)
            .await
            .expect("incident");
        assert_eq!(
            store
                .db
                .incident_by_osv(&i.osv_id)
                .await
                .expect("read")
                .map(|r| r.state),
            Some(weir_core::incident::State::Received)
        );
        let set: [(&str, &'static str, &'static str); 3] = [
            (
                "state",
                "UPDATE incidents SET state = $1 WHERE id = $2",
                "received",
            ),
            (
                "kind",
                "UPDATE incidents SET kind = $1 WHERE id = $2",
                "incident",
            ),
            (
                "severity",
                "UPDATE incidents SET severity = $1 WHERE id = $2",
                "low",
            ),
        ];
        for (col, sql, good) in set {
            sqlx::query(sql)
                .bind("not-a-known-value")
                .bind(i.id)
                .execute(&store.db.pool)
                .await
                .expect("update");
            assert!(
                matches!(
                    store.db.incident_by_osv(&i.osv_id).await,
                    Err(StoreError::Corrupt(_))
                ),
                "an unknown {col} was read as something"
            );
            sqlx::query(sql)
                .bind(good)
                .bind(i.id)
                .execute(&store.db.pool)
                .await
                .expect("restore");
        }
    }
}
