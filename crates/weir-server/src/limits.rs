//! Per-address and per-account rate limits for what anyone may do without an accredited
//! identity (anonymous reports and attachments, evidence): fixed windows counted in memory.
//!
//! The table is bounded: when it grows past [`MAX_KEYS`] entries, expired windows are dropped,
//! and if it is still full the oldest windows go first. Each replica counts on its own, so N
//! replicas allow up to N times these limits; failed sign-ins, where that would multiply
//! password guesses, are counted in the database instead (`weir_store::rates`).

use std::collections::HashMap;
use std::sync::Mutex;

/// Most distinct keys (addresses, accounts) remembered at once.
/// One attachment from a signed-in account; from an anonymous reporter.
pub const MAX_ATTACHMENT: u64 = 256 << 20;
pub const MAX_ANON_ATTACHMENT: u64 = 32 << 20;
/// Attachments of one report: how many, how many bytes in all.
pub const MAX_ATTACHMENTS: usize = 20;
pub const MAX_REPORT_ATTACHMENTS: u64 = 512 << 20;
/// How many pieces of evidence one account may file per day.
pub use weir_registry::evidence::EVIDENCE_PER_DAY;

pub const MAX_KEYS: usize = 100_000;

/// What one key may do in one window.
#[derive(Debug, Clone, Copy)]
pub struct Limit {
    pub max: u64,
    pub window_secs: i64,
}

/// Webhook registrations (each a name resolution) per account per hour.
pub const WEBHOOK_CHECKS: Limit = Limit {
    max: 20,
    window_secs: 3600,
};

/// Anonymous incident reports per client address per day.
pub const ANON_REPORTS: Limit = Limit {
    max: 10,
    window_secs: 86_400,
};
/// Incident reports per signed-in account per day.
pub const ACCOUNT_REPORTS: Limit = Limit {
    max: 50,
    window_secs: 86_400,
};
/// Attachment bytes per client address per day, for anonymous reporters.
pub const ANON_ATTACHMENT_BYTES: Limit = Limit {
    max: 512 << 20,
    window_secs: 86_400,
};

#[derive(Default)]
pub struct RateLimiter {
    windows: Mutex<HashMap<String, (i64, u64)>>,
}

impl RateLimiter {
    /// Adds `amount` to `key`'s count in the current window at `now`, if that stays within the
    /// limit. Returns the seconds until the window ends when it would not.
    pub fn take(&self, key: &str, amount: u64, limit: Limit, now: i64) -> Result<(), i64> {
        let mut map = match self.windows.lock() {
            Ok(m) => m,
            Err(p) => p.into_inner(),
        };
        if map.len() >= MAX_KEYS && !map.contains_key(key) {
            map.retain(|_, (start, _)| now - *start < limit.window_secs);
            if map.len() >= MAX_KEYS {
                // Still full of live windows: a flood of new keys must not reset the counters
                // of the others (that would fail open), so a new key waits.
                return Err(limit.window_secs.min(60));
            }
        }
        let e = map.entry(key.to_string()).or_insert((now, 0));
        if now - e.0 >= limit.window_secs {
            *e = (now, 0);
        }
        if e.1.saturating_add(amount) > limit.max {
            return Err(limit.window_secs - (now - e.0));
        }
        e.1 += amount;
        Ok(())
    }

    /// Gives back what a refused or failed action took (an upload that did not complete). A key
    /// back at zero is forgotten, so keys that never count do not fill the table.
    pub fn give_back(&self, key: &str, amount: u64) {
        if let Ok(mut map) = self.windows.lock()
            && let Some(e) = map.get_mut(key)
        {
            e.1 = e.1.saturating_sub(amount);
            if e.1 == 0 {
                map.remove(key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_given_back_to_zero_are_forgotten() {
        let r = RateLimiter::default();
        let l = Limit {
            max: 3,
            window_secs: 10,
        };
        assert!(r.take("a", 1, l, 100).is_ok());
        r.give_back("a", 1);
        assert!(r.windows.lock().expect("lock").is_empty());
    }

    #[test]
    fn windows_count_and_reset() {
        let r = RateLimiter::default();
        let l = Limit {
            max: 3,
            window_secs: 10,
        };
        for _ in 0..3 {
            assert!(r.take("a", 1, l, 100).is_ok());
        }
        assert_eq!(r.take("a", 1, l, 105), Err(5));
        assert!(r.take("b", 1, l, 105).is_ok(), "keys are separate");
        assert!(r.take("a", 1, l, 110).is_ok(), "a new window");
        r.give_back("a", 1);
        assert!(r.take("a", 3, l, 111).is_ok());
    }

    #[test]
    fn the_table_stays_bounded_and_fails_closed() {
        let r = RateLimiter::default();
        let l = Limit {
            max: 1,
            window_secs: 1_000_000,
        };
        assert!(r.take("victim-counter", 1, l, 0).is_ok());
        for i in 0..(MAX_KEYS + 10) {
            let _ = r.take(&format!("k{i}"), 1, l, 1);
        }
        let n = r.windows.lock().map(|m| m.len()).unwrap_or(0);
        assert!(n <= MAX_KEYS, "{n}");
        // The flood reset no one's counter, and new keys wait.
        assert!(r.take("victim-counter", 1, l, 2).is_err());
        assert!(r.take("brand-new", 1, l, 2).is_err());
        // Once windows expire, room is made.
        assert!(r.take("brand-new", 1, l, 2_000_000).is_ok());
    }
}
