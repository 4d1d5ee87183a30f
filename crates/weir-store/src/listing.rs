//! What the model listing reads: every repo with the head of its `main` (commit and time), the
//! card facts last read at a head, and how many accounts received its files lately.

use std::collections::HashMap;

use sqlx::Row;
use weir_core::CommitId;

use crate::repos::repo_from_row;
use crate::{Db, Repo, Result, StoreError};

/// One repo as the listing sees it.
#[derive(Debug, Clone)]
pub struct Listed {
    pub repo: Repo,
    /// The head of `main` and when it was committed (`None` for a repo without `main`).
    pub head: Option<(CommitId, i64)>,
    /// The card facts (JSON) and the commit they were read at, if ever read.
    pub card: Option<(String, String)>,
}

impl Db {
    /// Every repo, with its head and cached card, in id order (private ones too: the caller
    /// decides who sees what).
    pub async fn listing(&self) -> Result<Vec<Listed>> {
        let rows = sqlx::query(
            "SELECT r.id, r.namespace, r.name, r.private, r.tier, r.created_at, r.updated_at,
                    r.min_level, r.auto_approve_level, r.blocked_countries, r.required_fields,
                    r.terms, r.chosen_tier,
                    h.commit_id AS head, c.created_at AS head_at,
                    rc.commit_id AS card_commit, rc.card AS card
             FROM repos r
             LEFT JOIN refs h ON h.repo_id = r.id AND h.kind = 'branch' AND h.name = 'main'
             LEFT JOIN commits c ON c.repo_id = r.id AND c.id = h.commit_id
             LEFT JOIN repo_cards rc ON rc.repo_id = r.id
             ORDER BY r.id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let head: Option<String> = r.try_get("head")?;
                let head_at: Option<i64> = r.try_get("head_at")?;
                let head = match (head, head_at) {
                    (Some(h), Some(at)) => Some((
                        CommitId::parse(&h).map_err(|e| StoreError::Corrupt(e.to_string()))?,
                        at,
                    )),
                    _ => None,
                };
                let card_commit: Option<String> = r.try_get("card_commit")?;
                let card: Option<String> = r.try_get("card")?;
                Ok(Listed {
                    repo: repo_from_row(r)?,
                    head,
                    card: card_commit.zip(card),
                })
            })
            .collect()
    }

    /// Keeps the card facts read at `commit` for the listing.
    pub async fn put_repo_card(&self, repo_id: i64, commit: &CommitId, card: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO repo_cards (repo_id, commit_id, card) VALUES ($1, $2, $3)
             ON CONFLICT (repo_id) DO UPDATE SET commit_id = excluded.commit_id, card = excluded.card",
        )
        .bind(repo_id)
        .bind(commit.as_str())
        .bind(card)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Per repo id: how many accounts received one of its files at or after `since`.
    pub async fn recent_recipients(&self, since: i64) -> Result<HashMap<i64, i64>> {
        let rows = sqlx::query(
            "SELECT repo_id, COUNT(DISTINCT account) AS n FROM deliveries
             WHERE last_at >= $1 GROUP BY repo_id",
        )
        .bind(since)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("repo_id")?, r.try_get("n")?)))
            .collect()
    }
}
