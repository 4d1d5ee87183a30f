//! Notifications made outside an incident's transaction (access requests and decisions, outputs
//! ready for review, deadlines about to pass), and the e-mail outbox: each notification of an
//! account with an address is claimed by exactly one sender, sent, and marked; a failed send is
//! retried a few times, never twice at once.

use sqlx::Row;

use crate::{Db, Result};

/// The most attempts at one e-mail.
pub const MAX_ATTEMPTS: i64 = 5;
/// How long a claim holds before another sender may retry it (a sender that died mid-send):
/// well beyond the slowest send (each SMTP step times out after 20 s). A sender that dies after
/// the server took the mail but before marking it sent makes it go twice: delivery is at least
/// once in that one case, and exactly once otherwise.
pub const CLAIM_SECS: i64 = 600;

/// One e-mail to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailItem {
    pub id: i64,
    pub account: String,
    pub email: String,
    pub kind: String,
    pub message: String,
    pub link: Option<String>,
    pub attempts: i64,
    pub claimed_at: Option<i64>,
}

impl Db {
    /// Records a notification for `account` (at most once per `dedup` key). Returns whether it
    /// was made.
    pub async fn notify(
        &self,
        account: &str,
        kind: &str,
        message: &str,
        link: Option<&str>,
        dedup: Option<&str>,
        now: i64,
    ) -> Result<bool> {
        let w = self.writing();
        let r = sqlx::query(
            "INSERT INTO notifications (account, kind, incident_id, message, created_at, link, dedup)
             VALUES ($1, $2, NULL, $3, $4, $5, $6) ON CONFLICT (dedup) DO NOTHING",
        )
        .bind(account)
        .bind(kind)
        .bind(message)
        .bind(now)
        .bind(link)
        .bind(dedup)
        .execute(&self.pool)
        .await?;
        drop(w);
        Ok(r.rows_affected() > 0)
    }

    /// Notifications since `since` of accounts with an e-mail address that are not sent yet and
    /// not held by a live claim, oldest first.
    pub async fn mail_pending(&self, since: i64, now: i64, limit: i64) -> Result<Vec<MailItem>> {
        let rows = sqlx::query(
            "SELECT n.id, n.account, a.email, n.kind, n.message, n.link, m.attempts, m.claimed_at
             FROM notifications n JOIN accounts a ON a.name = n.account
             LEFT JOIN mail_outbox m ON m.notification_id = n.id
             WHERE n.created_at >= $1 AND a.email IS NOT NULL AND a.email <> ''
               AND (m.notification_id IS NULL
                    OR (m.sent_at IS NULL AND m.attempts < $2 AND m.claimed_at < $3))
             ORDER BY n.id LIMIT $4",
        )
        .bind(since)
        .bind(MAX_ATTEMPTS)
        .bind(now - CLAIM_SECS)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(MailItem {
                    id: r.try_get("id")?,
                    account: r.try_get("account")?,
                    email: r.try_get("email")?,
                    kind: r.try_get("kind")?,
                    message: r.try_get("message")?,
                    link: r.try_get("link")?,
                    attempts: r.try_get::<Option<i64>, _>("attempts")?.unwrap_or(0),
                    claimed_at: r.try_get("claimed_at")?,
                })
            })
            .collect()
    }

    /// Claims `item` for sending: true for exactly one caller, whichever process asks.
    pub async fn claim_mail(&self, item: &MailItem, now: i64) -> Result<bool> {
        let w = self.writing();
        let r = match item.claimed_at {
            None => sqlx::query(
                "INSERT INTO mail_outbox (notification_id, claimed_at, attempts) VALUES ($1, $2, 1)
                     ON CONFLICT (notification_id) DO NOTHING",
            )
            .bind(item.id)
            .bind(now)
            .execute(&self.pool)
            .await?,
            Some(at) => {
                sqlx::query(
                    "UPDATE mail_outbox SET claimed_at = $1, attempts = attempts + 1
                     WHERE notification_id = $2 AND sent_at IS NULL AND claimed_at = $3",
                )
                .bind(now)
                .bind(item.id)
                .bind(at)
                .execute(&self.pool)
                .await?
            }
        };
        drop(w);
        Ok(r.rows_affected() == 1)
    }

    /// Marks a claimed e-mail sent, or records why it was not (it is retried after the claim).
    pub async fn mail_done(
        &self,
        id: i64,
        result: std::result::Result<(), &str>,
        now: i64,
    ) -> Result<()> {
        let w = self.writing();
        match result {
            Ok(()) => {
                sqlx::query("UPDATE mail_outbox SET sent_at = $1, last_error = NULL WHERE notification_id = $2")
                    .bind(now)
                    .bind(id)
                    .execute(&self.pool)
                    .await?;
            }
            Err(e) => {
                sqlx::query("UPDATE mail_outbox SET last_error = $1 WHERE notification_id = $2")
                    .bind(e.chars().take(500).collect::<String>())
                    .bind(id)
                    .execute(&self.pool)
                    .await?;
            }
        }
        drop(w);
        Ok(())
    }

    /// Whether notification `id`'s e-mail was sent (for tests and the account page).
    pub async fn mail_sent_at(&self, id: i64) -> Result<Option<i64>> {
        let r = sqlx::query("SELECT sent_at FROM mail_outbox WHERE notification_id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(r.map(|r| r.try_get::<Option<i64>, _>("sent_at"))
            .transpose()?
            .flatten())
    }
}
