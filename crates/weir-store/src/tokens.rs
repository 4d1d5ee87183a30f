//! API tokens: 32 random bytes shown once as `weir_<hex>`; only their SHA-256 is stored.

use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::Row;
use weir_core::{Name, Scope};

use crate::{Db, Result, StoreError, now};

pub const TOKEN_PREFIX: &str = "weir_";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    pub account: Name,
    pub scope: Scope,
    pub display_name: String,
}

fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

impl Db {
    /// Creates a token for an existing user, with its event (given the token's id) in the same
    /// transaction: no token exists that the log does not record. Returns the plaintext (never
    /// stored) and the token's id.
    pub async fn create_token_logged(
        &self,
        user: &Name,
        scope: Scope,
        display_name: &str,
        event: impl FnOnce(i64) -> weir_core::Event,
    ) -> Result<(String, i64)> {
        match self.account(user.as_str()).await? {
            Some(a) if a.kind == crate::AccountKind::User => {}
            _ => return Err(StoreError::NotFound(format!("user {user}"))),
        }
        let mut raw = [0u8; 32];
        rand::rng().fill_bytes(&mut raw);
        let token = format!("{TOKEN_PREFIX}{}", hex::encode(raw));
        let mut tx = self.begin_write().await?;
        let id: i64 = sqlx::query(
            "INSERT INTO tokens (hash, account, scope, display_name, created_at)
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(hash_token(&token))
        .bind(user.as_str())
        .bind(scope.as_str())
        .bind(display_name)
        .bind(now())
        .fetch_one(&mut *tx)
        .await?
        .try_get("id")?;
        crate::events::record_event_in(&mut tx, &event(id)).await?;
        tx.commit().await?;
        Ok((token, id))
    }

    /// Creates a token for an existing user and returns the plaintext, which is never stored.
    pub async fn create_token(
        &self,
        user: &Name,
        scope: Scope,
        display_name: &str,
    ) -> Result<String> {
        match self.account(user.as_str()).await? {
            Some(a) if a.kind == crate::AccountKind::User => {}
            _ => return Err(StoreError::NotFound(format!("user {user}"))),
        }
        let mut raw = [0u8; 32];
        rand::rng().fill_bytes(&mut raw);
        let token = format!("{TOKEN_PREFIX}{}", hex::encode(raw));
        let w = self.writing();
        sqlx::query(
            "INSERT INTO tokens (hash, account, scope, display_name, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(hash_token(&token))
        .bind(user.as_str())
        .bind(scope.as_str())
        .bind(display_name)
        .bind(now())
        .execute(&self.pool)
        .await?;
        drop(w);
        Ok(token)
    }

    /// Looks a presented token up by its hash. `None` for unknown or revoked tokens.
    pub async fn authenticate(&self, token: &str) -> Result<Option<TokenInfo>> {
        if !token.starts_with(TOKEN_PREFIX) || token.len() > 128 {
            return Ok(None);
        }
        // Keyed by the hash: the cache never holds a token itself. Unknown tokens are not
        // remembered (a flood of made-up tokens must not push the real ones out).
        let hash = hash_token(token);
        let at = self.state_version().await?;
        if let Some(info) = self.memo.tokens.get(at, &hash) {
            return Ok(Some(info));
        }
        let found = self.authenticate_hash(hash.clone()).await?;
        if let Some(info) = &found {
            self.memo.tokens.put(at, hash, info.clone());
        }
        Ok(found)
    }

    async fn authenticate_hash(&self, hash: String) -> Result<Option<TokenInfo>> {
        let row = sqlx::query(
            "SELECT account, scope, display_name FROM tokens WHERE hash = $1 AND revoked_at IS NULL",
        )
        .bind(hash)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            let account: String = r.try_get("account")?;
            let scope: String = r.try_get("scope")?;
            Ok(TokenInfo {
                account: Name::parse(&account).map_err(|e| StoreError::Corrupt(e.to_string()))?,
                scope: Scope::parse(&scope)
                    .ok_or_else(|| StoreError::Corrupt(format!("scope {scope}")))?,
                display_name: r.try_get("display_name")?,
            })
        })
        .transpose()
    }

    /// On a registry with no admin token, the operator account `admin` (made if missing) and a
    /// token for it, in one write transaction: replicas starting at once on a new database make
    /// one between them. `None` when an admin token exists. The plaintext is never stored.
    pub async fn first_admin_token(&self) -> Result<Option<String>> {
        let mut tx = self.begin_write().await?;
        let n: i64 = sqlx::query(
            "SELECT COUNT(*) AS n FROM tokens WHERE scope = 'admin' AND revoked_at IS NULL",
        )
        .fetch_one(&mut *tx)
        .await?
        .try_get("n")?;
        if n > 0 {
            return Ok(None);
        }
        sqlx::query(
            "INSERT INTO accounts (name, kind, email, fullname, is_admin, created_at)
             VALUES ('admin', 'user', NULL, NULL, 1, $1) ON CONFLICT (name) DO NOTHING",
        )
        .bind(now())
        .execute(&mut *tx)
        .await?;
        let kind: String = sqlx::query("SELECT kind FROM accounts WHERE name = 'admin'")
            .fetch_one(&mut *tx)
            .await?
            .try_get("kind")?;
        if kind != "user" {
            return Err(StoreError::NotFound("user admin".into()));
        }
        let mut raw = [0u8; 32];
        rand::rng().fill_bytes(&mut raw);
        let token = format!("{TOKEN_PREFIX}{}", hex::encode(raw));
        sqlx::query(
            "INSERT INTO tokens (hash, account, scope, display_name, created_at)
             VALUES ($1, 'admin', 'admin', 'initial admin', $2)",
        )
        .bind(hash_token(&token))
        .bind(now())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(token))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two replicas starting at once on a new database make one operator token between them.
    #[tokio::test]
    async fn replicas_starting_at_once_make_one_first_admin_token() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = crate::Store::open_test(dir.path()).await.expect("open");
        let b = a.open_another(dir.path()).await.expect("second");
        let (x, y) = tokio::join!(a.db.first_admin_token(), b.db.first_admin_token());
        let made: Vec<String> = [x.expect("a"), y.expect("b")]
            .into_iter()
            .flatten()
            .collect();
        assert_eq!(made.len(), 1, "one token between them");
        let info =
            a.db.authenticate(&made[0])
                .await
                .expect("auth")
                .expect("valid");
        assert_eq!(info.scope, weir_core::Scope::Admin);
        assert_eq!(a.db.first_admin_token().await.expect("again"), None);
    }

    #[test]
    fn hashes_are_hex_sha256() {
        assert_eq!(
            hash_token("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}

/// A token as its owner (or an operator) sees it: never the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRow {
    pub id: i64,
    pub account: String,
    pub scope: String,
    pub display_name: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

impl Db {
    /// Every token of `account`, newest first, revoked ones included.
    pub async fn tokens_of(&self, account: &str) -> Result<Vec<TokenRow>> {
        let rows = sqlx::query(
            "SELECT id, account, scope, display_name, created_at, revoked_at FROM tokens
             WHERE account = $1 ORDER BY id DESC",
        )
        .bind(account)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(token_row).collect()
    }

    pub async fn token(&self, id: i64) -> Result<Option<TokenRow>> {
        let row = sqlx::query(
            "SELECT id, account, scope, display_name, created_at, revoked_at FROM tokens WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(token_row).transpose()
    }

    /// Revokes token `id` with its event, in one transaction: it stops working at once.
    /// `Ok(false)` when it was already revoked.
    pub async fn revoke_token_logged(
        &self,
        id: i64,
        at: i64,
        event: &weir_core::Event,
    ) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let res =
            sqlx::query("UPDATE tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                .bind(at)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        if res.rows_affected() == 0 {
            return Ok(false);
        }
        crate::events::record_event_in(&mut tx, event).await?;
        tx.commit().await?;
        Ok(true)
    }
}

fn token_row(r: &sqlx::any::AnyRow) -> Result<TokenRow> {
    Ok(TokenRow {
        id: r.try_get("id")?,
        account: r.try_get("account")?,
        scope: r.try_get("scope")?,
        display_name: r.try_get("display_name")?,
        created_at: r.try_get("created_at")?,
        revoked_at: r.try_get("revoked_at")?,
    })
}
