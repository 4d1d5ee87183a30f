//! Funding pools, their append-only ledger and bounty payouts (issue 14, points 2 and 4). An
//! entry is written only if the pool's balance, recomputed from its entries inside the same
//! write, stays non-negative after it ([`weir_core::ledger::Balance::apply`]).

use sqlx::Row;
use sqlx::any::AnyRow;
use weir_core::Event;
use weir_core::ledger::{Balance, EntryKind, LedgerError};

use crate::events::record_event_in;
use crate::{Db, Result, StoreError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pool {
    pub id: i64,
    pub name: String,
    pub title: String,
    pub purpose: String,
    pub rules: String,
    pub created_by: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub id: i64,
    pub pool: String,
    pub kind: EntryKind,
    pub party: Option<String>,
    pub amount: i64,
    pub payout_id: Option<i64>,
    /// The grant award a disbursement funds.
    pub award_id: Option<i64>,
    pub at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payout {
    pub id: i64,
    pub pool_id: i64,
    pub pool: String,
    pub source: String,
    pub beneficiary: String,
    pub amount: i64,
    pub state: String,
    pub proposed_at: i64,
    pub decided_by: Option<String>,
    pub decided_at: Option<i64>,
}

/// An entry refused because the pool's balance would go negative.
pub fn ledger_refusal(e: &StoreError) -> Option<&str> {
    match e {
        StoreError::StateChanged { record, .. } if record.starts_with("ledger: ") => {
            Some(&record["ledger: ".len()..])
        }
        _ => None,
    }
}

fn refused(e: LedgerError) -> StoreError {
    StoreError::StateChanged {
        record: format!("ledger: {e}"),
        expected: "a balance that stays non-negative".into(),
    }
}

fn pool_from_row(r: &AnyRow) -> Result<Pool> {
    Ok(Pool {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        title: r.try_get("title")?,
        purpose: r.try_get("purpose")?,
        rules: r.try_get("rules")?,
        created_by: r.try_get("created_by")?,
        created_at: r.try_get("created_at")?,
    })
}

fn entry_from_row(r: &AnyRow) -> Result<Entry> {
    let kind: String = r.try_get("kind")?;
    Ok(Entry {
        id: r.try_get("id")?,
        pool: r.try_get("pool_name")?,
        kind: EntryKind::parse(&kind)
            .ok_or_else(|| StoreError::Corrupt(format!("ledger entry kind {kind}")))?,
        party: r.try_get("party")?,
        amount: r.try_get("amount")?,
        payout_id: r.try_get("payout_id")?,
        award_id: r.try_get("award_id")?,
        at: r.try_get("at")?,
    })
}

fn payout_from_row(r: &AnyRow) -> Result<Payout> {
    Ok(Payout {
        id: r.try_get("id")?,
        pool_id: r.try_get("pool_id")?,
        pool: r.try_get("pool_name")?,
        source: r.try_get("source")?,
        beneficiary: r.try_get("beneficiary")?,
        amount: r.try_get("amount")?,
        state: r.try_get("state")?,
        proposed_at: r.try_get("proposed_at")?,
        decided_by: r.try_get("decided_by")?,
        decided_at: r.try_get("decided_at")?,
    })
}

const ENTRY_COLUMNS: &str =
    "SELECT e.id, p.name AS pool_name, e.kind, e.party, e.amount, e.payout_id, e.award_id, e.at
     FROM funding_entries e JOIN funding_pools p ON p.id = e.pool_id";
const PAYOUT_COLUMNS: &str =
    "SELECT o.id, o.pool_id, p.name AS pool_name, o.source, o.beneficiary, o.amount, o.state,
        o.proposed_at, o.decided_by, o.decided_at
     FROM funding_payouts o JOIN funding_pools p ON p.id = o.pool_id";

/// The pool's balance from its entries, inside `tx`.
async fn balance_in(tx: &mut sqlx::AnyConnection, pool_id: i64) -> Result<Balance> {
    let rows =
        sqlx::query("SELECT kind, amount FROM funding_entries WHERE pool_id = $1 ORDER BY id")
            .bind(pool_id)
            .fetch_all(&mut *tx)
            .await?;
    let mut entries = Vec::with_capacity(rows.len());
    for r in &rows {
        let k: String = r.try_get("kind")?;
        let kind = EntryKind::parse(&k)
            .ok_or_else(|| StoreError::Corrupt(format!("ledger entry kind {k}")))?;
        entries.push((kind, r.try_get::<i64, _>("amount")?));
    }
    Balance::replay(&entries).map_err(|e| StoreError::Corrupt(format!("pool {pool_id}: {e}")))
}

/// Appends one entry inside `tx` if the balance allows it.
async fn append_in(
    tx: &mut sqlx::AnyConnection,
    pool_id: i64,
    kind: EntryKind,
    party: Option<&str>,
    amount: i64,
    link: (Option<i64>, Option<i64>),
    at: i64,
) -> Result<Balance> {
    let (payout_id, award_id) = link;
    let after = balance_in(tx, pool_id)
        .await?
        .apply(kind, amount)
        .map_err(refused)?;
    sqlx::query(
        "INSERT INTO funding_entries (pool_id, kind, party, amount, payout_id, award_id, at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(pool_id)
    .bind(kind.as_str())
    .bind(party)
    .bind(amount)
    .bind(payout_id)
    .bind(award_id)
    .bind(at)
    .execute(&mut *tx)
    .await?;
    Ok(after)
}

impl Db {
    /// How many pledges `party` made since `since`.
    pub async fn pledges_since(&self, party: &str, since: i64) -> Result<i64> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM funding_entries WHERE party = $1 AND kind = 'pledge' AND at >= $2",
        )
        .bind(party)
        .bind(since)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get("n")?)
    }

    #[allow(clippy::too_many_arguments)]
    pub async fn create_pool_logged(
        &self,
        name: &str,
        title: &str,
        purpose: &str,
        rules: &str,
        by: &str,
        at: i64,
        event: &Event,
    ) -> Result<Pool> {
        let mut tx = self.begin_write().await?;
        let taken = sqlx::query("SELECT 1 AS one FROM funding_pools WHERE name = $1")
            .bind(name)
            .fetch_optional(&mut *tx)
            .await?;
        if taken.is_some() {
            return Err(StoreError::Exists(format!("pool {name}")));
        }
        sqlx::query(
            "INSERT INTO funding_pools (name, title, purpose, rules, created_by, created_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(name)
        .bind(title)
        .bind(purpose)
        .bind(rules)
        .bind(by)
        .bind(at)
        .execute(&mut *tx)
        .await?;
        record_event_in(&mut tx, event).await?;
        tx.commit().await?;
        self.pool(name)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("pool {name}")))
    }

    pub async fn pool(&self, name: &str) -> Result<Option<Pool>> {
        sqlx::query("SELECT * FROM funding_pools WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(pool_from_row)
            .transpose()
    }

    pub async fn pools(&self) -> Result<Vec<Pool>> {
        sqlx::query("SELECT * FROM funding_pools ORDER BY name LIMIT 500")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(pool_from_row)
            .collect()
    }

    /// The pool's balance, replayed from its entries.
    pub async fn pool_balance(&self, pool_id: i64) -> Result<Balance> {
        let mut conn = self.pool.acquire().await?;
        balance_in(&mut conn, pool_id).await
    }

    /// A pledge, a withdrawal or a disbursement, with its event; refused (nothing written) when
    /// the balance would go negative ([`ledger_refusal`]).
    #[allow(clippy::too_many_arguments)]
    pub async fn append_entry_logged(
        &self,
        pool_id: i64,
        kind: EntryKind,
        party: Option<&str>,
        amount: i64,
        award_id: Option<i64>,
        at: i64,
        event: &Event,
    ) -> Result<Balance> {
        let mut tx = self.begin_write().await?;
        let b = append_in(&mut tx, pool_id, kind, party, amount, (None, award_id), at).await?;
        record_event_in(&mut tx, event).await?;
        tx.commit().await?;
        Ok(b)
    }

    /// The disbursements that fund award `award_id`, oldest first.
    pub async fn award_disbursements(&self, award_id: i64) -> Result<Vec<Entry>> {
        let sql = format!("{ENTRY_COLUMNS} WHERE e.award_id = $1 ORDER BY e.id LIMIT 1000");
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(award_id)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(entry_from_row)
            .collect()
    }

    /// Entries, oldest first, after entry `after`, at most `limit`: of one pool, of one party,
    /// or both.
    pub async fn ledger_entries(
        &self,
        pool_id: Option<i64>,
        party: Option<&str>,
        after: i64,
        limit: i64,
    ) -> Result<Vec<Entry>> {
        let sql = format!(
            "{ENTRY_COLUMNS} WHERE ($1 IS NULL OR e.pool_id = $1) AND ($2 IS NULL OR e.party = $2)
                 AND e.id > $3
             ORDER BY e.id LIMIT $4"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(pool_id)
            .bind(party)
            .bind(after)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(entry_from_row)
            .collect()
    }

    /// Proposes a payout and reserves its amount, with its event; a second proposal for the
    /// same source in the same pool is [`StoreError::Exists`].
    #[allow(clippy::too_many_arguments)]
    pub async fn propose_payout_logged(
        &self,
        pool_id: i64,
        source: &str,
        beneficiary: &str,
        amount: i64,
        cap_per_pool: i64,
        at: i64,
        event: impl FnOnce(i64) -> Event,
    ) -> Result<Payout> {
        let mut tx = self.begin_write().await?;
        // The pool's cap, inside the write: concurrent confirmations cannot pass it together.
        let b = balance_in(&mut tx, pool_id).await?;
        if b.committed + b.paid + amount > cap_per_pool {
            return Err(refused(LedgerError::Exceeds {
                kind: "commit",
                what: "pool's cap",
                has: cap_per_pool - b.committed - b.paid,
                asked: amount,
            }));
        }
        let taken =
            sqlx::query("SELECT 1 AS one FROM funding_payouts WHERE pool_id = $1 AND source = $2")
                .bind(pool_id)
                .bind(source)
                .fetch_optional(&mut *tx)
                .await?;
        if taken.is_some() {
            return Err(StoreError::Exists(format!("a payout for {source}")));
        }
        let row = sqlx::query(
            "INSERT INTO funding_payouts (pool_id, source, beneficiary, amount, state, proposed_at)
             VALUES ($1, $2, $3, $4, 'proposed', $5) RETURNING id",
        )
        .bind(pool_id)
        .bind(source)
        .bind(beneficiary)
        .bind(amount)
        .bind(at)
        .fetch_one(&mut *tx)
        .await?;
        let id: i64 = row.try_get("id")?;
        append_in(
            &mut tx,
            pool_id,
            EntryKind::Commit,
            Some(beneficiary),
            amount,
            (Some(id), None),
            at,
        )
        .await?;
        record_event_in(&mut tx, &event(id)).await?;
        tx.commit().await?;
        self.payout(id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("payout {id}")))
    }

    pub async fn payout(&self, id: i64) -> Result<Option<Payout>> {
        let sql = format!("{PAYOUT_COLUMNS} WHERE o.id = $1");
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(payout_from_row)
            .transpose()
    }

    /// Payouts, newest first, optionally of one state.
    pub async fn payouts(&self, state: Option<&str>) -> Result<Vec<Payout>> {
        let sql = format!(
            "{PAYOUT_COLUMNS} WHERE ($1 IS NULL OR o.state = $1) ORDER BY o.id DESC LIMIT 500"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(state)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(payout_from_row)
            .collect()
    }

    /// Moves payout `id` from `from` to `to` with the ledger entry that goes with it (payout,
    /// release or reverse) and its event, in one write guarded by the state it was read in.
    #[allow(clippy::too_many_arguments)]
    pub async fn move_payout_logged(
        &self,
        id: i64,
        from: &str,
        to: &str,
        entry: EntryKind,
        by: &str,
        at: i64,
        event: &Event,
    ) -> Result<Balance> {
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(
            "SELECT pool_id, beneficiary, amount, state FROM funding_payouts WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("payout {id}")))?;
        let state: String = row.try_get("state")?;
        if state != from {
            return Err(StoreError::StateChanged {
                record: format!("payout {id}"),
                expected: from.into(),
            });
        }
        let pool_id: i64 = row.try_get("pool_id")?;
        let beneficiary: String = row.try_get("beneficiary")?;
        let amount: i64 = row.try_get("amount")?;
        sqlx::query(
            "UPDATE funding_payouts SET state = $1, decided_by = $2, decided_at = $3 WHERE id = $4",
        )
        .bind(to)
        .bind(by)
        .bind(at)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        let b = append_in(
            &mut tx,
            pool_id,
            entry,
            Some(&beneficiary),
            amount,
            (Some(id), None),
            at,
        )
        .await?;
        record_event_in(&mut tx, event).await?;
        tx.commit().await?;
        Ok(b)
    }
}
