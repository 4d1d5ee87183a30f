//! Research projects (issue 13): a purpose, a team, the models and revisions a project may use
//! with an access level each, its compute quota and the operator's decision. Every change
//! commits with its events.

use sqlx::Row;
use sqlx::any::AnyRow;
use weir_core::research::{AccessLevel, ProjectState};
use weir_core::{CommitId, Event, RepoId};

use crate::events::record_event_in;
use crate::{Db, Result, StoreError};

/// A model a project may use: one revision, at one access level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectModel {
    pub repo_id: i64,
    pub repo: RepoId,
    pub commit: CommitId,
    pub level: AccessLevel,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Project {
    pub id: i64,
    pub namespace: String,
    pub name: String,
    pub purpose: String,
    pub state: ProjectState,
    pub applied_by: String,
    pub applied_at: i64,
    pub standin: Option<RepoId>,
    pub quota_cpu_seconds: i64,
    pub decided_by: Option<String>,
    pub decided_at: Option<i64>,
    pub decision_reason: Option<String>,
    pub expires_at: Option<i64>,
    pub members: Vec<String>,
    pub models: Vec<ProjectModel>,
}

impl Project {
    /// `namespace/name`.
    pub fn full_name(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    pub fn is_member(&self, account: &str) -> bool {
        self.members.iter().any(|m| m == account)
    }

    /// The level the project holds on `repo_id` at `commit`, if it names that revision.
    pub fn granted(&self, repo_id: i64, commit: &CommitId) -> Option<AccessLevel> {
        self.models
            .iter()
            .find(|m| m.repo_id == repo_id && &m.commit == commit)
            .map(|m| m.level)
    }
}

/// What an application holds.
#[derive(Debug, Clone)]
pub struct NewProject<'a> {
    pub namespace: &'a str,
    pub name: &'a str,
    pub purpose: &'a str,
    pub applied_by: &'a str,
    pub members: &'a [String],
    /// (repo row id, commit, level).
    pub models: &'a [(i64, CommitId, AccessLevel)],
    pub standin_repo_id: Option<i64>,
    pub quota_cpu_seconds: i64,
    pub at: i64,
}

/// An operator's decision on a project.
#[derive(Debug, Clone)]
pub struct ProjectDecision<'a> {
    pub from: ProjectState,
    pub to: ProjectState,
    pub by: &'a str,
    pub reason: &'a str,
    pub at: i64,
    /// Set on approval; kept otherwise.
    pub expires_at: Option<i64>,
    /// Set on approval; kept otherwise.
    pub quota_cpu_seconds: Option<i64>,
}

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

const PROJECT_COLUMNS: &str =
    "SELECT p.id, p.namespace, p.name, p.purpose, p.state, p.applied_by, p.applied_at,
        p.quota_cpu_seconds, p.decided_by, p.decided_at, p.decision_reason, p.expires_at,
        s.namespace AS s_ns, s.name AS s_name
     FROM research_projects p LEFT JOIN repos s ON s.id = p.standin_repo_id";

impl Db {
    /// Creates an application with its team and models, and its events (given the new
    /// project's id), in one transaction. A taken name is [`StoreError::Exists`].
    pub async fn create_project_logged(
        &self,
        p: &NewProject<'_>,
        events: impl FnOnce(i64) -> Vec<Event>,
    ) -> Result<Project> {
        let mut tx = self.begin_write().await?;
        let taken =
            sqlx::query("SELECT 1 FROM research_projects WHERE namespace = $1 AND name = $2")
                .bind(p.namespace)
                .bind(p.name)
                .fetch_optional(&mut *tx)
                .await?;
        if taken.is_some() {
            return Err(StoreError::Exists(format!(
                "project {}/{}",
                p.namespace, p.name
            )));
        }
        let row = sqlx::query(
            "INSERT INTO research_projects (namespace, name, purpose, state, applied_by, applied_at,
                 standin_repo_id, quota_cpu_seconds)
             VALUES ($1, $2, $3, 'applied', $4, $5, $6, $7) RETURNING id",
        )
        .bind(p.namespace)
        .bind(p.name)
        .bind(p.purpose)
        .bind(p.applied_by)
        .bind(p.at)
        .bind(p.standin_repo_id)
        .bind(p.quota_cpu_seconds)
        .fetch_one(&mut *tx)
        .await?;
        let id: i64 = row.try_get("id")?;
        for m in p.members {
            sqlx::query("INSERT INTO research_members (project_id, account) VALUES ($1, $2)")
                .bind(id)
                .bind(m.as_str())
                .execute(&mut *tx)
                .await?;
        }
        for (repo_id, commit, level) in p.models {
            sqlx::query(
                "INSERT INTO research_models (project_id, repo_id, commit_id, level) VALUES ($1, $2, $3, $4)",
            )
            .bind(id)
            .bind(*repo_id)
            .bind(commit.as_str())
            .bind(level.as_str())
            .execute(&mut *tx)
            .await?;
        }
        for e in events(id) {
            record_event_in(&mut tx, &e).await?;
        }
        tx.commit().await?;
        self.project_by_id(id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("project {id}")))
    }

    async fn project_from_row(&self, r: &AnyRow) -> Result<Project> {
        let id: i64 = r.try_get("id")?;
        let members = sqlx::query(
            "SELECT account FROM research_members WHERE project_id = $1 ORDER BY account",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|m| m.try_get::<String, _>("account"))
        .collect::<Result<Vec<_>, _>>()?;
        let models = sqlx::query(
            "SELECT m.repo_id, r.namespace, r.name, m.commit_id, m.level
             FROM research_models m JOIN repos r ON r.id = m.repo_id
             WHERE m.project_id = $1 ORDER BY r.namespace, r.name, m.commit_id",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|m| {
            let ns: String = m.try_get("namespace")?;
            let name: String = m.try_get("name")?;
            let level: String = m.try_get("level")?;
            Ok(ProjectModel {
                repo_id: m.try_get("repo_id")?,
                repo: RepoId::new(&ns, &name).map_err(corrupt)?,
                commit: CommitId::parse(&m.try_get::<String, _>("commit_id")?).map_err(corrupt)?,
                level: AccessLevel::parse(&level)
                    .ok_or_else(|| corrupt(format!("level {level}")))?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
        let state: String = r.try_get("state")?;
        let s_ns: Option<String> = r.try_get("s_ns")?;
        let s_name: Option<String> = r.try_get("s_name")?;
        let standin = match (s_ns, s_name) {
            (Some(ns), Some(name)) => Some(RepoId::new(&ns, &name).map_err(corrupt)?),
            _ => None,
        };
        Ok(Project {
            id,
            namespace: r.try_get("namespace")?,
            name: r.try_get("name")?,
            purpose: r.try_get("purpose")?,
            state: ProjectState::parse(&state).ok_or_else(|| corrupt(format!("state {state}")))?,
            applied_by: r.try_get("applied_by")?,
            applied_at: r.try_get("applied_at")?,
            standin,
            quota_cpu_seconds: r.try_get("quota_cpu_seconds")?,
            decided_by: r.try_get("decided_by")?,
            decided_at: r.try_get("decided_at")?,
            decision_reason: r.try_get("decision_reason")?,
            expires_at: r.try_get("expires_at")?,
            members,
            models,
        })
    }

    pub async fn project_by_id(&self, id: i64) -> Result<Option<Project>> {
        let sql = format!("{PROJECT_COLUMNS} WHERE p.id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(r) => Ok(Some(self.project_from_row(&r).await?)),
            None => Ok(None),
        }
    }

    pub async fn project(&self, namespace: &str, name: &str) -> Result<Option<Project>> {
        let sql = format!("{PROJECT_COLUMNS} WHERE p.namespace = $1 AND p.name = $2");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(namespace)
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(r) => Ok(Some(self.project_from_row(&r).await?)),
            None => Ok(None),
        }
    }

    /// Projects, newest first: all of them, or those in `state`; at most `limit`.
    pub async fn list_projects(
        &self,
        state: Option<ProjectState>,
        limit: i64,
    ) -> Result<Vec<Project>> {
        let sql = format!(
            "{PROJECT_COLUMNS} WHERE ($1 IS NULL OR p.state = $1) ORDER BY p.id DESC LIMIT $2"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(state.map(|s| s.as_str()))
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            out.push(self.project_from_row(r).await?);
        }
        Ok(out)
    }

    /// The projects `account` is on the team of, newest first.
    pub async fn projects_of_member(&self, account: &str, limit: i64) -> Result<Vec<Project>> {
        let sql = format!(
            "{PROJECT_COLUMNS} WHERE p.id IN (SELECT project_id FROM research_members WHERE account = $1)
             ORDER BY p.id DESC LIMIT $2"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(account)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            out.push(self.project_from_row(r).await?);
        }
        Ok(out)
    }

    /// Moves a project from `d.from` to `d.to` with its event, in one transaction; a project
    /// found in another state is [`StoreError::StateChanged`].
    pub async fn decide_project_logged(
        &self,
        id: i64,
        d: &ProjectDecision<'_>,
        event: &Event,
    ) -> Result<Project> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(
            "UPDATE research_projects SET state = $1, decided_by = $2, decided_at = $3,
                 decision_reason = $4, expires_at = COALESCE($5, expires_at),
                 quota_cpu_seconds = COALESCE($6, quota_cpu_seconds)
             WHERE id = $7 AND state = $8",
        )
        .bind(d.to.as_str())
        .bind(d.by)
        .bind(d.at)
        .bind(d.reason)
        .bind(d.expires_at)
        .bind(d.quota_cpu_seconds)
        .bind(id)
        .bind(d.from.as_str())
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Err(StoreError::StateChanged {
                record: format!("project {id}"),
                expected: d.from.as_str().to_string(),
            });
        }
        record_event_in(&mut tx, event).await?;
        tx.commit().await?;
        self.project_by_id(id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("project {id}")))
    }
}
