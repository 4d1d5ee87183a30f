//! Identity: the operator's level shortcut, registered verifiers and their attestations, and the
//! effective level of a user at an instant. The level is computed at each decision from the
//! rows (which are cached only while the state version stands, see [`crate::cache`]): an expired
//! or revoked attestation (or a revoked verifier) stops counting at the next decision, which is
//! how revocation cascades to every grant that relied on it.

use sqlx::Row;
use weir_core::{IdentityLevel, Name};

use crate::{Db, Result, StoreError, now};

/// A user's effective identity at one instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub level: IdentityLevel,
    pub country: Option<String>,
    /// `operator`, `attestation:<id>` or `account`.
    pub source: String,
    pub expires_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttestationRecord {
    pub id: String,
    pub subject: Name,
    pub verifier: String,
    pub level: IdentityLevel,
    pub country: Option<String>,
    pub issued_at: i64,
    pub expires_at: i64,
}

/// An attestation as its subject sees it on their account page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attestation {
    pub id: String,
    pub verifier: String,
    pub level: String,
    pub country: Option<String>,
    pub issued_at: i64,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
    /// When its verifier was revoked (which voids it), if it was.
    pub verifier_revoked_at: Option<i64>,
}

/// The rows a user's identity is computed from (see [`Db::identity`]).
#[derive(Debug, Clone)]
pub(crate) struct IdentityRows {
    country: Option<String>,
    op_level: IdentityLevel,
    op_expires_at: Option<i64>,
    attestations: Vec<AttestationRow>,
}

#[derive(Debug, Clone)]
struct AttestationRow {
    id: String,
    level: IdentityLevel,
    country: Option<String>,
    expires_at: i64,
}

impl IdentityRows {
    /// The best of the operator's unexpired level and every unexpired attestation at `at`; at
    /// least `account`.
    fn effective(&self, at: i64) -> Identity {
        let mut best = Identity {
            level: IdentityLevel::Account,
            country: self.country.clone(),
            source: "account".into(),
            expires_at: None,
        };
        if self.op_expires_at.is_none_or(|e| e > at) && self.op_level > best.level {
            best.level = self.op_level;
            best.source = "operator".into();
            best.expires_at = self.op_expires_at;
        }
        for a in self.attestations.iter().filter(|a| a.expires_at > at) {
            if a.level > best.level {
                best.level = a.level;
                best.source = format!("attestation:{}", a.id);
                best.expires_at = Some(a.expires_at);
                if a.country.is_some() {
                    best.country = a.country.clone();
                }
            }
        }
        best
    }
}

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

impl Db {
    /// The operator's shortcut (demos, tests): sets a level directly, optionally expiring.
    pub async fn set_identity_logged(
        &self,
        user: &Name,
        level: IdentityLevel,
        country: Option<&str>,
        expires_at: Option<i64>,
        event: &weir_core::Event,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let res = sqlx::query(
            "UPDATE accounts SET identity_level = $1, country = $2, level_expires_at = $3 WHERE name = $4 AND kind = 'user'",
        )
        .bind(level.as_str())
        .bind(country)
        .bind(expires_at)
        .bind(user.as_str())
        .execute(&mut *tx)
        .await?;
        if res.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("user {user}")));
        }
        crate::events::record_event_in(&mut tx, event).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The effective identity at `at`: the best of the operator's unexpired level and every
    /// unexpired, unrevoked attestation by an unrevoked verifier; at least `account`.
    pub async fn identity(&self, user: &str, at: i64) -> Result<Identity> {
        let rows = self
            .memoized(
                &self.memo.identity,
                user.to_string(),
                self.identity_rows(user),
            )
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("user {user}")))?;
        Ok(rows.effective(at))
    }

    /// Every attestation about `user`, newest first, revoked and expired ones too, with its
    /// verifier's standing.
    pub async fn attestations_of(&self, user: &str, limit: i64) -> Result<Vec<Attestation>> {
        let rows = sqlx::query(
            "SELECT a.id, a.verifier, a.level, a.country, a.issued_at, a.expires_at, a.revoked_at,
                    v.revoked_at AS verifier_revoked_at
             FROM attestations a LEFT JOIN verifiers v ON v.name = a.verifier
             WHERE a.subject = $1 ORDER BY a.issued_at DESC, a.id DESC LIMIT $2",
        )
        .bind(user)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Attestation {
                    id: r.try_get("id")?,
                    verifier: r.try_get("verifier")?,
                    level: r.try_get("level")?,
                    country: r.try_get("country")?,
                    issued_at: r.try_get("issued_at")?,
                    expires_at: r.try_get("expires_at")?,
                    revoked_at: r.try_get("revoked_at")?,
                    verifier_revoked_at: r.try_get("verifier_revoked_at")?,
                })
            })
            .collect()
    }

    /// What a user's identity at any instant is computed from: the operator's level and every
    /// attestation by an unrevoked verifier that is not revoked (expired ones included: expiry
    /// is decided at the instant asked).
    async fn identity_rows(&self, user: &str) -> Result<Option<IdentityRows>> {
        let Some(row) = sqlx::query(
            "SELECT identity_level, country, level_expires_at FROM accounts WHERE name = $1",
        )
        .bind(user)
        .fetch_optional(&self.pool)
        .await?
        else {
            return Ok(None);
        };
        let op_level: String = row.try_get("identity_level")?;
        let mut out = IdentityRows {
            country: row.try_get("country")?,
            op_level: IdentityLevel::parse(&op_level).ok_or_else(|| corrupt(&op_level))?,
            op_expires_at: row.try_get("level_expires_at")?,
            attestations: vec![],
        };
        let rows = sqlx::query(
            "SELECT a.id, a.level, a.country, a.expires_at FROM attestations a
             JOIN verifiers v ON v.name = a.verifier
             WHERE a.subject = $1 AND a.revoked_at IS NULL AND v.revoked_at IS NULL
             ORDER BY a.issued_at, a.id",
        )
        .bind(user)
        .fetch_all(&self.pool)
        .await?;
        for r in rows {
            let lv: String = r.try_get("level")?;
            out.attestations.push(AttestationRow {
                id: r.try_get("id")?,
                level: IdentityLevel::parse(&lv).ok_or_else(|| corrupt(&lv))?,
                country: r.try_get("country")?,
                expires_at: r.try_get("expires_at")?,
            });
        }
        Ok(Some(out))
    }

    pub async fn add_verifier_logged(
        &self,
        name: &Name,
        public_key_hex: &str,
        event: &weir_core::Event,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let res = sqlx::query(
            "INSERT INTO verifiers (name, public_key, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name.as_str())
        .bind(public_key_hex)
        .bind(now())
        .execute(&mut *tx)
        .await?;
        if res.rows_affected() == 0 {
            return Err(StoreError::Exists(format!("verifier {name}")));
        }
        crate::events::record_event_in(&mut tx, event).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Revokes a verifier: every attestation it made stops counting at once.
    pub async fn revoke_verifier_logged(&self, name: &str, event: &weir_core::Event) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let res = sqlx::query(
            "UPDATE verifiers SET revoked_at = $1 WHERE name = $2 AND revoked_at IS NULL",
        )
        .bind(now())
        .bind(name)
        .execute(&mut *tx)
        .await?;
        if res.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("active verifier {name}")));
        }
        crate::events::record_event_in(&mut tx, event).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Every verifier: name, when registered, when revoked (operators' page).
    pub async fn verifiers(&self) -> Result<Vec<(String, i64, Option<i64>)>> {
        let rows = sqlx::query("SELECT name, created_at, revoked_at FROM verifiers ORDER BY name")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("name")?,
                    r.try_get("created_at")?,
                    r.try_get("revoked_at")?,
                ))
            })
            .collect()
    }

    /// A verifier's public key (hex), if it is registered and not revoked.
    pub async fn verifier_key(&self, name: &str) -> Result<Option<String>> {
        let row =
            sqlx::query("SELECT public_key FROM verifiers WHERE name = $1 AND revoked_at IS NULL")
                .bind(name)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|r| r.try_get("public_key")).transpose()?)
    }

    pub async fn record_attestation(&self, a: &AttestationRecord) -> Result<()> {
        let mut tx = self.begin_write().await?;
        record_attestation_in(&mut tx, a).await?;
        tx.commit().await?;
        Ok(())
    }

    /// [`Db::record_attestation`] and its governance event, in one transaction.
    pub async fn record_attestation_logged(
        &self,
        a: &AttestationRecord,
        event: &weir_core::Event,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        record_attestation_in(&mut tx, a).await?;
        crate::events::record_event_in(&mut tx, event).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn revoke_attestation_logged(
        &self,
        id: &str,
        event: &weir_core::Event,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let res = sqlx::query(
            "UPDATE attestations SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
        )
        .bind(now())
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if res.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("active attestation {id}")));
        }
        crate::events::record_event_in(&mut tx, event).await?;
        tx.commit().await?;
        Ok(())
    }
}

async fn record_attestation_in(tx: &mut sqlx::AnyConnection, a: &AttestationRecord) -> Result<()> {
    let res = sqlx::query(
        "INSERT INTO attestations (id, subject, verifier, level, country, issued_at, expires_at, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO NOTHING",
    )
    .bind(&a.id)
    .bind(a.subject.as_str())
    .bind(&a.verifier)
    .bind(a.level.as_str())
    .bind(a.country.as_deref())
    .bind(a.issued_at)
    .bind(a.expires_at)
    .bind(now())
    .execute(&mut *tx)
    .await?;
    if res.rows_affected() == 0 {
        return Err(StoreError::Exists(format!("attestation {}", a.id)));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use weir_core::{Event, Name};

    fn event(action: &str) -> Event {
        Event {
            at: 1,
            actor: Some("operator".into()),
            action: action.into(),
            repo: None,
            subject: None,
            decision: "change".into(),
            reason: "test".into(),
            request_id: None,
            user_agent: None,
            details: serde_json::json!({}),
        }
    }

    /// An operator's change commits with its event: both or neither.
    #[tokio::test]
    async fn an_operator_change_and_its_event_commit_together() {
        let dir = tempfile::tempdir().expect("tmp");
        let store = crate::Store::open_test(dir.path()).await.expect("store");
        let logged = |store: &crate::Store| {
            let db = store.db.clone();
            async move { db.events(None, 1000).await.expect("events").len() }
        };
        let before = logged(&store).await;
        let n = Name::parse("idv").expect("n");
        store
            .db
            .add_verifier_logged(&n, &"ab".repeat(32), &event("verifier.add"))
            .await
            .expect("add");
        assert_eq!(logged(&store).await, before + 1);
        // A refused change records nothing.
        assert!(
            store
                .db
                .add_verifier_logged(&n, &"cd".repeat(32), &event("verifier.add"))
                .await
                .is_err()
        );
        assert!(
            store
                .db
                .revoke_verifier_logged("nobody", &event("verifier.revoke"))
                .await
                .is_err()
        );
        assert!(
            store
                .db
                .set_identity_logged(
                    &Name::parse("ghost").expect("n"),
                    weir_core::IdentityLevel::Identified,
                    None,
                    None,
                    &event("identity.set")
                )
                .await
                .is_err()
        );
        assert_eq!(
            logged(&store).await,
            before + 1,
            "a refused change logged an event"
        );
    }
}
