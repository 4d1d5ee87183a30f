//! Rate-limit windows in the database, so that every replica counts against one limit (failed
//! sign-ins and password step-ups: N replicas must not allow N times the guesses; reports,
//! attachment bytes and webhook checks). Fixed windows, decided in one write transaction for a
//! set of keys: all are taken, or none.

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

/// `key`'s window at `now` as (its start, what it has used): a new one once the last ended.
async fn window(
    conn: &mut sqlx::AnyConnection,
    key: &str,
    rate: Rate,
    now: i64,
) -> Result<(i64, i64)> {
    let row = sqlx::query("SELECT started_at, used FROM rate_windows WHERE rate_key = $1")
        .bind(key)
        .fetch_optional(&mut *conn)
        .await?;
    let (start, used) = match row {
        Some(r) => (
            r.try_get::<i64, _>("started_at")?,
            r.try_get::<i64, _>("used")?,
        ),
        None => (now, 0),
    };
    Ok(if now - start >= rate.window_secs {
        (now, 0)
    } else {
        (start, used)
    })
}

/// Writes the windows taken from, and forgets the long-ended ones.
async fn store_windows(
    conn: &mut sqlx::AnyConnection,
    counts: &[(&str, i64, i64)],
    now: i64,
) -> Result<()> {
    for (key, start, used) in counts {
        sqlx::query(
            "INSERT INTO rate_windows (rate_key, started_at, used) VALUES ($1, $2, $3)
             ON CONFLICT (rate_key) DO UPDATE SET started_at = excluded.started_at, used = excluded.used",
        )
        .bind(*key)
        .bind(*start)
        .bind(*used)
        .execute(&mut *conn)
        .await?;
    }
    // A few at a time, by the index: a take never pays for a flood of old keys at once.
    sqlx::query(
        "DELETE FROM rate_windows WHERE rate_key IN
         (SELECT rate_key FROM rate_windows WHERE started_at < $1 LIMIT 16)",
    )
    .bind(now - FORGET_AFTER_SECS)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

impl Db {
    /// Takes one from each of `keys` in its current window at `now` if every one stays within
    /// its limit; else takes nothing and answers the seconds until the fullest window ends.
    pub async fn take_rates(&self, keys: &[(String, Rate)], now: i64) -> Result<Result<(), i64>> {
        let with: Vec<(&str, Rate, i64)> = keys.iter().map(|(k, r)| (k.as_str(), *r, 1)).collect();
        Ok(self.take_amounts(&with, now).await?.map(|_| ()))
    }

    /// Takes `amount` from `key`'s current window if it stays within `rate`, answering the
    /// window (its start, for [`Db::give_back_rate`]); else takes nothing and answers the
    /// seconds until the window ends.
    pub async fn take_rate(
        &self,
        key: &str,
        amount: i64,
        rate: Rate,
        now: i64,
    ) -> Result<Result<i64, i64>> {
        let starts = self.take_amounts(&[(key, rate, amount)], now).await?;
        Ok(starts.map(|s| s.first().copied().unwrap_or(now)))
    }

    async fn take_amounts(
        &self,
        keys: &[(&str, Rate, i64)],
        now: i64,
    ) -> Result<Result<Vec<i64>, i64>> {
        let mut tx = self.begin_write().await?;
        let mut counts = Vec::with_capacity(keys.len());
        for (key, rate, amount) in keys {
            // Nothing negative is ever taken (that would be a give-back).
            let amount = (*amount).max(0);
            let (start, used) = window(&mut tx, key, *rate, now).await?;
            if used.saturating_add(amount) > rate.max {
                return Ok(Err((rate.window_secs - (now - start)).max(1)));
            }
            counts.push((*key, start, used + amount));
        }
        store_windows(&mut tx, &counts, now).await?;
        tx.commit().await?;
        Ok(Ok(counts.iter().map(|(_, start, _)| *start).collect()))
    }

    /// Takes as much of `want` as `key`'s window has left (a stream of unknown length reserves
    /// its cap, then gives back what it did not use). Answers what was taken and the window it
    /// was taken from (its start), or the seconds until the window ends when nothing is left.
    pub async fn take_rate_up_to(
        &self,
        key: &str,
        want: i64,
        rate: Rate,
        now: i64,
    ) -> Result<Result<(i64, i64), i64>> {
        let want = want.max(0);
        let mut tx = self.begin_write().await?;
        let (start, used) = window(&mut tx, key, rate, now).await?;
        let got = want.min(rate.max - used).max(0);
        if got == 0 && want > 0 {
            return Ok(Err((rate.window_secs - (now - start)).max(1)));
        }
        store_windows(&mut tx, &[(key, start, used + got)], now).await?;
        tx.commit().await?;
        Ok(Ok((got, start)))
    }

    /// Gives back one to each of `keys` (an attempt that is not to count: a success).
    pub async fn give_back_rates(&self, keys: &[String]) -> Result<()> {
        let mut tx = self.begin_write().await?;
        for key in keys {
            give_back(&mut tx, key, 1, None).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Gives back `amount` to `key`'s window that started at `window` (what a reservation did
    /// not use); nothing once that window has ended, so a late give-back never empties the next.
    pub async fn give_back_rate(&self, key: &str, amount: i64, window: i64) -> Result<()> {
        if amount <= 0 {
            return Ok(());
        }
        let mut tx = self.begin_write().await?;
        give_back(&mut tx, key, amount, Some(window)).await?;
        tx.commit().await?;
        Ok(())
    }
}

async fn give_back(
    conn: &mut sqlx::AnyConnection,
    key: &str,
    amount: i64,
    window: Option<i64>,
) -> Result<()> {
    let q = match window {
        Some(w) => sqlx::query(
            "UPDATE rate_windows SET used = CASE WHEN used > $2 THEN used - $2 ELSE 0 END
             WHERE rate_key = $1 AND started_at = $3",
        )
        .bind(key)
        .bind(amount)
        .bind(w),
        None => sqlx::query(
            "UPDATE rate_windows SET used = CASE WHEN used > $2 THEN used - $2 ELSE 0 END
             WHERE rate_key = $1",
        )
        .bind(key)
        .bind(amount),
    };
    q.execute(&mut *conn).await?;
    Ok(())
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
        let b = a.open_another(dir.path()).await.expect("second");
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

    /// Amounts (attachment bytes): taken whole or not at all, or as much as is left, and given
    /// back, across stores.
    #[tokio::test]
    async fn amounts_are_taken_whole_or_up_to_what_is_left_and_given_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = Store::open_test(dir.path()).await.expect("open");
        let b = a.open_another(dir.path()).await.expect("second");
        let rate = Rate {
            max: 100,
            window_secs: 60,
        };
        assert_eq!(
            a.db.take_rate("bytes", 70, rate, 0).await.expect("take"),
            Ok(0)
        );
        assert_eq!(
            b.db.take_rate("bytes", 40, rate, 1).await.expect("take"),
            Err(59)
        );
        assert_eq!(
            b.db.take_rate_up_to("bytes", 40, rate, 1)
                .await
                .expect("up to"),
            Ok((30, 0))
        );
        assert_eq!(
            a.db.take_rate_up_to("bytes", 1, rate, 2)
                .await
                .expect("up to"),
            Err(58)
        );
        b.db.give_back_rate("bytes", 25, 0)
            .await
            .expect("give back");
        assert_eq!(
            a.db.take_rate_up_to("bytes", 40, rate, 3)
                .await
                .expect("up to"),
            Ok((25, 0))
        );
        // Giving back more than was used leaves zero, never a negative count; a negative take
        // takes nothing.
        a.db.give_back_rate("bytes", 1000, 0)
            .await
            .expect("give back");
        assert_eq!(
            a.db.take_rate("bytes", -50, rate, 4).await.expect("take"),
            Ok(0)
        );
        assert_eq!(
            a.db.take_rate("bytes", 100, rate, 4).await.expect("take"),
            Ok(0)
        );
        assert_eq!(
            a.db.take_rate("bytes", 1, rate, 5).await.expect("full"),
            Err(55)
        );
        // A new window; a late give-back to the old one does not empty it.
        assert_eq!(
            a.db.take_rate("bytes", 100, rate, 61)
                .await
                .expect("new window"),
            Ok(61)
        );
        b.db.give_back_rate("bytes", 100, 0)
            .await
            .expect("late give back");
        assert_eq!(
            a.db.take_rate("bytes", 1, rate, 62)
                .await
                .expect("still full"),
            Err(59)
        );
        b.db.give_back_rate("bytes", 10, 61)
            .await
            .expect("give back");
        assert_eq!(
            a.db.take_rate("bytes", 10, rate, 63)
                .await
                .expect("given back"),
            Ok(61)
        );
    }
}
