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
                    r.terms, r.chosen_tier, r.research_level,
                    h.commit_id AS head, c.created_at AS head_at,
                    rc.commit_id AS card_commit, rc.card AS card
             FROM repos r
             LEFT JOIN refs h ON h.repo_id = r.id AND h.kind = 'branch' AND h.name = 'main'
             LEFT JOIN commits c ON c.repo_id = r.id AND c.id = h.commit_id
             LEFT JOIN repo_cards rc ON rc.repo_id = r.id
             WHERE r.deleted_at IS NULL
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

    /// Keeps the card facts read at `commit` for the listing, and its distinct plain words for
    /// the full-text search, replaced together in one transaction.
    pub async fn put_repo_card(
        &self,
        repo_id: i64,
        commit: &CommitId,
        card: &str,
        terms: &[String],
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO repo_cards (repo_id, commit_id, card) VALUES ($1, $2, $3)
             ON CONFLICT (repo_id) DO UPDATE SET commit_id = excluded.commit_id, card = excluded.card",
        )
        .bind(repo_id)
        .bind(commit.as_str())
        .bind(card)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM card_terms WHERE repo_id = $1")
            .bind(repo_id)
            .execute(&mut *tx)
            .await?;
        // A few hundred rows per statement (far under every backend's bound-parameter limit).
        for chunk in terms.chunks(300) {
            let mut sql = String::from("INSERT INTO card_terms (repo_id, commit_id, term) VALUES ");
            for i in 0..chunk.len() {
                if i > 0 {
                    sql.push_str(", ");
                }
                sql.push_str(&format!("($1, $2, ${})", i + 3));
            }
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(repo_id)
                .bind(commit.as_str());
            for t in chunk {
                q = q.bind(t.as_str());
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The repos whose kept card holds every one of `terms` (distinct plain words): repo id →
    /// the commit its words were read at (a hit at another commit than the head is stale, not
    /// a hit). Found through the index on the word.
    pub async fn cards_with_terms(
        &self,
        terms: &[String],
    ) -> Result<std::collections::HashMap<i64, String>> {
        if terms.is_empty() {
            return Ok(Default::default());
        }
        let marks: Vec<String> = (0..terms.len()).map(|i| format!("${}", i + 2)).collect();
        let sql = format!(
            "SELECT repo_id, commit_id FROM card_terms WHERE term IN ({})
             GROUP BY repo_id, commit_id HAVING COUNT(*) = $1",
            marks.join(", ")
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(terms.len() as i64);
        for t in terms {
            q = q.bind(t.as_str());
        }
        q.fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| Ok((r.try_get("repo_id")?, r.try_get("commit_id")?)))
            .collect()
    }

    /// How many accounts received one of `repo`'s files at or after `since`.
    /// Another process's deliveries are counted from the next second on (the count is the
    /// Hub's `downloads`, not an authorization fact).
    pub async fn recent_recipients_of(&self, repo: &Repo, since: i64) -> Result<i64> {
        let seen = self.cache.deliveries();
        if let Some((at, n)) = self.memo.recipients.get(&(repo.id, since))
            && at == seen
        {
            return Ok(n);
        }
        let n = self.recent_recipients_of_uncached(repo, since).await?;
        self.memo.recipients.insert((repo.id, since), (seen, n));
        Ok(n)
    }

    async fn recent_recipients_of_uncached(&self, repo: &Repo, since: i64) -> Result<i64> {
        Ok(sqlx::query(
            "SELECT COUNT(DISTINCT account) AS n FROM deliveries WHERE repo_id = $1 AND last_at >= $2",
        )
        .bind(repo.id)
        .bind(since)
        .fetch_one(&self.pool)
        .await?
        .try_get("n")?)
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

impl Db {
    /// `account` likes `repo` (once; liking again changes nothing). Returns whether it is new.
    pub async fn like(&self, repo: &Repo, account: &str, at: i64) -> Result<bool> {
        let w = self.writing();
        let res = sqlx::query(
            "INSERT INTO likes (repo_id, account, at) VALUES ($1, $2, $3)
             ON CONFLICT (repo_id, account) DO NOTHING",
        )
        .bind(repo.id)
        .bind(account)
        .bind(at)
        .execute(&self.pool)
        .await?;
        drop(w);
        Ok(res.rows_affected() == 1)
    }

    pub async fn unlike(&self, repo: &Repo, account: &str) -> Result<bool> {
        let w = self.writing();
        let res = sqlx::query("DELETE FROM likes WHERE repo_id = $1 AND account = $2")
            .bind(repo.id)
            .bind(account)
            .execute(&self.pool)
            .await?;
        drop(w);
        Ok(res.rows_affected() == 1)
    }

    /// Who likes `repo`, newest first: (account, full name).
    pub async fn likers(&self, repo: &Repo) -> Result<Vec<(String, Option<String>)>> {
        let rows = sqlx::query(
            "SELECT l.account, a.fullname FROM likes l JOIN accounts a ON a.name = l.account
             WHERE l.repo_id = $1 ORDER BY l.at DESC, l.account",
        )
        .bind(repo.id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("account")?, r.try_get("fullname")?)))
            .collect()
    }

    /// The repo ids `account` likes, newest first.
    pub async fn liked_by(&self, account: &str) -> Result<Vec<i64>> {
        let rows = sqlx::query("SELECT repo_id FROM likes WHERE account = $1 ORDER BY at DESC")
            .bind(account)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| Ok(r.try_get("repo_id")?)).collect()
    }

    /// How many accounts like `repo`.
    pub async fn like_count(&self, repo: &Repo) -> Result<i64> {
        Ok(
            sqlx::query("SELECT COUNT(*) AS n FROM likes WHERE repo_id = $1")
                .bind(repo.id)
                .fetch_one(&self.pool)
                .await?
                .try_get("n")?,
        )
    }

    /// Per repo id, how many accounts like it.
    pub async fn like_counts(&self) -> Result<HashMap<i64, i64>> {
        let rows = sqlx::query("SELECT repo_id, COUNT(*) AS n FROM likes GROUP BY repo_id")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("repo_id")?, r.try_get("n")?)))
            .collect()
    }
}
