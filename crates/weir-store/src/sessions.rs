//! The web UI's passwords (argon2id PHC strings, hashed above this layer) and browser sessions
//! (looked up by the SHA-256 of the cookie's secret, which is never stored).

use sqlx::Row;
use weir_core::Name;

use crate::{Db, Result, StoreError};

/// A live session as the server sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: i64,
    pub account: Name,
    /// The session's CSRF token, which every form it posts must carry.
    pub csrf: String,
    pub created_at: i64,
    pub expires_at: i64,
}

impl Db {
    /// Sets (or replaces) `account`'s password hash.
    pub async fn set_password(&self, account: &Name, phc: &str, now: i64) -> Result<()> {
        let w = self.writing();
        sqlx::query(
            "INSERT INTO passwords (account, phc, set_at) VALUES ($1, $2, $3)
             ON CONFLICT (account) DO UPDATE SET phc = excluded.phc, set_at = excluded.set_at",
        )
        .bind(account.as_str())
        .bind(phc)
        .bind(now)
        .execute(&self.pool)
        .await?;
        drop(w);
        Ok(())
    }

    /// `account`'s password hash, if it has one.
    pub async fn password(&self, account: &str) -> Result<Option<String>> {
        let row = sqlx::query("SELECT phc FROM passwords WHERE account = $1")
            .bind(account)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get("phc")).transpose()?)
    }

    /// Records a new session by the hash of its secret.
    pub async fn create_session(
        &self,
        account: &Name,
        hash: &str,
        csrf: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<()> {
        let w = self.writing();
        sqlx::query(
            "INSERT INTO sessions (hash, account, csrf, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(hash)
        .bind(account.as_str())
        .bind(csrf)
        .bind(now)
        .bind(expires_at)
        .execute(&self.pool)
        .await?;
        drop(w);
        Ok(())
    }

    /// The live (unrevoked, unexpired) session whose secret hashes to `hash`.
    pub async fn session(&self, hash: &str, now: i64) -> Result<Option<Session>> {
        let row = sqlx::query(
            "SELECT id, account, csrf, created_at, expires_at FROM sessions
             WHERE hash = $1 AND revoked_at IS NULL AND expires_at > $2",
        )
        .bind(hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            let account: String = r.try_get("account")?;
            Ok(Session {
                id: r.try_get("id")?,
                account: Name::parse(&account).map_err(|e| StoreError::Corrupt(e.to_string()))?,
                csrf: r.try_get("csrf")?,
                created_at: r.try_get("created_at")?,
                expires_at: r.try_get("expires_at")?,
            })
        })
        .transpose()
    }

    /// Ends one session. Returns whether it was live.
    pub async fn revoke_session(&self, id: i64, now: i64) -> Result<bool> {
        let w = self.writing();
        let r =
            sqlx::query("UPDATE sessions SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                .bind(now)
                .bind(id)
                .execute(&self.pool)
                .await?;
        drop(w);
        Ok(r.rows_affected() > 0)
    }

    /// Ends every session of `account` ("sign out everywhere"; also on a password change).
    /// Returns how many were live.
    pub async fn revoke_sessions_of(&self, account: &str, now: i64) -> Result<u64> {
        let w = self.writing();
        let r = sqlx::query(
            "UPDATE sessions SET revoked_at = $1 WHERE account = $2 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(account)
        .execute(&self.pool)
        .await?;
        drop(w);
        Ok(r.rows_affected())
    }

    /// How many live sessions `account` has.
    pub async fn live_sessions(&self, account: &str, now: i64) -> Result<i64> {
        let r = sqlx::query(
            "SELECT COUNT(*) AS n FROM sessions
             WHERE account = $1 AND revoked_at IS NULL AND expires_at > $2",
        )
        .bind(account)
        .bind(now)
        .fetch_one(&self.pool)
        .await?;
        Ok(r.try_get("n")?)
    }
}
