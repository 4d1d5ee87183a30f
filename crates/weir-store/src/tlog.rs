//! Transparency-log storage: pending entries, sequenced entries, complete-subtree hashes and the
//! last signed state.
//!
//! Integration runs in one transaction (entries, hashes, new size and root, pending rows
//! removed); only a committed state is ever signed, and a signature is stored only if the state
//! it signs is still the current one, so no two signed checkpoints can be inconsistent, across
//! crashes too.

use std::collections::{BTreeMap, HashMap};

use sqlx::Row;
use weir_tlog::merkle::{Hash, leaf_hash};
use weir_tlog::sequencer::{MapSource, append, frontier_positions};

use crate::{Db, Result, StoreError};

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

fn hash(bytes: Vec<u8>) -> Result<Hash> {
    bytes
        .try_into()
        .map_err(|_| corrupt("stored hash is not 32 bytes"))
}

/// Rows per multi-row INSERT (3 parameters each, well under SQLite's variable limit).
const INSERT_CHUNK: usize = 1000;

/// The current tree head and, if signed, its checkpoint note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogState {
    pub size: u64,
    pub root: Hash,
    pub checkpoint: Option<String>,
}

impl Db {
    pub async fn log_state(&self) -> Result<LogState> {
        let row = sqlx::query("SELECT size, root, checkpoint FROM log_state WHERE id = 1")
            .fetch_optional(&self.pool)
            .await?;
        match row {
            None => Ok(LogState {
                size: 0,
                root: weir_tlog::merkle::empty_root(),
                checkpoint: None,
            }),
            Some(r) => Ok(LogState {
                size: u64::try_from(r.try_get::<i64, _>("size")?).map_err(corrupt)?,
                root: hash(r.try_get("root")?)?,
                checkpoint: r.try_get("checkpoint")?,
            }),
        }
    }

    /// Queues raw log entries in one transaction (bulk import and benchmarks; events use
    /// `record_event`, which queues their entry itself).
    pub async fn enqueue_log_entries(&self, entries: &[Vec<u8>]) -> Result<()> {
        let mut tx = self.begin_write().await?;
        for e in entries {
            sqlx::query("INSERT INTO log_pending (event_id, data) VALUES (NULL, $1)")
                .bind(e.as_slice())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Sequences up to `max` pending entries. Returns the new state (unsigned) if anything moved.
    pub async fn integrate(&self, max: i64) -> Result<Option<LogState>> {
        self.integrate_fenced(max, None).await
    }

    /// [`Db::integrate`] as the holder of a lease (its [`SequencerLease::fence`]): on PostgreSQL the transaction checks, under
    /// the write lock, that the lease's lock is still held by its connection, and integrates
    /// nothing otherwise (a holder paused past losing it never writes after the next one took
    /// over).
    pub async fn integrate_fenced(
        &self,
        max: i64,
        fence: Option<Fence>,
    ) -> Result<Option<LogState>> {
        let mut tx = self.begin_write().await?;
        if let Some(Fence(Some(pid))) = fence {
            let held: i64 = sqlx::query(
                "SELECT COUNT(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND granted
                 AND pid = $1 AND objsubid = 1
                 AND ((CAST(classid AS BIGINT) << 32) | CAST(objid AS BIGINT)) = $2",
            )
            .bind(pid)
            .bind(crate::dialect::SEQUENCER_LOCK)
            .fetch_one(&mut *tx)
            .await?
            .try_get("n")?;
            if held == 0 {
                return Err(StoreError::StateChanged {
                    record: "the sequencer lease".into(),
                    expected: "held by this replica".into(),
                });
            }
        }
        let pending =
            sqlx::query("SELECT id, event_id, data FROM log_pending ORDER BY id LIMIT $1")
                .bind(max)
                .fetch_all(&mut *tx)
                .await?;
        if pending.is_empty() {
            return Ok(None);
        }
        let state = sqlx::query("SELECT size FROM log_state WHERE id = 1")
            .fetch_optional(&mut *tx)
            .await?;
        let size = match state {
            Some(r) => u64::try_from(r.try_get::<i64, _>("size")?).map_err(corrupt)?,
            None => 0,
        };
        let mut frontier = BTreeMap::new();
        for (l, i) in frontier_positions(size) {
            let r = sqlx::query("SELECT hash FROM log_hashes WHERE level = $1 AND idx = $2")
                .bind(i64::from(l))
                .bind(i as i64)
                .fetch_one(&mut *tx)
                .await?;
            frontier.insert(l, hash(r.try_get("hash")?)?);
        }
        let mut leaves = Vec::with_capacity(pending.len());
        let mut rows = Vec::with_capacity(pending.len());
        for (k, p) in pending.iter().enumerate() {
            let data: Vec<u8> = p.try_get("data")?;
            leaves.push(leaf_hash(&data));
            rows.push((
                (size + k as u64) as i64,
                p.try_get::<Option<i64>, _>("event_id")?,
                data,
            ));
        }
        // Multi-row inserts (placeholders only, never values in the SQL text).
        for chunk in rows.chunks(INSERT_CHUNK) {
            let mut q = sqlx::QueryBuilder::<sqlx::Any>::new(
                "INSERT INTO log_entries (idx, event_id, data) ",
            );
            q.push_values(chunk, |mut b, (idx, ev, data)| {
                b.push_bind(*idx).push_bind(*ev).push_bind(data.clone());
            });
            crate::dialect::numbered(&mut q)?.execute(&mut *tx).await?;
        }
        let a = append(size, &frontier, &leaves).map_err(corrupt)?;
        for chunk in a.hashes.chunks(INSERT_CHUNK) {
            let mut q =
                sqlx::QueryBuilder::<sqlx::Any>::new("INSERT INTO log_hashes (level, idx, hash) ");
            q.push_values(chunk, |mut b, (l, i, h)| {
                b.push_bind(i64::from(*l))
                    .push_bind(*i as i64)
                    .push_bind(h.to_vec());
            });
            crate::dialect::numbered(&mut q)?.execute(&mut *tx).await?;
        }
        let last: i64 = pending
            .last()
            .map(|p| p.try_get("id"))
            .transpose()?
            .unwrap_or(0);
        sqlx::query("DELETE FROM log_pending WHERE id <= $1")
            .bind(last)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO log_state (id, size, root, checkpoint) VALUES (1, $1, $2, NULL)
             ON CONFLICT (id) DO UPDATE SET size = excluded.size, root = excluded.root, checkpoint = NULL",
        )
        .bind(a.size as i64)
        .bind(a.root.to_vec())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(LogState {
            size: a.size,
            root: a.root,
            checkpoint: None,
        }))
    }

    /// Stores a checkpoint signed over (size, root), only if that is still the current state.
    pub async fn store_checkpoint(&self, size: u64, root: &Hash, note: &str) -> Result<bool> {
        // The empty log has no state row yet: its checkpoint (size 0) creates it.
        let res = sqlx::query(
            "INSERT INTO log_state (id, size, root, checkpoint) VALUES (1, $2, $3, $1)
             ON CONFLICT (id) DO UPDATE SET checkpoint = excluded.checkpoint
             WHERE log_state.size = excluded.size AND log_state.root = excluded.root",
        )
        .bind(note)
        .bind(size as i64)
        .bind(root.to_vec())
        .execute(&self.pool)
        .await?;
        Ok(res.rows_affected() == 1)
    }

    /// Fetches stored hashes at the given positions.
    pub async fn log_hashes(&self, positions: &[(u8, u64)]) -> Result<MapSource> {
        let mut map = HashMap::new();
        if positions.is_empty() {
            return Ok(MapSource(map));
        }
        // One statement per chunk: the positions as (level, idx) pairs in a VALUES list of placeholders.
        for chunk in positions.chunks(INSERT_CHUNK) {
            let mut q = sqlx::QueryBuilder::<sqlx::Any>::new("WITH wanted(level, idx) AS (");
            q.push_values(chunk, |mut b, (l, i)| {
                b.push_bind(i64::from(*l)).push_bind(*i as i64);
            });
            q.push(") SELECT h.level, h.idx, h.hash FROM log_hashes h JOIN wanted w ON h.level = w.level AND h.idx = w.idx");
            for r in crate::dialect::numbered(&mut q)?
                .fetch_all(&self.pool)
                .await?
            {
                let l: i64 = r.try_get("level")?;
                let i: i64 = r.try_get("idx")?;
                map.insert(
                    (
                        u8::try_from(l).map_err(corrupt)?,
                        u64::try_from(i).map_err(corrupt)?,
                    ),
                    hash(r.try_get("hash")?)?,
                );
            }
        }
        Ok(MapSource(map))
    }

    /// Hashes of one tree level, indices `start .. start + count`, in order.
    pub async fn log_hash_range(&self, level: u8, start: u64, count: u64) -> Result<Vec<Hash>> {
        let rows = sqlx::query(
            "SELECT hash FROM log_hashes WHERE level = $1 AND idx >= $2 AND idx < $3 ORDER BY idx",
        )
        .bind(i64::from(level))
        .bind(start as i64)
        .bind((start + count) as i64)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(|r| hash(r.try_get("hash")?)).collect()
    }

    /// Entries `start .. start + count`, in order.
    pub async fn log_entries(&self, start: u64, count: u64) -> Result<Vec<Vec<u8>>> {
        let rows =
            sqlx::query("SELECT data FROM log_entries WHERE idx >= $1 AND idx < $2 ORDER BY idx")
                .bind(start as i64)
                .bind((start + count) as i64)
                .fetch_all(&self.pool)
                .await?;
        rows.into_iter().map(|r| Ok(r.try_get("data")?)).collect()
    }

    pub async fn add_witness_logged(
        &self,
        name: &str,
        vkey: &str,
        event: &weir_core::Event,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let res = sqlx::query("INSERT INTO witnesses (name, vkey, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING")
            .bind(name)
            .bind(vkey)
            .bind(crate::now())
            .execute(&mut *tx)
            .await?;
        if res.rows_affected() == 0 {
            return Err(StoreError::Exists(format!("witness {name}")));
        }
        crate::events::record_event_in(&mut tx, event).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Active witnesses: `(name, cosigner vkey)`.
    pub async fn witnesses(&self) -> Result<Vec<(String, String)>> {
        let rows =
            sqlx::query("SELECT name, vkey FROM witnesses WHERE revoked_at IS NULL ORDER BY name")
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("name")?, r.try_get("vkey")?)))
            .collect()
    }

    pub async fn add_cosignature(&self, size: u64, witness: &str, line: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO cosignatures (size, witness, line, created_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (size, witness) DO UPDATE SET line = excluded.line, created_at = excluded.created_at",
        )
        .bind(size as i64)
        .bind(witness)
        .bind(line)
        .bind(crate::now())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Cosignature lines for a tree size, by witness name.
    pub async fn cosignatures(&self, size: u64) -> Result<Vec<String>> {
        let rows = sqlx::query("SELECT line FROM cosignatures WHERE size = $1 ORDER BY witness")
            .bind(size as i64)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| Ok(r.try_get("line")?)).collect()
    }

    /// The log index of an event, once sequenced.
    pub async fn log_index_of_event(&self, event_id: i64) -> Result<Option<u64>> {
        let r = sqlx::query("SELECT idx FROM log_entries WHERE event_id = $1")
            .bind(event_id)
            .fetch_optional(&self.pool)
            .await?;
        r.map(|r| u64::try_from(r.try_get::<i64, _>("idx")?).map_err(corrupt))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    /// One replica holds the sequencer lease at a time; when its connection is cut, its
    /// integrations are refused (fenced) and another replica takes the lease. PostgreSQL only
    /// (where `WEIR_TEST_POSTGRES` is set).
    #[tokio::test]
    async fn one_sequencer_lease_at_a_time_and_a_lost_one_is_fenced() {
        let Some(url) = crate::Db::fresh_test_database().await.expect("postgres") else {
            return;
        };
        let a = crate::Db::open_postgres(&url).await.expect("a");
        let b = crate::Db::open_postgres(&url).await.expect("b");
        let lease_a = a
            .try_sequencer_lease(std::time::Duration::from_secs(60))
            .await
            .expect("ask")
            .expect("granted");
        assert!(
            b.try_sequencer_lease(std::time::Duration::from_secs(60))
                .await
                .expect("ask")
                .is_none(),
            "two leases"
        );
        a.enqueue_log_entries(&[b"one".to_vec()])
            .await
            .expect("enqueue");
        let s = a
            .integrate_fenced(10, Some(lease_a.fence()))
            .await
            .expect("holder integrates");
        assert_eq!(s.map(|s| s.size), Some(1));
        // The holder's connection is cut (a partition, a killed backend): its lock is gone.
        sqlx::query("SELECT pg_terminate_backend($1)")
            .bind(lease_a.pid.expect("pid"))
            .execute(&b.pool)
            .await
            .expect("terminate");
        b.enqueue_log_entries(&[b"two".to_vec()])
            .await
            .expect("enqueue");
        let mut lease_b = None;
        for _ in 0..100 {
            lease_b = b
                .try_sequencer_lease(std::time::Duration::from_secs(60))
                .await
                .expect("ask");
            if lease_b.is_some() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let lease_b = lease_b.expect("the lease is taken over");
        let fenced = a.integrate_fenced(10, Some(lease_a.fence())).await;
        assert!(
            matches!(fenced, Err(crate::StoreError::StateChanged { .. })),
            "a lost lease still integrated: {fenced:?}"
        );
        let mut lost = lease_a;
        assert!(!lost.alive().await);
        let s = b
            .integrate_fenced(10, Some(lease_b.fence()))
            .await
            .expect("new holder");
        assert_eq!(s.map(|s| s.size), Some(2));
        drop(lease_b);
        // A holder that stops pinging its lease (paused, frozen) loses it after the idle timeout.
        let mut paused = loop {
            if let Some(l) = a
                .try_sequencer_lease(std::time::Duration::from_millis(300))
                .await
                .expect("ask")
            {
                break l;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        };
        tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
        assert!(!paused.alive().await, "the server ended the idle lease");
        assert!(
            b.try_sequencer_lease(std::time::Duration::from_secs(60))
                .await
                .expect("ask")
                .is_some(),
            "another replica takes over"
        );
    }

    use weir_tlog::merkle::{MemoryTree, tree_hash};

    use crate::Store;

    fn event(at: i64, action: String) -> weir_core::Event {
        weir_core::Event {
            at,
            actor: None,
            action,
            repo: None,
            subject: None,
            decision: "change".into(),
            reason: "r".into(),
            request_id: None,
            user_agent: None,
            details: serde_json::json!({}),
        }
    }

    /// Concurrent sequencers and writers (as when a checkpoint request signs while the sequencer
    /// task runs) serialize instead of failing with SQLite lock-upgrade errors.
    #[tokio::test]
    async fn concurrent_integration_and_events_do_not_fail() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open_test(dir.path()).await.expect("open");
        let mut tasks = Vec::new();
        for t in 0..6u32 {
            let s = store.clone();
            tasks.push(tokio::spawn(async move {
                for i in 0..40u32 {
                    let e = event(i64::from(i), format!("t{t}"));
                    s.db.record_event(&e).await.expect("event");
                    s.db.integrate(1000).await.expect("integrate");
                }
            }));
        }
        for t in tasks {
            t.await.expect("join");
        }
        store.db.integrate(100_000).await.expect("final");
        assert_eq!(store.db.log_state().await.expect("state").size, 240);
    }

    #[tokio::test]
    async fn integration_matches_an_in_memory_tree() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open_test(dir.path()).await.expect("open");
        let mut mem = MemoryTree::new();
        for batch in [3usize, 0, 1, 300, 17] {
            for i in 0..batch {
                let e = event(i as i64, format!("test.{i}"));
                store.db.record_event(&e).await.expect("event");
            }
            store.db.integrate(100_000).await.expect("integrate");
        }
        let entries = store.db.log_entries(0, 10_000).await.expect("entries");
        for e in &entries {
            mem.push(weir_tlog::merkle::leaf_hash(e));
        }
        let state = store.db.log_state().await.expect("state");
        assert_eq!(state.size, 321);
        assert_eq!(state.root, mem.root());
        let want = weir_tlog::sequencer::needed(|s| tree_hash(s, 200));
        let src = store.db.log_hashes(&want).await.expect("hashes");
        assert_eq!(
            tree_hash(&src, 200).expect("root"),
            tree_hash(&mem, 200).expect("root")
        );
        assert!(
            store
                .db
                .store_checkpoint(321, &state.root, "note")
                .await
                .expect("store")
        );
        assert!(
            !store
                .db
                .store_checkpoint(320, &state.root, "stale")
                .await
                .expect("store")
        );
    }
}

/// The right to run the periodic log sequencer: on PostgreSQL a session advisory lock held on a
/// connection of its own (released when that connection ends: the process died, the network
/// cut it); on SQLite always granted (one server per database file).
pub struct SequencerLease {
    conn: Option<sqlx::AnyConnection>,
    /// The lock-holding connection's backend pid, checked by [`Db::integrate_fenced`].
    pid: Option<i32>,
}

impl Db {
    /// Takes the sequencer lease if no one holds it; `None` while another replica does.
    /// The lease's connection is ended by the server when it stays idle longer than
    /// `idle_timeout` (the holder pings it every round, [`SequencerLease::alive`]): a holder that
    /// is paused, or whose host vanished without closing its connection, loses the lease within
    /// that time, and another replica takes over (its late integrations are fenced). TCP
    /// keepalives on the server's side end a connection whose peer is gone.
    pub async fn try_sequencer_lease(
        &self,
        idle_timeout: std::time::Duration,
    ) -> Result<Option<SequencerLease>> {
        if self.backend == crate::Backend::Sqlite {
            return Ok(Some(SequencerLease {
                conn: None,
                pid: None,
            }));
        }
        let mut conn = self.pool.acquire().await?.detach();
        let row = sqlx::query("SELECT pg_try_advisory_lock($1) AS got, pg_backend_pid() AS pid")
            .bind(crate::dialect::SEQUENCER_LOCK)
            .fetch_one(&mut conn)
            .await?;
        let got: bool = row.try_get("got")?;
        if !got {
            let _ = sqlx::Connection::close(conn).await;
            return Ok(None);
        }
        let pid: i32 = row.try_get("pid")?;
        let ms = idle_timeout.as_millis().clamp(100, 86_400_000);
        for set in [
            format!("SET idle_session_timeout = {ms}"),
            "SET tcp_keepalives_idle = 10".to_string(),
            "SET tcp_keepalives_interval = 5".to_string(),
            "SET tcp_keepalives_count = 3".to_string(),
        ] {
            sqlx::query(sqlx::AssertSqlSafe(set))
                .execute(&mut conn)
                .await?;
        }
        Ok(Some(SequencerLease {
            conn: Some(conn),
            pid: Some(pid),
        }))
    }
}

/// What [`Db::integrate_fenced`] checks: the lock-holding connection's backend pid.
#[derive(Clone, Copy, Debug)]
pub struct Fence(Option<i32>);

impl SequencerLease {
    /// The fence that integrations as this lease's holder carry.
    pub fn fence(&self) -> Fence {
        Fence(self.pid)
    }

    /// Whether the lease's connection still answers within a few seconds (a lost connection
    /// lost the lock; one that hangs is given up).
    pub async fn alive(&mut self) -> bool {
        match &mut self.conn {
            None => true,
            Some(c) => matches!(
                tokio::time::timeout(
                    std::time::Duration::from_secs(5),
                    sqlx::query("SELECT 1").execute(&mut *c)
                )
                .await,
                Ok(Ok(_))
            ),
        }
    }
}
