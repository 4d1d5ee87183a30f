//! Evaluations and classification: evaluators, suites, results, evidence, policy versions and
//! each repo's current classification. Every governance change commits with its event.

use sqlx::Row;
use weir_core::eval::{Suite, default_suites};
use weir_core::{Event, Tier};

use crate::events::record_event_in;
use crate::repos::Repo;
use crate::{Db, Result, StoreError, now};

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluator {
    pub name: String,
    pub public_key: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

/// An imported result: the payload (a `weir_core::eval::ResultRecord` as JSON, exactly the bytes
/// an evaluator signs) and, once signed, who signed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResult {
    pub id: String,
    pub repo_id: i64,
    pub commit: String,
    pub suite: String,
    pub payload: String,
    pub raw_log_sha256: String,
    pub raw_log_name: String,
    pub imported_by: String,
    pub created_at: i64,
    pub evaluator: Option<String>,
    pub signature: Option<String>,
    pub signed_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evidence {
    pub id: i64,
    pub repo_id: i64,
    pub domain: String,
    pub summary: String,
    pub filed_by: String,
    pub state: String,
    pub severity: Option<String>,
    pub reviewer: Option<String>,
    pub review_reason: Option<String>,
    pub created_at: i64,
    pub reviewed_at: Option<i64>,
    /// For evidence awaiting triage: when an operator's triage is due.
    pub triage_due: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPolicy {
    pub seq: i64,
    pub version: String,
    pub text: String,
    pub sha256: String,
    pub signature: String,
    pub set_by: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StoredClassification {
    pub commit: String,
    pub tier: Tier,
    pub rule: Option<String>,
    pub policy_sha256: String,
    pub presumption_since: Option<i64>,
    pub assessed_compute: Option<f64>,
    /// Every base model the card has named (`ns/name`), so a change of a base reaches its
    /// derivatives, and a base once declared keeps counting.
    pub bases: Vec<String>,
    /// The highest training compute the card has declared.
    pub declared_compute: Option<f64>,
    /// Whether the card has ever declared the weights closed.
    pub declared_closed: bool,
    pub updated_at: i64,
    /// When the notification the presumption clock asks for was recorded, and its reference.
    pub notified: Option<(i64, String)>,
}

macro_rules! result_columns {
    () => {
        "id, repo_id, commit_id, suite, payload, raw_log_sha256, raw_log_name, imported_by, created_at, evaluator, signature, signed_at"
    };
}

fn result_from_row(r: &sqlx::any::AnyRow) -> Result<StoredResult> {
    Ok(StoredResult {
        id: r.try_get("id")?,
        repo_id: r.try_get("repo_id")?,
        commit: r.try_get("commit_id")?,
        suite: r.try_get("suite")?,
        payload: r.try_get("payload")?,
        raw_log_sha256: r.try_get("raw_log_sha256")?,
        raw_log_name: r.try_get("raw_log_name")?,
        imported_by: r.try_get("imported_by")?,
        created_at: r.try_get("created_at")?,
        evaluator: r.try_get("evaluator")?,
        signature: r.try_get("signature")?,
        signed_at: r.try_get("signed_at")?,
    })
}

macro_rules! evidence_columns {
    () => {
        "id, repo_id, domain, summary, filed_by, state, severity, reviewer, review_reason, created_at, reviewed_at, triage_due"
    };
}

fn evidence_from_row(r: &sqlx::any::AnyRow) -> Result<Evidence> {
    Ok(Evidence {
        id: r.try_get("id")?,
        repo_id: r.try_get("repo_id")?,
        domain: r.try_get("domain")?,
        summary: r.try_get("summary")?,
        filed_by: r.try_get("filed_by")?,
        state: r.try_get("state")?,
        severity: r.try_get("severity")?,
        reviewer: r.try_get("reviewer")?,
        review_reason: r.try_get("review_reason")?,
        created_at: r.try_get("created_at")?,
        reviewed_at: r.try_get("reviewed_at")?,
        triage_due: r.try_get("triage_due")?,
    })
}

impl Db {
    // ---- evaluators ----------------------------------------------------------------------------

    /// Accredits an evaluator (or re-accredits one with a new key).
    pub async fn add_evaluator_logged(
        &self,
        name: &str,
        public_key_hex: &str,
        event: &weir_core::Event,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO evaluators (name, public_key, created_at) VALUES ($1, $2, $3)
             ON CONFLICT (name) DO UPDATE SET public_key = excluded.public_key, revoked_at = NULL",
        )
        .bind(name)
        .bind(public_key_hex)
        .bind(now())
        .execute(&mut *tx)
        .await?;
        crate::events::record_event_in(&mut tx, event).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn revoke_evaluator_logged(
        &self,
        name: &str,
        event: &weir_core::Event,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let r = sqlx::query(
            "UPDATE evaluators SET revoked_at = $1 WHERE name = $2 AND revoked_at IS NULL",
        )
        .bind(now())
        .bind(name)
        .execute(&mut *tx)
        .await?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("accredited evaluator {name}")));
        }
        crate::events::record_event_in(&mut tx, event).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn evaluators(&self) -> Result<Vec<Evaluator>> {
        let rows = sqlx::query(
            "SELECT name, public_key, created_at, revoked_at FROM evaluators ORDER BY name",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Evaluator {
                    name: r.try_get("name")?,
                    public_key: r.try_get("public_key")?,
                    created_at: r.try_get("created_at")?,
                    revoked_at: r.try_get("revoked_at")?,
                })
            })
            .collect()
    }

    // ---- suites --------------------------------------------------------------------------------

    /// Adds a suite, or a new version of one: the version is one more than the latest (the
    /// shipped suites are version 1).
    pub async fn add_suite_logged(&self, suite: &Suite, event: &weir_core::Event) -> Result<Suite> {
        let mut tx = self.begin_write().await?;
        let latest: Option<i64> =
            sqlx::query("SELECT MAX(version) AS v FROM eval_suites WHERE name = $1")
                .bind(&suite.name)
                .fetch_one(&mut *tx)
                .await?
                .try_get("v")?;
        let shipped = default_suites()
            .iter()
            .any(|s| s.name == suite.name)
            .then_some(1);
        let mut s = suite.clone();
        s.version = latest.or(shipped).unwrap_or(0) + 1;
        let def = serde_json::to_string(&s).map_err(corrupt)?;
        sqlx::query(
            "INSERT INTO eval_suites (name, version, definition, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(&s.name)
        .bind(s.version)
        .bind(def)
        .bind(now())
        .execute(&mut *tx)
        .await?;
        // The event names the version this call made.
        let mut event = event.clone();
        event.reason = format!("v{}", s.version);
        crate::events::record_event_in(&mut tx, &event).await?;
        tx.commit().await?;
        Ok(s)
    }

    /// Every suite at its latest version: the shipped ones, replaced by operator versions.
    pub async fn suites(&self) -> Result<Vec<Suite>> {
        let rows = sqlx::query("SELECT definition FROM eval_suites ORDER BY name, version")
            .fetch_all(&self.pool)
            .await?;
        let mut out = default_suites();
        for r in rows {
            let def: String = r.try_get("definition")?;
            let s: Suite = serde_json::from_str(&def).map_err(corrupt)?;
            match out.iter_mut().find(|x| x.name == s.name) {
                Some(slot) if slot.version < s.version => *slot = s,
                Some(_) => {}
                None => out.push(s),
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    // ---- results -------------------------------------------------------------------------------

    /// Stores an imported result with its event. Importing the same payload twice returns the
    /// first.
    pub async fn insert_result_logged(
        &self,
        r: &StoredResult,
        event: &Event,
    ) -> Result<(StoredResult, bool)> {
        if let Some(existing) = self.eval_result(&r.id).await? {
            return Ok((existing, false));
        }
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO eval_results (id, repo_id, commit_id, suite, payload, raw_log_sha256, raw_log_name, imported_by, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&r.id)
        .bind(r.repo_id)
        .bind(&r.commit)
        .bind(&r.suite)
        .bind(&r.payload)
        .bind(&r.raw_log_sha256)
        .bind(&r.raw_log_name)
        .bind(&r.imported_by)
        .bind(r.created_at)
        .execute(&mut *tx)
        .await?;
        record_event_in(&mut tx, event).await?;
        tx.commit().await?;
        Ok((r.clone(), true))
    }

    pub async fn eval_result(&self, id: &str) -> Result<Option<StoredResult>> {
        let r = sqlx::query(concat!(
            "SELECT ",
            result_columns!(),
            " FROM eval_results WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        r.as_ref().map(result_from_row).transpose()
    }

    /// A repo's results, all revisions, oldest first.
    pub async fn eval_results(&self, repo: &Repo) -> Result<Vec<StoredResult>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            result_columns!(),
            " FROM eval_results WHERE repo_id = $1 ORDER BY created_at, id"
        ))
        .bind(repo.id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(result_from_row).collect()
    }

    /// A page's worth of a repo's results: signed ones first, then newest first, at most
    /// `limit`; with how many there are in all (so nobody's flood of unsigned imports hides a
    /// signed result, and a page never reads them all).
    pub async fn eval_results_shown(
        &self,
        repo: &Repo,
        limit: i64,
    ) -> Result<(Vec<StoredResult>, i64)> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            result_columns!(),
            " FROM eval_results WHERE repo_id = $1
              ORDER BY CASE WHEN signature IS NULL THEN 1 ELSE 0 END, created_at DESC, id DESC
              LIMIT $2"
        ))
        .bind(repo.id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let total: i64 = sqlx::query("SELECT COUNT(*) AS n FROM eval_results WHERE repo_id = $1")
            .bind(repo.id)
            .fetch_one(&self.pool)
            .await?
            .try_get("n")?;
        Ok((
            rows.iter().map(result_from_row).collect::<Result<_>>()?,
            total,
        ))
    }

    /// Attaches an evaluator's verified signature to a result, with its event. A result is
    /// signed once.
    pub async fn sign_result_logged(
        &self,
        id: &str,
        evaluator: &str,
        signature: &str,
        event: &Event,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let r = sqlx::query(
            "UPDATE eval_results SET evaluator = $1, signature = $2, signed_at = $3
             WHERE id = $4 AND signature IS NULL",
        )
        .bind(evaluator)
        .bind(signature)
        .bind(now())
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if r.rows_affected() == 0 {
            return Err(StoreError::Exists(format!("a signature on result {id}")));
        }
        record_event_in(&mut tx, event).await?;
        tx.commit().await?;
        Ok(())
    }

    // ---- evidence ------------------------------------------------------------------------------

    /// Files evidence in `state` (`open` or `pending_triage`, with its triage deadline) with its
    /// event and the notifications that announce it, in one transaction.
    #[expect(clippy::too_many_arguments, reason = "the facts of one filing, named")]
    pub async fn file_evidence_logged(
        &self,
        repo: &Repo,
        domain: &str,
        summary: &str,
        filed_by: &str,
        state: &str,
        triage_due: Option<i64>,
        event: &Event,
        notify: &[(String, String)],
    ) -> Result<Evidence> {
        let mut tx = self.begin_write().await?;
        let t = now();
        let row = sqlx::query(
            "INSERT INTO hazard_evidence (repo_id, domain, summary, filed_by, state, created_at, triage_due)
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(repo.id)
        .bind(domain)
        .bind(summary)
        .bind(filed_by)
        .bind(state)
        .bind(t)
        .bind(triage_due)
        .fetch_one(&mut *tx)
        .await?;
        let id: i64 = row.try_get("id")?;
        let mut e = event.clone();
        if let Some(obj) = e.details.get_mut("public").and_then(|p| p.as_object_mut()) {
            obj.insert("evidence".into(), id.into());
        }
        record_event_in(&mut tx, &e).await?;
        for (account, message) in notify {
            sqlx::query(
                "INSERT INTO notifications (account, kind, incident_id, message, created_at)
                 VALUES ($1, 'evidence.filed', NULL, $2, $3)",
            )
            .bind(account)
            .bind(format!("evidence #{id}: {message}"))
            .bind(t)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(Evidence {
            id,
            repo_id: repo.id,
            domain: domain.into(),
            summary: summary.into(),
            filed_by: filed_by.into(),
            state: state.into(),
            severity: None,
            reviewer: None,
            review_reason: None,
            created_at: t,
            triage_due,
            reviewed_at: None,
        })
    }

    /// How many pieces of evidence `account` filed since `since` (the per-account rate limit).
    pub async fn evidence_filed_since(&self, account: &str, since: i64) -> Result<i64> {
        let r = sqlx::query(
            "SELECT COUNT(*) AS n FROM hazard_evidence WHERE filed_by = $1 AND created_at >= $2",
        )
        .bind(account)
        .bind(since)
        .fetch_one(&self.pool)
        .await?;
        Ok(r.try_get("n")?)
    }

    /// Operator accounts: flagged as operators or holding an unrevoked admin token (they triage
    /// evidence and are notified of it).
    pub async fn operators(&self) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT name FROM accounts WHERE is_admin = 1
             UNION SELECT account AS name FROM tokens WHERE scope = 'admin' AND revoked_at IS NULL
             ORDER BY name",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok(r.try_get("name")?)).collect()
    }

    pub async fn evidence(&self, id: i64) -> Result<Option<Evidence>> {
        let r = sqlx::query(concat!(
            "SELECT ",
            evidence_columns!(),
            " FROM hazard_evidence WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        r.as_ref().map(evidence_from_row).transpose()
    }

    pub async fn evidence_for_repo(&self, repo: &Repo) -> Result<Vec<Evidence>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            evidence_columns!(),
            " FROM hazard_evidence WHERE repo_id = $1 ORDER BY id"
        ))
        .bind(repo.id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(evidence_from_row).collect()
    }

    /// Evidence awaiting an operator (open or pending triage), across all repos, oldest first.
    pub async fn evidence_awaiting(&self, limit: i64) -> Result<Vec<Evidence>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            evidence_columns!(),
            " FROM hazard_evidence WHERE state IN ('open', 'pending_triage') ORDER BY id LIMIT $1"
        ))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(evidence_from_row).collect()
    }

    /// A reviewer's decision on open evidence (`confirmed` or `dismissed`), with its event.
    pub async fn review_evidence_logged(
        &self,
        id: i64,
        state: &str,
        severity: Option<&str>,
        reviewer: &str,
        reason: &str,
        event: &Event,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let r = sqlx::query(
            "UPDATE hazard_evidence SET state = $1, severity = $2, reviewer = $3, review_reason = $4, reviewed_at = $5
             WHERE id = $6 AND state IN ('open', 'pending_triage')",
        )
        .bind(state)
        .bind(severity)
        .bind(reviewer)
        .bind(reason)
        .bind(now())
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("open evidence #{id}")));
        }
        record_event_in(&mut tx, event).await?;
        tx.commit().await?;
        Ok(())
    }

    // ---- policy --------------------------------------------------------------------------------

    pub async fn set_policy_logged(&self, p: &StoredPolicy, event: &Event) -> Result<i64> {
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(
            "INSERT INTO policies (version, text, sha256, signature, set_by, created_at)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING seq",
        )
        .bind(&p.version)
        .bind(&p.text)
        .bind(&p.sha256)
        .bind(&p.signature)
        .bind(&p.set_by)
        .bind(p.created_at)
        .fetch_one(&mut *tx)
        .await?;
        record_event_in(&mut tx, event).await?;
        tx.commit().await?;
        Ok(row.try_get("seq")?)
    }

    /// The policy in force, `None` while the shipped default is.
    pub async fn current_policy(&self) -> Result<Option<StoredPolicy>> {
        let r = sqlx::query(
            "SELECT seq, version, text, sha256, signature, set_by, created_at FROM policies ORDER BY seq DESC LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await?;
        r.map(|r| {
            Ok(StoredPolicy {
                seq: r.try_get("seq")?,
                version: r.try_get("version")?,
                text: r.try_get("text")?,
                sha256: r.try_get("sha256")?,
                signature: r.try_get("signature")?,
                set_by: r.try_get("set_by")?,
                created_at: r.try_get("created_at")?,
            })
        })
        .transpose()
    }

    // ---- classification ------------------------------------------------------------------------

    pub async fn classification(&self, repo: &Repo) -> Result<Option<StoredClassification>> {
        let r = sqlx::query(
            "SELECT commit_id, tier, rule, policy_sha256, presumption_since, assessed_compute, bases, updated_at,
                    notified_at, notified_ref, declared_compute, declared_closed
             FROM classifications WHERE repo_id = $1",
        )
        .bind(repo.id)
        .fetch_optional(&self.pool)
        .await?;
        r.map(|r| {
            let tier: String = r.try_get("tier")?;
            let bases: String = r.try_get("bases")?;
            Ok(StoredClassification {
                bases: serde_json::from_str(&bases).map_err(corrupt)?,
                commit: r.try_get("commit_id")?,
                tier: Tier::parse(&tier).ok_or_else(|| corrupt(format!("tier {tier}")))?,
                rule: r.try_get("rule")?,
                policy_sha256: r.try_get("policy_sha256")?,
                presumption_since: r.try_get("presumption_since")?,
                assessed_compute: r.try_get("assessed_compute")?,
                declared_compute: r.try_get("declared_compute")?,
                declared_closed: r.try_get::<i64, _>("declared_closed")? != 0,
                updated_at: r.try_get("updated_at")?,
                notified: match (
                    r.try_get::<Option<i64>, _>("notified_at")?,
                    r.try_get::<Option<String>, _>("notified_ref")?,
                ) {
                    (Some(at), Some(reference)) => Some((at, reference)),
                    _ => None,
                },
            })
        })
        .transpose()
    }

    /// Stores a repo's classification. When `events` is not empty (the classification changed),
    /// they are recorded in the same transaction, and when `raise_to` is stricter than the repo's
    /// tier the tier is raised with them: a classification change takes effect at once.
    pub async fn put_classification_logged(
        &self,
        repo: &Repo,
        c: &StoredClassification,
        minimum: Option<Tier>,
        events: &[Event],
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        // The classification was decided against `repo` as it was read: if its tier or chosen
        // tier moved since (another replica's reclassification, a publisher's choice), the
        // decision is stale and is taken again. Otherwise a slow reclassification holding an
        // old, lower tier could write it over a raise that committed in between.
        let now_row = sqlx::query("SELECT tier, chosen_tier FROM repos WHERE id = $1")
            .bind(repo.id)
            .fetch_optional(&mut *tx)
            .await?;
        let current = match &now_row {
            Some(r) => (
                r.try_get::<String, _>("tier")?,
                r.try_get::<String, _>("chosen_tier")?,
            ),
            None => return Err(StoreError::NotFound(repo.repo_id.to_string())),
        };
        if current
            != (
                repo.tier.as_str().to_string(),
                repo.chosen_tier.as_str().to_string(),
            )
        {
            return Err(StoreError::StateChanged {
                record: format!("the tier of {}", repo.repo_id),
                expected: repo.tier.as_str().to_string(),
            });
        }
        // Nullable floats are bound as a number and a flag: sqlx's Any driver types a NULL
        // f64 as float4 on PostgreSQL, and a statement prepared with one type then refuses the
        // other (`incorrect binary data format`).
        sqlx::query(
            "INSERT INTO classifications (repo_id, commit_id, tier, rule, policy_sha256, presumption_since, assessed_compute, bases, updated_at, declared_compute, declared_closed)
             VALUES ($1, $2, $3, $4, $5, $6, CASE WHEN $12 = 1 THEN $7 END, $8, $9, CASE WHEN $13 = 1 THEN $10 END, $11)
             ON CONFLICT (repo_id) DO UPDATE SET commit_id = excluded.commit_id, tier = excluded.tier,
               rule = excluded.rule, policy_sha256 = excluded.policy_sha256,
               presumption_since = excluded.presumption_since, assessed_compute = excluded.assessed_compute,
               bases = excluded.bases, updated_at = excluded.updated_at,
               declared_compute = excluded.declared_compute, declared_closed = excluded.declared_closed,
               notified_at = CASE WHEN excluded.presumption_since IS NULL THEN NULL ELSE classifications.notified_at END,
               notified_ref = CASE WHEN excluded.presumption_since IS NULL THEN NULL ELSE classifications.notified_ref END",
        )
        .bind(repo.id)
        .bind(&c.commit)
        .bind(c.tier.as_str())
        .bind(c.rule.as_deref())
        .bind(&c.policy_sha256)
        .bind(c.presumption_since)
        .bind(c.assessed_compute.unwrap_or(0.0))
        .bind(serde_json::to_string(&c.bases).map_err(corrupt)?)
        .bind(c.updated_at)
        .bind(c.declared_compute.unwrap_or(0.0))
        .bind(i64::from(c.declared_closed))
        .bind(i64::from(c.assessed_compute.is_some()))
        .bind(i64::from(c.declared_compute.is_some()))
        .execute(&mut *tx)
        .await?;
        if let Some(t) = minimum {
            // The effective tier is the stricter of the chosen tier and the policy's minimum,
            // decided inside the transaction against the current row (a concurrent choice wins
            // its own rank, never a looser one).
            sqlx::query(
                "UPDATE repos SET tier = CASE
                   WHEN (CASE chosen_tier WHEN 'T0' THEN 0 WHEN 'T1' THEN 1 WHEN 'T2' THEN 2 WHEN 'T3' THEN 3 ELSE 4 END) >=
                        (CASE $1 WHEN 'T0' THEN 0 WHEN 'T1' THEN 1 WHEN 'T2' THEN 2 WHEN 'T3' THEN 3 ELSE 4 END)
                   THEN chosen_tier ELSE $1 END,
                 updated_at = $2 WHERE id = $3",
            )
            .bind(t.as_str())
            .bind(now())
            .bind(repo.id)
            .execute(&mut *tx)
            .await?;
        }
        for e in events {
            record_event_in(&mut tx, e).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Forgets what a repo's card declared before (an operator's correction of a misdeclared
    /// card); the next classification counts the card as it is.
    /// Repos whose last classification named `base` (`ns/name`) as a base model.
    /// Derivatives naming the repo by its current name or any former one (a moved base).
    pub async fn derivatives_of_any_name(
        &self,
        base: &weir_core::RepoId,
    ) -> Result<Vec<weir_core::RepoId>> {
        let mut names = vec![base.to_string()];
        if let Some(repo) = self.repo(base).await? {
            names.extend(self.former_names(&repo).await?);
        }
        let mut out: Vec<weir_core::RepoId> = Vec::new();
        for n in names {
            for d in self.derivatives_of(&n).await? {
                if !out.contains(&d) {
                    out.push(d);
                }
            }
        }
        Ok(out)
    }

    pub async fn derivatives_of(&self, base: &str) -> Result<Vec<weir_core::RepoId>> {
        let rows = sqlx::query(
            "SELECT r.namespace, r.name, c.bases FROM classifications c JOIN repos r ON r.id = c.repo_id
             WHERE c.bases LIKE $1",
        )
        .bind(format!("%{base}%"))
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::new();
        for r in rows {
            let bases: String = r.try_get("bases")?;
            let bases: Vec<String> = serde_json::from_str(&bases).map_err(corrupt)?;
            if bases.iter().any(|b| b == base) {
                let ns: String = r.try_get("namespace")?;
                let name: String = r.try_get("name")?;
                out.push(weir_core::RepoId::new(&ns, &name).map_err(corrupt)?);
            }
        }
        Ok(out)
    }

    /// Records that the notification the presumption clock asks for was made, with its event.
    pub async fn set_presumption_notified_logged(
        &self,
        repo: &Repo,
        at: i64,
        reference: &str,
        event: &Event,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let r = sqlx::query(
            "UPDATE classifications SET notified_at = $1, notified_ref = $2
             WHERE repo_id = $3 AND presumption_since IS NOT NULL",
        )
        .bind(at)
        .bind(reference)
        .bind(repo.id)
        .execute(&mut *tx)
        .await?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!(
                "a running notification clock on {}",
                repo.repo_id
            )));
        }
        record_event_in(&mut tx, event).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Forgets the declarations a card made (declared compute, closed, base models) of `repo`.
pub(crate) async fn reset_declarations_in(tx: &mut sqlx::AnyConnection, repo: &Repo) -> Result<()> {
    sqlx::query(
        "UPDATE classifications SET declared_compute = NULL, declared_closed = 0, bases = '[]'
         WHERE repo_id = $1",
    )
    .bind(repo.id)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use weir_core::git::CommitSignature;
    use weir_core::{RepoId, Tier};

    use super::StoredClassification;
    use crate::{Store, StoreError};

    /// Two replicas reclassify one repo: the one that read the repo before the other raised it
    /// must not write its older, lower tier over the raise.
    #[tokio::test]
    async fn a_classification_decided_on_a_stale_tier_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open_test(dir.path()).await.expect("open");
        store
            .db
            .create_user(&weir_core::Name::parse("alice").expect("n"), None, false)
            .await
            .expect("user");
        let sig = CommitSignature {
            name: "alice".into(),
            email: "a@x".into(),
            time: 1,
        };
        let id = RepoId::parse("alice/m").expect("id");
        let seen_by_a = store.create_repo(&id, false, sig).await.expect("repo");
        assert_eq!(seen_by_a.tier, Tier::T0);
        // Replica B raises the repo to T3 (its decision commits first).
        let seen_by_b = store.db.repo(&id).await.expect("db").expect("repo");
        let record = |tier| StoredClassification {
            commit: "0".repeat(40),
            tier,
            rule: None,
            policy_sha256: "p".into(),
            presumption_since: None,
            assessed_compute: None,
            bases: vec![],
            declared_compute: None,
            declared_closed: false,
            updated_at: 1,
            notified: None,
        };
        store
            .db
            .put_classification_logged(&seen_by_b, &record(Tier::T3), Some(Tier::T3), &[])
            .await
            .expect("raise");
        // Replica A, still holding T0, commits its decision: refused, to be taken again.
        let stale = store
            .db
            .put_classification_logged(&seen_by_a, &record(Tier::T0), Some(Tier::T0), &[])
            .await;
        assert!(
            matches!(stale, Err(StoreError::StateChanged { .. })),
            "{stale:?}"
        );
        let now = store.db.repo(&id).await.expect("db").expect("repo");
        assert_eq!(now.tier, Tier::T3, "the raise stands");
    }
}
