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
    /// The sender's guess that the event's entry will be sealed (its repo was private when the
    /// request read it): which of the two entries to compute ahead. Only a guess; the writer
    /// decides inside its transaction and computes the other entry when the guess was wrong.
    pub likely_sealed: bool,
}

/// A record as the group writer takes it: what does not depend on the database (the salt, the
/// details text, the log entry of a public repo's event) is computed by the sender, in parallel
/// with other requests, not in the writer's one serial transaction.
struct Prepared {
    event: Option<PreparedEvent>,
    delivery: Option<(i64, String, String)>,
}

struct PreparedEvent {
    event: Event,
    salt: [u8; 16],
    details: String,
    /// The log entry, sealed or not as the sender guessed (`entry_sealed`); the writer decides
    /// inside its transaction and computes the other one when the guess was wrong.
    entry: Vec<u8>,
    entry_sealed: bool,
}

impl Prepared {
    fn new(record: Record) -> Prepared {
        let event = record.event.map(|event| {
            let mut salt = [0u8; 16];
            rand::RngCore::fill_bytes(&mut rand::rng(), &mut salt);
            let details = event.details.to_string();
            PreparedEvent {
                entry: event.log_entry(&salt, record.likely_sealed),
                entry_sealed: record.likely_sealed,
                details,
                salt,
                event,
            }
        });
        Prepared {
            event,
            delivery: record.delivery,
        }
    }
}

impl PreparedEvent {
    /// Binds the event row's columns (after its id, where the writer gives one) in the order
    /// both writers name them: at, actor, action, repo, subject, decision, reason, request_id,
    /// user_agent, details, salt.
    fn bind_row(&self, b: &mut sqlx::query_builder::Separated<'_, sqlx::Any, &'static str>) {
        let e = &self.event;
        b.push_bind(e.at)
            .push_bind(e.actor.clone())
            .push_bind(e.action.clone())
            .push_bind(e.repo.clone())
            .push_bind(e.subject.clone())
            .push_bind(e.decision.clone())
            .push_bind(e.reason.clone())
            .push_bind(e.request_id.clone())
            .push_bind(e.user_agent.clone())
            .push_bind(self.details.clone())
            .push_bind(self.salt.to_vec());
    }

    /// The log entry, sealed or not.
    fn entry_for(&self, sealed: bool) -> Vec<u8> {
        if sealed == self.entry_sealed {
            self.entry.clone()
        } else {
            self.event.log_entry(&self.salt, sealed)
        }
    }
}

struct Job {
    record: Prepared,
    done: tokio::sync::oneshot::Sender<Result<Option<i64>>>,
}

/// The group writer: records sent while a commit is in flight are written together in the next
/// transaction (one fsync for many), and each sender is answered only after the commit that
/// holds its record is durable. If a group fails, each of its records is written alone, so one
/// bad record fails only its own request.
#[derive(Clone)]
pub(crate) struct Recorder {
    tx: tokio::sync::mpsc::Sender<Job>,
    /// Set by tests that move the actor index's mark themselves.
    index_paused: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Recorder {
    /// Starts the writer on the current runtime; it ends when the last `Db` clone (the last
    /// sender) is dropped.
    pub(crate) fn start(pool: sqlx::AnyPool, backend: crate::Backend, state: Shared) -> Recorder {
        let cache = state.0.clone();
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Job>(4 * MAX_GROUP);
        // The actor index follows the writer, and stops with it (when no `Db` is left).
        let alive = tx.downgrade();
        let (index_pool, index_state) = (pool.clone(), state.clone());
        let index_paused = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let paused = index_paused.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(INDEX_EVERY).await;
                if alive.upgrade().is_none() {
                    break;
                }
                // Catching up is done a step at a time, each its own transaction, so the
                // recorder gets the write lock between steps.
                while !paused.load(std::sync::atomic::Ordering::Relaxed) {
                    match index_actors(&index_pool, backend, &index_state, INDEX_STEP).await {
                        Ok(n) if n < INDEX_STEP as u64 => break,
                        Ok(_) => tokio::task::yield_now().await,
                        // Retried at the next tick; reads stay exact meanwhile (they scan what
                        // is above the mark), only slower while it lags.
                        Err(e) => {
                            tracing::warn!(error = %e, "the actor index did not catch up; retrying");
                            break;
                        }
                    }
                }
            }
        });
        tokio::spawn(async move {
            let mut batch: Vec<Job> = Vec::with_capacity(MAX_GROUP);
            let mut conn: Option<sqlx::AnyConnection> = None;
            while rx.recv_many(&mut batch, MAX_GROUP).await > 0 {
                let records: Vec<&Prepared> = batch.iter().map(|j| &j.record).collect();
                let delivered = records.iter().any(|r| r.delivery.is_some());
                match write_group(&pool, backend, &mut conn, &state, &records).await {
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
                            let r = write_group(&pool, backend, &mut conn, &state, &[&job.record])
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
            if let Some(c) = conn {
                let _ = sqlx::Connection::close(c).await;
            }
        });
        Recorder { tx, index_paused }
    }

    pub(crate) async fn record(&self, record: Record) -> Result<Option<i64>> {
        let (done, rx) = tokio::sync::oneshot::channel();
        let gone = || StoreError::Corrupt("the event writer has stopped".into());
        self.tx
            .send(Job {
                record: Prepared::new(record),
                done,
            })
            .await
            .map_err(|_| gone())?;
        rx.await.map_err(|_| gone())?
    }
}

/// How often the actor index catches up with the events table, and how many events one of its
/// transactions covers at most.
const INDEX_EVERY: std::time::Duration = std::time::Duration::from_secs(1);
const INDEX_STEP: i64 = 10_000;

/// Adds the events above `event_index.through` (at most `limit`) to `event_actors` and moves
/// the mark past them, in one transaction; how many events it covered. Event ids only grow
/// (each is given under the write lock, above every id before it), so no event ever appears
/// below the mark.
async fn index_actors(
    pool: &sqlx::AnyPool,
    backend: crate::Backend,
    (_, write_lock): &Shared,
    limit: i64,
) -> Result<u64> {
    let _turn = crate::cache::write_turn(write_lock).await?;
    let mut tx = crate::dialect::begin_write(pool, backend).await?;
    let through: i64 =
        sqlx::query("SELECT COALESCE((SELECT through FROM event_index WHERE id = 1), 0)")
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
    let row = sqlx::query(
        "SELECT MAX(id) AS upto, COUNT(*) AS n FROM (SELECT id FROM events WHERE id > $1 ORDER BY id LIMIT $2) t",
    )
    .bind(through)
    .bind(limit)
    .fetch_one(&mut *tx)
    .await?;
    let (upto, n): (Option<i64>, i64) = (row.try_get("upto")?, row.try_get("n")?);
    let Some(upto) = upto else {
        return Ok(0);
    };
    sqlx::query(
        "INSERT INTO event_actors (actor, event_id)
         SELECT actor, id FROM events WHERE id > $1 AND id <= $2 AND actor IS NOT NULL
         ON CONFLICT DO NOTHING",
    )
    .bind(through)
    .bind(upto)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO event_index (id, through) VALUES (1, $1)
         ON CONFLICT (id) DO UPDATE SET through = excluded.through",
    )
    .bind(upto)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(n as u64)
}

/// Rows per multi-row statement of the portable writer (11 bound values an event row; SQLite
/// allows 32,766).
const ROWS_PER_STATEMENT: usize = 256;

/// What the recorder shares with its [`Db`]: the state cache and the write queue.
pub(crate) type Shared = (
    std::sync::Arc<crate::cache::StateCache>,
    std::sync::Arc<tokio::sync::Mutex<()>>,
);

/// Writes records in one transaction on the writer's own connection; the event ids in order.
/// The connection is taken out of the pool (detached) and kept: SQLite keeps a connection's
/// page cache between its transactions only while no other connection wrote, so the pages the
/// writer touches (the tails of the events table, its indexes and the log queue) stay warm, and
/// a connection left mid-transaction by a failure is closed (rolled back), never handed to
/// another caller.
async fn write_group(
    pool: &sqlx::AnyPool,
    backend: crate::Backend,
    conn: &mut Option<sqlx::AnyConnection>,
    (_, write_lock): &Shared,
    records: &[&Prepared],
) -> Result<Vec<Option<i64>>> {
    // Whether an entry is sealed is decided inside this transaction, never from a cache: the
    // repo is private now, or the log names it in clear.
    let _turn = crate::cache::write_turn(write_lock).await?;
    let c = match conn {
        Some(c) => c,
        None => conn.insert(pool.acquire().await?.detach()),
    };
    let group = match backend {
        crate::Backend::Sqlite => write_group_sqlite(c, records).await,
        crate::Backend::Postgres => write_group_portable(c, backend, records).await,
    };
    if group.is_err()
        && let Some(c) = conn.take()
    {
        let _ = sqlx::Connection::close(c).await;
    }
    group
}

/// The first round trip of SQLite's writer: takes the write lock, then reads the last event id
/// (ids are given explicitly, so each log entry names its event whatever order rows are written
/// in) and which of the group's repos (`[[namespace, name], …]`) are not public now.
const SQLITE_BEGIN: &str = "BEGIN IMMEDIATE;
SELECT -1 AS k, MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0),
                    COALESCE((SELECT MAX(id) FROM events), 0)) AS base
UNION ALL
SELECT j.key, 0 FROM json_each($1) j
WHERE NOT EXISTS (SELECT 1 FROM repos r
                  WHERE r.namespace = j.value ->> 0 AND r.name = j.value ->> 1 AND r.private = 0)";

/// Every repo the group's events concern, once.
fn repo_names<'a>(records: &[&'a Prepared]) -> Vec<&'a str> {
    let mut seen: std::collections::HashSet<&str> = std::collections::HashSet::new();
    let mut names: Vec<&str> = Vec::new();
    for r in records {
        if let Some(p) = &r.event {
            for n in p.event.repos() {
                if seen.insert(n) {
                    names.push(n);
                }
            }
        }
    }
    names
}

/// Deliveries of the same revision to the same account counted together.
fn delivery_counts<'a>(records: &[&'a Prepared]) -> Vec<((i64, &'a str, &'a str), i64)> {
    let mut counts: std::collections::HashMap<(i64, &str, &str), i64> =
        std::collections::HashMap::new();
    for r in records {
        if let Some((repo_id, commit, account)) = &r.delivery {
            *counts
                .entry((*repo_id, commit.as_str(), account.as_str()))
                .or_default() += 1;
        }
    }
    counts.into_iter().collect()
}

/// SQLite's writer: two round trips whatever the group's size.
async fn write_group_sqlite(
    c: &mut sqlx::AnyConnection,
    records: &[&Prepared],
) -> Result<Vec<Option<i64>>> {
    let names = repo_names(records);
    // A name that is not `namespace/name` is never a public repo.
    let mut hidden: std::collections::HashSet<&str> =
        names.iter().copied().filter(|n| !n.contains('/')).collect();
    // The names that may be repos, and the same as [namespace, name] pairs, index for index.
    let named: Vec<&str> = names.iter().copied().filter(|n| n.contains('/')).collect();
    let pairs: Vec<(&str, &str)> = named.iter().filter_map(|n| n.split_once('/')).collect();
    let rows = sqlx::query(SQLITE_BEGIN)
        .bind(serde_json::to_string(&pairs).map_err(|e| StoreError::Corrupt(e.to_string()))?)
        .fetch_all(&mut *c)
        .await?;
    let mut base: Option<i64> = None;
    for r in &rows {
        let k: i64 = r.try_get("k")?;
        if k < 0 {
            base = Some(r.try_get("base")?);
        } else {
            let name = usize::try_from(k)
                .ok()
                .and_then(|k| named.get(k))
                .ok_or_else(|| {
                    StoreError::Corrupt("the visibility read named no repo of the group".into())
                })?;
            hidden.insert(*name);
        }
    }
    let base = base.ok_or_else(|| StoreError::Corrupt("no last event id".into()))?;
    // The second round trip: every event, log entry and delivery of the group, then the
    // commit. Ids are given explicitly (the last one read above, plus one for each), so each
    // log entry names its event whatever order rows are written in. OR ROLLBACK: a failing row
    // ends the whole transaction (the group is then written record by record), so SQLite keeps
    // no statement journal for a partial undo.
    let mut ids: Vec<Option<i64>> = vec![None; records.len()];
    let mut rows: Vec<(i64, &PreparedEvent, bool)> = Vec::new();
    for (i, r) in records.iter().enumerate() {
        let Some(p) = &r.event else { continue };
        let id = base + 1 + rows.len() as i64;
        ids[i] = Some(id);
        rows.push((id, p, p.event.repos().iter().any(|n| hidden.contains(n))));
    }
    let mut q = sqlx::QueryBuilder::<sqlx::Any>::new("");
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        q.push(
            "INSERT OR ROLLBACK INTO events (id, at, actor, action, repo, subject, decision, reason, request_id, user_agent, details, salt) ",
        );
        q.push_values(chunk, |mut b, (id, p, _)| {
            b.push_bind(*id);
            p.bind_row(&mut b);
        });
        q.push("; INSERT OR ROLLBACK INTO log_pending (event_id, data) ");
        q.push_values(chunk, |mut b, (id, p, sealed)| {
            b.push_bind(*id).push_bind(p.entry_for(*sealed));
        });
        q.push("; ");
    }
    let deliveries = delivery_counts(records);
    let t = crate::now();
    for chunk in deliveries.chunks(ROWS_PER_STATEMENT) {
        q.push("INSERT INTO deliveries (repo_id, commit_id, account, first_at, last_at, count) ");
        q.push_values(chunk, |mut b, ((repo_id, commit, account), n)| {
            b.push_bind(*repo_id)
                .push_bind(commit.to_string())
                .push_bind(account.to_string())
                .push_bind(t)
                .push_bind(t)
                .push_bind(*n);
        });
        q.push(
            " ON CONFLICT (repo_id, commit_id, account) DO UPDATE SET last_at = excluded.last_at, count = deliveries.count + excluded.count; ",
        );
    }
    q.push("COMMIT");
    crate::dialect::numbered(&mut q)?.execute(&mut *c).await?;
    Ok(ids)
}

/// The portable writer (any engine): multi-row inserts in a transaction, each event's id found
/// by its random salt among the returned rows.
async fn write_group_portable(
    c: &mut sqlx::AnyConnection,
    backend: crate::Backend,
    records: &[&Prepared],
) -> Result<Vec<Option<i64>>> {
    use std::collections::HashMap;
    // The write lock, as every write transaction (event ids are committed in the order given).
    let mut tx = crate::dialect::begin_write_on(c, backend).await?;
    let mut hidden = std::collections::HashSet::new();
    for n in repo_names(records) {
        if repo_hidden(&mut tx, n).await? {
            hidden.insert(n);
        }
    }
    // (record index, event, its entry)
    let mut rows: Vec<(usize, &PreparedEvent, Vec<u8>)> = Vec::new();
    for (i, r) in records.iter().enumerate() {
        let Some(p) = &r.event else { continue };
        let sealed = p.event.repos().iter().any(|n| hidden.contains(n));
        rows.push((i, p, p.entry_for(sealed)));
    }
    let mut ids: Vec<Option<i64>> = vec![None; records.len()];
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let mut q = sqlx::QueryBuilder::<sqlx::Any>::new(
            "INSERT INTO events (at, actor, action, repo, subject, decision, reason, request_id, user_agent, details, salt) ",
        );
        q.push_values(chunk, |mut b, (_, p, _)| p.bind_row(&mut b));
        q.push(" RETURNING id, salt");
        let returned = crate::dialect::numbered(&mut q)?
            .fetch_all(&mut *tx)
            .await?;
        let mut by_salt: HashMap<Vec<u8>, i64> = HashMap::with_capacity(returned.len());
        for r in &returned {
            by_salt.insert(r.try_get("salt")?, r.try_get("id")?);
        }
        let mut q =
            sqlx::QueryBuilder::<sqlx::Any>::new("INSERT INTO log_pending (event_id, data) ");
        let mut pending = Vec::with_capacity(chunk.len());
        for (i, p, entry) in chunk {
            let id = *by_salt
                .get(&p.salt[..])
                .ok_or_else(|| StoreError::Corrupt("an inserted event was not returned".into()))?;
            ids[*i] = Some(id);
            pending.push((id, entry));
        }
        q.push_values(pending, |mut b, (id, entry)| {
            b.push_bind(id).push_bind(entry.clone());
        });
        crate::dialect::numbered(&mut q)?.execute(&mut *tx).await?;
    }
    let deliveries = delivery_counts(records);
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
        crate::dialect::numbered(&mut q)?.execute(&mut *tx).await?;
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
                likely_sealed: false,
            })
            .await?;
        id.ok_or_else(|| StoreError::Corrupt("an event was recorded without an id".into()))
    }

    /// Stops (or resumes) the actor index's background step, for tests that move its mark
    /// themselves. Reads are exact either way.
    #[doc(hidden)]
    pub fn pause_actor_index(&self, paused: bool) {
        self.recorder
            .index_paused
            .store(paused, std::sync::atomic::Ordering::Relaxed);
    }

    /// Brings the actor index up to date now; how many events it covered.
    #[doc(hidden)]
    pub async fn index_event_actors(&self) -> Result<u64> {
        let shared = (self.cache.clone(), self.write_lock.clone());
        let mut total = 0;
        loop {
            let n = index_actors(&self.pool, self.backend, &shared, INDEX_STEP).await?;
            total += n;
            if n < INDEX_STEP as u64 {
                return Ok(total);
            }
        }
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
    /// query, so each can use its index. By actor: the events above the actor index's mark are
    /// scanned (a second's worth at most, while the index keeps up), then the indexed ones
    /// below it are read through `event_actors`, both in the order of their ids.
    pub async fn query_events(&self, f: &EventFilter, limit: i64) -> Result<Vec<(i64, Event)>> {
        // A repo is asked for under every name it has had (a moved repo's events were recorded
        // under the name of their moment), from its current name or any former one.
        let names: Vec<String> = match &f.repo {
            Some(name) => self.names_of(name).await?,
            None => Vec::new(),
        };
        // The conditions other than the actor's, on columns only `events` has, so they read
        // the same in both of the actor's queries. Values are bound: only fixed column names
        // and numbered placeholders go into the text.
        let mut conds = String::new();
        let mut binds: Vec<Bind> = Vec::new();
        let mark = |b: Bind, binds: &mut Vec<Bind>| {
            binds.push(b);
            format!("${}", binds.len())
        };
        if !names.is_empty() {
            let marks: Vec<String> = names
                .iter()
                .map(|n| mark(Bind::Text(n.clone()), &mut binds))
                .collect();
            conds.push_str(&format!(" AND repo IN ({})", marks.join(", ")));
        }
        if let Some(v) = &f.action {
            let m = mark(Bind::Text(v.clone()), &mut binds);
            conds.push_str(&format!(" AND action = {m}"));
        }
        for (cond, v) in [
            ("at >=", f.since),
            ("at <=", f.until),
            ("id <", f.before_id),
        ] {
            if let Some(v) = v {
                let m = mark(Bind::Int(v), &mut binds);
                conds.push_str(&format!(" AND {cond} {m}"));
            }
        }
        const COLUMNS: &str = "id, at, actor, action, repo, subject, decision, reason, request_id, user_agent, details";
        let Some(actor) = &f.actor else {
            let l = mark(Bind::Int(limit), &mut binds);
            let sql = format!(
                "SELECT {COLUMNS} FROM events WHERE 1 = 1{conds} ORDER BY id DESC LIMIT {l}"
            );
            return self.read_events(sql, &binds).await;
        };
        let through: i64 =
            sqlx::query("SELECT COALESCE((SELECT through FROM event_index WHERE id = 1), 0)")
                .fetch_one(&self.pool)
                .await?
                .try_get(0)?;
        let a = mark(Bind::Text(actor.clone()), &mut binds);
        let t = mark(Bind::Int(through), &mut binds);
        let l = mark(Bind::Int(limit), &mut binds);
        let mut out = self
            .read_events(
                format!(
                    "SELECT {COLUMNS} FROM events WHERE id > {t} AND actor = {a}{conds}
                     ORDER BY id DESC LIMIT {l}"
                ),
                &binds,
            )
            .await?;
        let rest = limit - out.len() as i64;
        if rest > 0 {
            if let Some(Bind::Int(n)) = binds.last_mut() {
                *n = rest;
            }
            let columns = COLUMNS
                .split(", ")
                .map(|c| format!("e.{c}"))
                .collect::<Vec<_>>()
                .join(", ");
            out.extend(
                self.read_events(
                    format!(
                        "SELECT {columns} FROM event_actors x JOIN events e ON e.id = x.event_id
                         WHERE x.actor = {a} AND x.event_id <= {t}{conds}
                         ORDER BY x.event_id DESC LIMIT {l}"
                    ),
                    &binds,
                )
                .await?,
            );
        }
        Ok(out)
    }

    /// Runs one of [`Db::query_events`]' queries.
    async fn read_events(&self, sql: String, binds: &[Bind]) -> Result<Vec<(i64, Event)>> {
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for b in binds {
            q = match b {
                Bind::Text(t) => q.bind(t.clone()),
                Bind::Int(n) => q.bind(*n),
            };
        }
        let rows = q.fetch_all(&self.pool).await?;
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

/// A value bound into an event query.
enum Bind {
    Text(String),
    Int(i64),
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

    fn event(at: i64, repo: Option<&str>, actor: &str) -> weir_core::Event {
        weir_core::Event {
            at,
            actor: Some(actor.into()),
            action: "download".into(),
            repo: repo.map(str::to_string),
            subject: None,
            decision: "allow".into(),
            reason: "ok".into(),
            request_id: Some(format!("req-{at}")),
            user_agent: None,
            details: serde_json::json!({"at": at}),
        }
    }

    /// The one number a counting query answers.
    async fn count(db: &crate::Db, sql: &'static str) -> i64 {
        sqlx::query(sql)
            .fetch_one(&db.pool)
            .await
            .expect("count")
            .try_get::<i64, _>(0)
            .expect("n")
    }

    async fn store_with_repos() -> (tempfile::TempDir, crate::Store, i64) {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = crate::Store::open_test(dir.path()).await.expect("store");
        let sig = weir_core::git::CommitSignature {
            name: "t".into(),
            email: "t@x".into(),
            time: 1,
        };
        store
            .db
            .create_user(&weir_core::Name::parse("acme").expect("name"), None, false)
            .await
            .expect("user");
        for (name, private) in [("acme/open", false), ("acme/secret", true)] {
            let id = weir_core::RepoId::parse(name).expect("id");
            store
                .create_repo(&id, private, sig.clone())
                .await
                .expect("repo");
        }
        let open = store
            .db
            .repo(&weir_core::RepoId::parse("acme/open").expect("id"))
            .await
            .expect("db")
            .expect("repo");
        (dir, store, open.id)
    }

    /// SQLite's two-round-trip writer and the portable one write the same thing: each event
    /// under the id returned to its sender, its log entry under that id (sealed when its repo
    /// is private, missing or not a name), and deliveries counted.
    #[tokio::test]
    async fn both_writers_number_seal_and_count_alike() {
        let (_dir, store, open) = store_with_repos().await;
        store.db.pause_actor_index(true);
        let count = |sql: &'static str| count(&store.db, sql);
        // More than one statement's worth of rows (256), so both writers cross a chunk.
        let n = 300i64;
        let writers: &[bool] = match store.db.backend {
            crate::Backend::Sqlite => &[true, false],
            crate::Backend::Postgres => &[false],
        };
        for &sqlite in writers {
            let (events_before, entries_before) = (
                count("SELECT COUNT(*) FROM events").await,
                count("SELECT COUNT(*) FROM log_pending").await,
            );
            let repos = [
                Some("acme/open"),
                Some("acme/secret"),
                Some("acme/missing"),
                Some("not-a-name"),
                None,
                // public, but its public facts name a private repo
                Some("acme/open"),
            ];
            let records: Vec<super::Prepared> = (0..n)
                .map(|i| {
                    let mut e = event(i, repos[i as usize % 6], "u");
                    if i % 6 == 5 {
                        e.details = serde_json::json!({"public": {"repo": "acme/secret"}});
                    }
                    super::Prepared::new(super::Record {
                        event: (i % 7 != 3).then_some(e),
                        delivery: (i % 2 == 0)
                            .then(|| (open, "c0ffee".into(), format!("a{}", i % 3))),
                        // Guesses right and wrong both ways.
                        likely_sealed: i % 4 == 1,
                    })
                })
                .collect();
            let refs: Vec<&super::Prepared> = records.iter().collect();
            let mut conn = store.db.pool.acquire().await.expect("conn").detach();
            let ids = if sqlite {
                super::write_group_sqlite(&mut conn, &refs).await
            } else {
                super::write_group_portable(&mut conn, store.db.backend, &refs).await
            }
            .expect("group");
            assert_eq!(ids.len(), records.len());
            let written = ids.iter().flatten().count() as i64;
            assert_eq!(
                count("SELECT COUNT(*) FROM events").await - events_before,
                written
            );
            assert_eq!(
                count("SELECT COUNT(*) FROM log_pending").await - entries_before,
                written,
                "one log entry an event, no more"
            );
            for (r, id) in records.iter().zip(&ids) {
                let Some(p) = &r.event else {
                    assert_eq!(*id, None, "a delivery alone has no event id");
                    continue;
                };
                let id = id.expect("an event id");
                let row = sqlx::query(
                    "SELECT e.at, e.request_id, e.salt, p.data FROM events e JOIN log_pending p ON p.event_id = e.id WHERE e.id = $1",
                )
                .bind(id)
                .fetch_one(&store.db.pool)
                .await
                .expect("event and its entry");
                assert_eq!(row.try_get::<i64, _>("at").expect("at"), p.event.at);
                assert_eq!(
                    row.try_get::<Option<String>, _>("request_id").expect("rid"),
                    p.event.request_id
                );
                let salt: Vec<u8> = row.try_get("salt").expect("salt");
                // Sealed when any repo it names is not the public one (none: nothing to seal).
                let hidden = p.event.repos().iter().any(|n| *n != "acme/open");
                assert_eq!(
                    row.try_get::<Vec<u8>, _>("data").expect("data"),
                    p.event.log_entry(&salt, hidden),
                    "the entry of event {} (sealed: {hidden})",
                    p.event.at
                );
            }
            let mut sorted: Vec<i64> = ids.iter().flatten().copied().collect();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(sorted.len() as i64, written, "ids are distinct");
        }
        // Each account's deliveries, both groups together.
        for k in 0..3 {
            let got: i64 = sqlx::query("SELECT count FROM deliveries WHERE account = $1")
                .bind(format!("a{k}"))
                .fetch_one(&store.db.pool)
                .await
                .expect("delivery")
                .try_get(0)
                .expect("n");
            let want =
                writers.len() as i64 * (0..n).filter(|i| i % 2 == 0 && i % 3 == k).count() as i64;
            assert_eq!(got, want, "deliveries to a{k}");
        }
    }

    /// A group whose delivery fails (its repo does not exist) commits nothing of the group: no
    /// event, no log entry, no delivery; and the connection it ran on is left to be closed.
    #[tokio::test]
    async fn a_failed_group_commits_nothing() {
        let (_dir, store, open) = store_with_repos().await;
        store.db.pause_actor_index(true);
        let count = |sql: &'static str| count(&store.db, sql);
        let before = (
            count("SELECT COUNT(*) FROM events").await,
            count("SELECT COUNT(*) FROM log_pending").await,
            count("SELECT COUNT(*) FROM deliveries").await,
        );
        let records: Vec<super::Prepared> = (0..10i64)
            .map(|i| {
                super::Prepared::new(super::Record {
                    event: Some(event(i, Some("acme/open"), "u")),
                    delivery: Some((
                        if i == 9 { open + 1_000_000 } else { open },
                        "c0ffee".into(),
                        "erin".into(),
                    )),
                    likely_sealed: false,
                })
            })
            .collect();
        let refs: Vec<&super::Prepared> = records.iter().collect();
        let mut conn = store.db.pool.acquire().await.expect("conn").detach();
        assert!(super::write_group_sqlite(&mut conn, &refs).await.is_err());
        sqlx::Connection::close(conn).await.expect("close");
        let after = (
            count("SELECT COUNT(*) FROM events").await,
            count("SELECT COUNT(*) FROM log_pending").await,
            count("SELECT COUNT(*) FROM deliveries").await,
        );
        assert_eq!(before, after, "nothing of the failed group is visible");
        // And the write lock is free again.
        store
            .db
            .record_event(&event(99, Some("acme/open"), "u"))
            .await
            .expect("a write after the failure");
    }

    /// Reads by actor are the same whether the actor index has caught up, not at all, or
    /// half-way (its mark between a page's events), with the other filters and paging.
    #[tokio::test]
    async fn reads_by_actor_do_not_depend_on_the_index() {
        let (_dir, store, _) = store_with_repos().await;
        let db = &store.db;
        let record = |from: i64, to: i64| {
            let db = db.clone();
            async move {
                for i in from..to {
                    let mut e = event(i, Some("acme/open"), ["ann", "bob", "cy"][i as usize % 3]);
                    if i % 5 == 0 {
                        e.action = "access.request".into();
                    }
                    db.record_event(&e).await.expect("record");
                }
            }
        };
        let filters = |before: Option<i64>| {
            let mut out = Vec::new();
            for actor in ["ann", "bob", "nobody"] {
                for action in [None, Some("download")] {
                    out.push(super::EventFilter {
                        actor: Some(actor.into()),
                        action: action.map(str::to_string),
                        since: Some(3),
                        before_id: before,
                        ..super::EventFilter::default()
                    });
                }
            }
            out
        };
        // What a scan of every event says.
        let expected = |all: &[(i64, weir_core::Event)], f: &super::EventFilter, limit: usize| {
            all.iter()
                .filter(|(id, e)| {
                    e.actor == f.actor
                        && f.action.as_ref().is_none_or(|a| &e.action == a)
                        && f.since.is_none_or(|s| e.at >= s)
                        && f.before_id.is_none_or(|b| *id < b)
                })
                .take(limit)
                .map(|(id, _)| *id)
                .collect::<Vec<_>>()
        };
        let check = |stage: &'static str| {
            let db = db.clone();
            async move {
                let all = db
                    .query_events(&super::EventFilter::default(), 10_000)
                    .await
                    .expect("all");
                for before in [None, Some(all[all.len() / 2].0), Some(all[5].0)] {
                    for f in filters(before) {
                        for limit in [1usize, 4, 1000] {
                            let got: Vec<i64> = db
                                .query_events(&f, limit as i64)
                                .await
                                .expect("query")
                                .into_iter()
                                .map(|(id, _)| id)
                                .collect();
                            assert_eq!(
                                got,
                                expected(&all, &f, limit),
                                "{stage}: {f:?} limit {limit}"
                            );
                        }
                    }
                }
            }
        };
        db.pause_actor_index(true);
        let step = |n: i64| {
            let db = db.clone();
            async move {
                super::index_actors(
                    &db.pool,
                    db.backend,
                    &(db.cache.clone(), db.write_lock.clone()),
                    n,
                )
                .await
                .expect("step")
            }
        };
        record(0, 29).await;
        check("nothing indexed").await;
        // The mark on event 28, by bob (queried).
        assert_eq!(db.index_event_actors().await.expect("index"), 29);
        check("all indexed, the mark on bob's").await;
        record(29, 60).await;
        check("half indexed").await;
        // The mark on event 36, by ann, then 37, by bob: in the middle of what pages read.
        assert_eq!(step(8).await, 8);
        check("the mark on ann's, mid-page").await;
        assert_eq!(step(1).await, 1);
        check("the mark on bob's, mid-page").await;
        assert_eq!(db.index_event_actors().await.expect("index"), 22);
        check("all indexed again").await;
        assert_eq!(step(100).await, 0, "nothing left above the mark");
        if db.backend != crate::Backend::Sqlite {
            return;
        }
        let plan: Vec<String> = sqlx::query(
            "EXPLAIN QUERY PLAN SELECT e.id FROM event_actors x JOIN events e ON e.id = x.event_id WHERE x.actor = 'ann' AND x.event_id <= 10 ORDER BY x.event_id DESC LIMIT 5",
        )
        .fetch_all(&db.pool)
        .await
        .expect("plan")
        .iter()
        .map(|r| r.try_get::<String, _>("detail").expect("detail"))
        .collect();
        assert!(
            plan.iter()
                .any(|d| d.contains("SEARCH x USING PRIMARY KEY"))
                && !plan.iter().any(|d| d.contains("TEMP B-TREE")),
            "the indexed part reads one actor's ids in order: {plan:?}"
        );
    }

    /// A record that cannot be written (a delivery of a repo that does not exist) fails its own
    /// request only: the others of its group are written, and the writer goes on.
    #[tokio::test]
    async fn a_failing_record_fails_alone() {
        let (_dir, store, open) = store_with_repos().await;
        let repo = store
            .db
            .repo(&weir_core::RepoId::parse("acme/open").expect("id"))
            .await
            .expect("db")
            .expect("repo");
        let mut ghost = repo.clone();
        ghost.id = open + 1_000_000;
        let mut tasks = Vec::new();
        for i in 0..50i64 {
            let (db, repo) = (
                store.db.clone(),
                if i == 17 { ghost.clone() } else { repo.clone() },
            );
            tasks.push(tokio::spawn(async move {
                let e = event(i, Some("acme/open"), "u");
                db.record_download(Some(&e), Some((&repo, "c0ffee", "erin")))
                    .await
                    .is_ok()
            }));
        }
        let mut ok = Vec::new();
        for t in tasks {
            ok.push(t.await.expect("join"));
        }
        assert_eq!(ok.iter().filter(|o| !**o).count(), 1, "{ok:?}");
        assert!(!ok[17]);
        let after = store
            .db
            .record_event(&event(99, Some("acme/open"), "u"))
            .await
            .expect("the writer goes on");
        assert!(after > 0);
        let n: i64 = sqlx::query("SELECT COUNT(*) FROM log_pending")
            .fetch_one(&store.db.pool)
            .await
            .expect("count")
            .try_get(0)
            .expect("n");
        let events: i64 = sqlx::query("SELECT COUNT(*) FROM events WHERE action = 'download'")
            .fetch_one(&store.db.pool)
            .await
            .expect("count")
            .try_get(0)
            .expect("n");
        assert_eq!(events, 50, "49 downloads and the one after");
        assert!(n >= events, "every event has its entry");
    }

    /// Many records sent at once (one group or a few, several statements each): every event
    /// has its log entry and every delivery is counted, nothing lost or doubled.
    #[tokio::test]
    async fn a_group_writes_every_event_entry_and_delivery() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = crate::Store::open_test(dir.path()).await.expect("store");
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
        let count = |sql: &'static str| count(&store.db, sql);
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
        assert_eq!(
            count("SELECT CAST(SUM(count) AS BIGINT) FROM deliveries").await,
            n as i64
        );
    }
}
