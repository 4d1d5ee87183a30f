//! Rate-limit windows in the database, so that every replica counts against one limit (failed
//! sign-ins: N replicas must not allow N times the guesses). Fixed windows, decided in one write
//! transaction for a set of keys: all are taken, or none.

use sqlx::Row;

use crate::{Db, Result};

/// What one key may do in one window.
#[derive(Debug, Clone, Copy)]
pub struct Rate {
    pub max: i64,
    pub window_secs: i64,
}

/// Windows older than this are removed as new ones are taken (the table stays small).
const FORGET_AFTER_SECS: i64 = 2 * 86_400;

impl Db {
    /// Takes one from each of `keys` in its current window at `now` if every one stays within
    /// its limit; else takes nothing and answers the seconds until the fullest window ends.
    pub async fn take_rates(&self, keys: &[(String, Rate)], now: i64) -> Result<Result<(), i64>> {
        let mut tx = self.begin_write().await?;
        let mut counts = Vec::with_capacity(keys.len());
        for (key, rate) in keys {
            let row = sqlx::query("SELECT started_at, used FROM rate_windows WHERE rate_key = $1")
                .bind(key)
                .fetch_optional(&mut *tx)
                .await?;
            let (start, used) = match row {
                Some(r) => (
                    r.try_get::<i64, _>("started_at")?,
                    r.try_get::<i64, _>("used")?,
                ),
                None => (now, 0),
            };
            let (start, used) = if now - start >= rate.window_secs {
                (now, 0)
            } else {
                (start, used)
            };
            if used + 1 > rate.max {
                return Ok(Err((rate.window_secs - (now - start)).max(1)));
            }
            counts.push((key, start, used + 1));
        }
        for (key, start, used) in counts {
            sqlx::query(
                "INSERT INTO rate_windows (rate_key, started_at, used) VALUES ($1, $2, $3)
                 ON CONFLICT (rate_key) DO UPDATE SET started_at = excluded.started_at, used = excluded.used",
            )
            .bind(key)
            .bind(start)
            .bind(used)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query("DELETE FROM rate_windows WHERE started_at < $1")
            .bind(now - FORGET_AFTER_SECS)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Ok(()))
    }

    /// Gives back one to each of `keys` (an attempt that is not to count: a success).
    pub async fn give_back_rates(&self, keys: &[String]) -> Result<()> {
        let mut tx = self.begin_write().await?;
        for key in keys {
            sqlx::query("UPDATE rate_windows SET used = used - 1 WHERE rate_key = $1 AND used > 0")
                .bind(key)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::Rate;
    use crate::Store;

    /// Two replicas (two stores on one database) count against one limit.
    #[tokio::test]
    async fn every_store_on_one_database_counts_against_one_limit() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = Store::open_test(dir.path()).await.expect("open");
        let b = Store::open_with(
            dir.path(),
            a.database_url.as_deref(),
            a.blob_settings.as_ref(),
        )
        .await
        .expect("second");
        let rate = Rate {
            max: 3,
            window_secs: 60,
        };
        let keys = vec![("sign-in:name:ann".to_string(), rate)];
        for (i, db) in [&a.db, &b.db, &a.db].into_iter().enumerate() {
            assert_eq!(
                db.take_rates(&keys, 1000).await.expect("take"),
                Ok(()),
                "{i}"
            );
        }
        let wait = b.db.take_rates(&keys, 1010).await.expect("take");
        assert_eq!(wait, Err(50), "the fourth, on the other store, waits");
        // All or nothing: a second key out of attempts takes nothing from the first.
        let both = vec![
            ("sign-in:addr:x".to_string(), rate),
            ("sign-in:name:ann".to_string(), rate),
        ];
        assert!(a.db.take_rates(&both, 1010).await.expect("take").is_err());
        let addr_only = vec![(
            "sign-in:addr:x".to_string(),
            Rate {
                max: 1,
                window_secs: 60,
            },
        )];
        assert_eq!(
            a.db.take_rates(&addr_only, 1010).await.expect("take"),
            Ok(())
        );
        // A success gives its attempt back; a new window starts afresh.
        a.db.give_back_rates(&["sign-in:name:ann".to_string()])
            .await
            .expect("give back");
        assert_eq!(b.db.take_rates(&keys, 1011).await.expect("take"), Ok(()));
        assert_eq!(b.db.take_rates(&keys, 1061).await.expect("take"), Ok(()));
    }
}
