//! The audit event log: one row per governance event (`weir_core::Event`), append-only.

use sqlx::Row;
use weir_core::Event;

use crate::{Db, Result, StoreError};

/// Largest number of records written in one group commit.
pub const MAX_GROUP: usize = 512;

/// What one request asks the group writer to record: an event (with its queued log entry) and,
/// for a delivery to an account, who received which revision of which repo.
#[derive(Debug, Clone)]
pub struct Record {
    pub event: Option<Event>,
    /// (repo id, commit, account)
    pub delivery: Option<(i64, String, String)>,
}

struct Job {
    record: Record,
    done: tokio::sync::oneshot::Sender<Result<Option<i64>>>,
}

/// The group writer: records sent while a commit is in flight are written together in the next
/// transaction (one fsync for many), and each sender is answered only after the commit that
/// holds its record is durable. If a group fails, each of its records is written alone, so one
/// bad record fails only its own request.
#[derive(Clone)]
pub(crate) struct Recorder {
    tx: tokio::sync::mpsc::Sender<Job>,
}

impl Recorder {
    /// Starts the writer on the current runtime; it ends when the last `Db` clone (the last
    /// sender) is dropped.
    pub(crate) fn start(pool: sqlx::AnyPool, state: Shared) -> Recorder {
        let cache = state.0.clone();
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Job>(4 * MAX_GROUP);
        tokio::spawn(async move {
            let mut batch: Vec<Job> = Vec::with_capacity(MAX_GROUP);
            while rx.recv_many(&mut batch, MAX_GROUP).await > 0 {
                let records: Vec<&Record> = batch.iter().map(|j| &j.record).collect();
                let delivered = records.iter().any(|r| r.delivery.is_some());
                match write_group(&pool, &state, &records).await {
                    Ok(ids) => {
                        // Counted before anyone is answered: their next read counts them.
                        if delivered {
                            cache.delivered();
                        }
                        for (job, id) in batch.drain(..).zip(ids) {
                            let _ = job.done.send(Ok(id));
                        }
                    }
                    Err(_) => {
                        for job in batch.drain(..) {
                            let r = write_group(&pool, &state, &[&job.record])
                                .await
                                .map(|ids| ids.into_iter().next().flatten());
                            if r.is_ok() && job.record.delivery.is_some() {
                                cache.delivered();
                            }
                            let _ = job.done.send(r);
                        }
                    }
                }
            }
        });
        Recorder { tx }
    }

    pub(crate) async fn record(&self, record: Record) -> Result<Option<i64>> {
        let (done, rx) = tokio::sync::oneshot::channel();
        let gone = || StoreError::Corrupt("the event writer has stopped".into());
        self.tx
            .send(Job { record, done })
            .await
            .map_err(|_| gone())?;
        rx.await.map_err(|_| gone())?
    }
}

/// Rows per multi-row statement (11 bound values an event row; SQLite allows 32,766).
const ROWS_PER_STATEMENT: usize = 256;

/// Writes records in one transaction; the event ids in order. Events go in multi-row inserts
/// (each row's id found by its random salt, whatever order the database returns them in), the
/// sealing decision is read once per repo, and deliveries of the same revision to the same
/// account are counted together.
/// What the recorder shares with its [`Db`]: the state cache and the write queue.
pub(crate) type Shared = (
    std::sync::Arc<crate::cache::StateCache>,
    std::sync::Arc<tokio::sync::Mutex<()>>,
);

async fn write_group(
    pool: &sqlx::AnyPool,
    (_, write_lock): &Shared,
    records: &[&Record],
) -> Result<Vec<Option<i64>>> {
    use std::collections::HashMap;
    // Whether an entry is sealed is decided inside this transaction, never from a cache: the
    // repo is private now, or the log names it in clear.
    let _turn = crate::cache::write_turn(write_lock).await?;
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    let mut hidden: HashMap<String, bool> = HashMap::new();
    // (record index, event, salt, log entry)
    let mut rows = Vec::new();
    for (i, r) in records.iter().enumerate() {
        let Some(e) = &r.event else { continue };
        let mut salt = [0u8; 16];
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut salt);
        let mut sealed = false;
        for name in e.repos() {
            let h = match hidden.get(name) {
                Some(h) => *h,
                None => {
                    let h = repo_hidden(&mut tx, name).await?;
                    hidden.insert(name.to_string(), h);
                    h
                }
            };
            sealed |= h;
        }
        let entry = e.log_entry(&salt, sealed);
        rows.push((i, e, salt, entry));
    }
    let mut ids: Vec<Option<i64>> = vec![None; records.len()];
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let mut q = sqlx::QueryBuilder::<sqlx::Any>::new(
            "INSERT INTO events (at, actor, action, repo, subject, decision, reason, request_id, user_agent, details, salt) ",
        );
        q.push_values(chunk, |mut b, (_, e, salt, _)| {
            b.push_bind(e.at)
                .push_bind(e.actor.clone())
                .push_bind(e.action.clone())
                .push_bind(e.repo.clone())
                .push_bind(e.subject.clone())
                .push_bind(e.decision.clone())
                .push_bind(e.reason.clone())
                .push_bind(e.request_id.clone())
                .push_bind(e.user_agent.clone())
                .push_bind(e.details.to_string())
                .push_bind(salt.to_vec());
        });
        q.push(" RETURNING id, salt");
        let returned = q.build().fetch_all(&mut *tx).await?;
        let mut by_salt: HashMap<Vec<u8>, i64> = HashMap::with_capacity(returned.len());
        for r in &returned {
            by_salt.insert(r.try_get("salt")?, r.try_get("id")?);
        }
        let mut pending = Vec::with_capacity(chunk.len());
        for (i, _, salt, entry) in chunk {
            let id = *by_salt
                .get(&salt[..])
                .ok_or_else(|| StoreError::Corrupt("an inserted event was not returned".into()))?;
            ids[*i] = Some(id);
            pending.push((id, entry));
        }
        let mut q =
            sqlx::QueryBuilder::<sqlx::Any>::new("INSERT INTO log_pending (event_id, data) ");
        q.push_values(pending, |mut b, (id, entry)| {
            b.push_bind(id).push_bind(entry.clone());
        });
        q.build().execute(&mut *tx).await?;
    }
    let mut deliveries: HashMap<(i64, &str, &str), i64> = HashMap::new();
    for r in records {
        if let Some((repo_id, commit, account)) = &r.delivery {
            *deliveries
                .entry((*repo_id, commit.as_str(), account.as_str()))
                .or_default() += 1;
        }
    }
    let deliveries: Vec<_> = deliveries.into_iter().collect();
    let t = crate::now();
    for chunk in deliveries.chunks(ROWS_PER_STATEMENT) {
        let mut q = sqlx::QueryBuilder::<sqlx::Any>::new(
            "INSERT INTO deliveries (repo_id, commit_id, account, first_at, last_at, count) ",
        );
        q.push_values(chunk, |mut b, ((repo_id, commit, account), n)| {
            b.push_bind(*repo_id)
                .push_bind(commit.to_string())
                .push_bind(account.to_string())
                .push_bind(t)
                .push_bind(t)
                .push_bind(*n);
        });
        q.push(
            " ON CONFLICT (repo_id, commit_id, account) DO UPDATE SET last_at = excluded.last_at, count = deliveries.count + excluded.count",
        );
        q.build().execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(ids)
}

impl Db {
    /// Records an event and queues its log entry, in one transaction: every event reaches the
    /// transparency log, and the log never holds an event the database lacks.
    /// Group commit: the event is written with others waiting at the same moment, in one
    /// transaction, and this returns once that transaction is durable.
    pub async fn record_event(&self, e: &Event) -> Result<i64> {
        let id = self
            .recorder
            .record(Record {
                event: Some(e.clone()),
                delivery: None,
            })
            .await?;
        id.ok_or_else(|| StoreError::Corrupt("an event was recorded without an id".into()))
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

    /// Every name of the repo called `name` now or before (just `name` if it names none).
    async fn names_of(&self, name: &str) -> Result<Vec<String>> {
        let mut out = vec![name.to_string()];
        let Ok(id) = weir_core::RepoId::parse(name) else {
            return Ok(out);
        };
        let repo = match self.repo(&id).await? {
            Some(r) => Some(r),
            None => self.former_name_of(&id).await?,
        };
        if let Some(r) = repo {
            for n in std::iter::once(r.repo_id.to_string()).chain(self.former_names(&r).await?) {
                if !out.contains(&n) {
                    out.push(n);
                }
            }
        }
        Ok(out)
    }

    /// Events matching `f`, newest first, at most `limit`. Only the filters given are in the
    /// query, so each can use its index.
    pub async fn query_events(&self, f: &EventFilter, limit: i64) -> Result<Vec<(i64, Event)>> {
        let mut sql = String::from(
            "SELECT id, at, actor, action, repo, subject, decision, reason, request_id, user_agent, details
             FROM events WHERE 1 = 1",
        );
        // A repo is asked for under every name it has had (a moved repo's events were recorded
        // under the name of their moment), from its current name or any former one.
        let names: Vec<String> = match &f.repo {
            Some(name) => self.names_of(name).await?,
            None => Vec::new(),
        };
        let mut texts: Vec<&str> = Vec::new();
        let mut numbers: Vec<i64> = Vec::new();
        if !names.is_empty() {
            let mut marks = Vec::new();
            for n in &names {
                texts.push(n);
                marks.push(format!("${}", texts.len()));
            }
            sql.push_str(&format!(" AND repo IN ({})", marks.join(", ")));
        }
        for (col, v) in [("actor", &f.actor), ("action", &f.action)] {
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
pub(crate) async fn record_event_in(tx: &mut sqlx::AnyConnection, e: &Event) -> Result<i64> {
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
    .fetch_one(&mut *tx)
    .await?;
    let id: i64 = row.try_get("id")?;
    let sealed = is_hidden(tx, e).await?;
    sqlx::query("INSERT INTO log_pending (event_id, data) VALUES ($1, $2)")
        .bind(id)
        .bind(e.log_entry(&salt, sealed))
        .execute(&mut *tx)
        .await?;
    Ok(id)
}

/// Whether an event concerns a repo that is private now, or that does not exist (fail closed:
/// a name that is not a public repo never reaches the log in clear). Decided inside the event's
/// transaction, so a repo made private in the same transaction is already sealed.
async fn is_hidden(tx: &mut sqlx::AnyConnection, e: &Event) -> Result<bool> {
    for name in e.repos() {
        if repo_hidden(tx, name).await? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Whether a repo name is not a public repo now (private, missing or not a name).
async fn repo_hidden(tx: &mut sqlx::AnyConnection, name: &str) -> Result<bool> {
    let Some((ns, n)) = name.split_once('/') else {
        return Ok(true);
    };
    let row = sqlx::query("SELECT private FROM repos WHERE namespace = $1 AND name = $2")
        .bind(ns)
        .bind(n)
        .fetch_optional(&mut *tx)
        .await?;
    Ok(!matches!(row, Some(r) if r.try_get::<i64, _>("private")? == 0))
}

#[cfg(test)]
mod tests {
    use sqlx::Row;

    /// Many records sent at once (one group or a few, several statements each): every event
    /// has its log entry and every delivery is counted, nothing lost or doubled.
    #[tokio::test]
    async fn a_group_writes_every_event_entry_and_delivery() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = crate::Store::open_data_dir(dir.path())
            .await
            .expect("store");
        let sig = weir_core::git::CommitSignature {
            name: "t".into(),
            email: "t@x".into(),
            time: 1,
        };
        let id = weir_core::RepoId::parse("acme/m").expect("id");
        store
            .db
            .create_user(&weir_core::Name::parse("acme").expect("name"), None, false)
            .await
            .expect("user");
        store.create_repo(&id, false, sig).await.expect("repo");
        let repo = store.db.repo(&id).await.expect("db").expect("repo");
        let n = 700usize;
        let mut tasks = Vec::new();
        for i in 0..n {
            let (db, repo) = (store.db.clone(), repo.clone());
            tasks.push(tokio::spawn(async move {
                let e = weir_core::Event {
                    at: i as i64,
                    actor: Some(format!("u{}", i % 300)),
                    action: "download".into(),
                    repo: Some("acme/m".into()),
                    subject: None,
                    decision: "allow".into(),
                    reason: "ok".into(),
                    request_id: None,
                    user_agent: None,
                    details: serde_json::json!({"i": i}),
                };
                let account = format!("u{}", i % 300);
                db.record_download(Some(&e), Some((&repo, "c0ffee", &account)))
                    .await
                    .expect("record");
            }));
        }
        for t in tasks {
            t.await.expect("join");
        }
        let count = |sql: &'static str| {
            let db = store.db.clone();
            async move {
                sqlx::query(sql)
                    .fetch_one(&db.pool)
                    .await
                    .expect("count")
                    .try_get::<i64, _>(0)
                    .expect("n")
            }
        };
        assert_eq!(
            count("SELECT COUNT(*) FROM events WHERE action = 'download'").await,
            n as i64
        );
        assert_eq!(
            count("SELECT COUNT(*) FROM log_pending p JOIN events e ON e.id = p.event_id WHERE e.action = 'download'").await,
            n as i64,
            "an event without its log entry"
        );
        assert_eq!(count("SELECT COUNT(*) FROM deliveries").await, 300);
        assert_eq!(count("SELECT SUM(count) FROM deliveries").await, n as i64);
    }
}
