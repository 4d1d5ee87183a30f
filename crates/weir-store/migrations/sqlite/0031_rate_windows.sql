-- Rate-limit windows shared by every replica (failed sign-ins): a key, its window's start, its count.
CREATE TABLE rate_windows (
    rate_key TEXT PRIMARY KEY,
    started_at INTEGER NOT NULL,
    used INTEGER NOT NULL
);
