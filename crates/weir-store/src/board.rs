//! Consortium governance (issue 14, point 3): the board (its members and threshold), proposals
//! and their signatures. A proposal moves pending → applying (one writer wins, guarded) →
//! applied | failed; every step commits with its event.

use sqlx::Row;
use sqlx::any::AnyRow;
use weir_core::Event;

use crate::events::record_event_in;
use crate::{Db, Result, StoreError};

/// The board in force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Board {
    pub threshold: i64,
    /// JSON: `Vec<weir_core::board::Member>`.
    pub members: String,
    pub since: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proposal {
    pub id: i64,
    pub kind: String,
    pub change: String,
    pub change_sha256: String,
    pub digest: String,
    pub proposed_by: String,
    pub proposed_at: i64,
    pub state: String,
    pub decided_at: Option<i64>,
    pub outcome: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    pub member: String,
    pub public_key: String,
    pub signature: String,
    pub at: i64,
}

fn proposal_from_row(r: &AnyRow) -> Result<Proposal> {
    Ok(Proposal {
        id: r.try_get("id")?,
        kind: r.try_get("kind")?,
        change: r.try_get("change")?,
        change_sha256: r.try_get("change_sha256")?,
        digest: r.try_get("digest")?,
        proposed_by: r.try_get("proposed_by")?,
        proposed_at: r.try_get("proposed_at")?,
        state: r.try_get("state")?,
        decided_at: r.try_get("decided_at")?,
        outcome: r.try_get("outcome")?,
    })
}

impl Db {
    pub async fn board(&self) -> Result<Option<Board>> {
        let row = sqlx::query("SELECT threshold, members, since FROM board WHERE id = 1")
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            Ok(Board {
                threshold: r.try_get("threshold")?,
                members: r.try_get("members")?,
                since: r.try_get("since")?,
            })
        })
        .transpose()
    }

    /// Sets up the first board; [`StoreError::Exists`] when there is one (changing it is a
    /// board decision).
    pub async fn create_board_logged(
        &self,
        members: &str,
        threshold: i64,
        at: i64,
        event: &Event,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let exists = sqlx::query("SELECT 1 AS one FROM board WHERE id = 1")
            .fetch_optional(&mut *tx)
            .await?;
        if exists.is_some() {
            return Err(StoreError::Exists("a board".into()));
        }
        sqlx::query("INSERT INTO board (id, threshold, members, since) VALUES (1, $1, $2, $3)")
            .bind(threshold)
            .bind(members)
            .bind(at)
            .execute(&mut *tx)
            .await?;
        record_event_in(&mut tx, event).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records a proposal, with its events (given its id): `fill(id)` returns the digest and the
    /// events, since the digest binds the id.
    pub async fn create_proposal_logged(
        &self,
        kind: &str,
        change: &str,
        change_sha256: &str,
        proposed_by: &str,
        at: i64,
        fill: impl FnOnce(i64) -> (String, Vec<Event>),
    ) -> Result<Proposal> {
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(
            "INSERT INTO board_proposals (kind, change, change_sha256, digest, proposed_by,
                 proposed_at, state)
             VALUES ($1, $2, $3, '', $4, $5, 'pending') RETURNING id",
        )
        .bind(kind)
        .bind(change)
        .bind(change_sha256)
        .bind(proposed_by)
        .bind(at)
        .fetch_one(&mut *tx)
        .await?;
        let id: i64 = row.try_get("id")?;
        let (digest, events) = fill(id);
        sqlx::query("UPDATE board_proposals SET digest = $1 WHERE id = $2")
            .bind(&digest)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        for e in &events {
            record_event_in(&mut tx, e).await?;
        }
        tx.commit().await?;
        self.proposal(id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("proposal {id}")))
    }

    pub async fn proposal(&self, id: i64) -> Result<Option<Proposal>> {
        sqlx::query("SELECT * FROM board_proposals WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(proposal_from_row)
            .transpose()
    }

    /// Proposals, newest first.
    pub async fn proposals(&self, limit: i64) -> Result<Vec<Proposal>> {
        sqlx::query("SELECT * FROM board_proposals ORDER BY id DESC LIMIT $1")
            .bind(limit)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(proposal_from_row)
            .collect()
    }

    /// Proposals awaiting signatures, oldest first (the board's queue).
    pub async fn pending_proposals(&self, limit: i64) -> Result<Vec<Proposal>> {
        sqlx::query("SELECT * FROM board_proposals WHERE state = 'pending' ORDER BY id LIMIT $1")
            .bind(limit)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(proposal_from_row)
            .collect()
    }

    pub async fn proposal_signatures(&self, id: i64) -> Result<Vec<Signature>> {
        sqlx::query(
            "SELECT member, public_key, signature, at FROM board_signatures WHERE proposal_id = $1
             ORDER BY at, member",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            Ok(Signature {
                member: r.try_get("member")?,
                public_key: r.try_get("public_key")?,
                signature: r.try_get("signature")?,
                at: r.try_get("at")?,
            })
        })
        .collect()
    }

    /// Adds one member's (verified) signature to a pending proposal, with its event. A second
    /// signature by the member is [`StoreError::Exists`]; a proposal no longer pending is
    /// [`StoreError::StateChanged`].
    pub async fn add_signature_logged(&self, id: i64, s: &Signature, event: &Event) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let row = sqlx::query("SELECT state FROM board_proposals WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("proposal {id}")))?;
        let state: String = row.try_get("state")?;
        if state != "pending" {
            return Err(StoreError::StateChanged {
                record: format!("proposal {id}"),
                expected: "pending".into(),
            });
        }
        let mine = sqlx::query(
            "SELECT 1 AS one FROM board_signatures WHERE proposal_id = $1 AND member = $2",
        )
        .bind(id)
        .bind(&s.member)
        .fetch_optional(&mut *tx)
        .await?;
        if mine.is_some() {
            return Err(StoreError::Exists(format!(
                "{}'s signature on proposal {id}",
                s.member
            )));
        }
        sqlx::query(
            "INSERT INTO board_signatures (proposal_id, member, public_key, signature, at)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id)
        .bind(&s.member)
        .bind(&s.public_key)
        .bind(&s.signature)
        .bind(s.at)
        .execute(&mut *tx)
        .await?;
        record_event_in(&mut tx, event).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Moves a proposal from `from` to `to` (with its outcome and event, if given); one caller
    /// wins, the others get [`StoreError::StateChanged`].
    pub async fn move_proposal_logged(
        &self,
        id: i64,
        from: &str,
        to: &str,
        outcome: Option<&str>,
        at: i64,
        event: Option<&Event>,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let r = sqlx::query(
            "UPDATE board_proposals SET state = $1, outcome = COALESCE($2, outcome),
                 decided_at = COALESCE($3, decided_at)
             WHERE id = $4 AND state = $5",
        )
        .bind(to)
        .bind(outcome)
        .bind(outcome.map(|_| at))
        .bind(id)
        .bind(from)
        .execute(&mut *tx)
        .await?;
        if r.rows_affected() == 0 {
            return Err(StoreError::StateChanged {
                record: format!("proposal {id}"),
                expected: from.into(),
            });
        }
        if let Some(e) = event {
            record_event_in(&mut tx, e).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Replaces the board (a membership decision), with its event.
    pub async fn replace_board_logged(
        &self,
        members: &str,
        threshold: i64,
        at: i64,
        event: &Event,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query("UPDATE board SET threshold = $1, members = $2, since = $3 WHERE id = 1")
            .bind(threshold)
            .bind(members)
            .bind(at)
            .execute(&mut *tx)
            .await?;
        record_event_in(&mut tx, event).await?;
        tx.commit().await?;
        Ok(())
    }
}
