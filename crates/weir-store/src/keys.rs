//! The registry's signing identities pinned in the database: the first process to start on a
//! database records the public half of each key it signs with, and every later one (every
//! replica) must present the same, so no two processes ever sign for one registry with
//! different keys — not even two fresh replicas started at once before the first checkpoint.

use sqlx::Row;

use crate::{Db, Result};

impl Db {
    /// The public key pinned for `role`, if any process pinned one yet.
    pub async fn pinned_key(&self, role: &str) -> Result<Option<String>> {
        let row = sqlx::query("SELECT public FROM key_pins WHERE role = $1")
            .bind(role)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get("public")).transpose()?)
    }

    /// Pins `public` as the key of `role` if none is pinned yet, atomically across processes.
    /// Answers the key pinned for `role` (this one, or the one another process pinned first).
    pub async fn pin_key(&self, role: &str, public: &str) -> Result<String> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO key_pins (role, public) VALUES ($1, $2) ON CONFLICT (role) DO NOTHING",
        )
        .bind(role)
        .bind(public)
        .execute(&mut *tx)
        .await?;
        let pinned: String = sqlx::query("SELECT public FROM key_pins WHERE role = $1")
            .bind(role)
            .fetch_one(&mut *tx)
            .await?
            .try_get("public")?;
        tx.commit().await?;
        Ok(pinned)
    }
}

#[cfg(test)]
mod tests {
    use crate::Store;

    /// Two replicas (two stores on one database) racing to pin: one key wins for both.
    #[tokio::test]
    async fn the_first_key_pinned_stays_pinned_for_every_replica() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = Store::open_test(dir.path()).await.expect("open");
        let b = a.open_another(dir.path()).await.expect("second");
        let (x, y) = tokio::join!(a.db.pin_key("log", "key-a"), b.db.pin_key("log", "key-b"));
        let (x, y) = (x.expect("pin a"), y.expect("pin b"));
        assert_eq!(x, y, "both replicas see one pinned key");
        assert!(x == "key-a" || x == "key-b", "{x}");
        assert_eq!(a.db.pin_key("log", "key-c").await.expect("again"), x);
        assert_eq!(b.db.pinned_key("log").await.expect("read"), Some(x.clone()));
        assert_eq!(b.db.pinned_key("release").await.expect("read"), None);
        assert_eq!(b.db.pin_key("release", "r").await.expect("other role"), "r");
    }
}
