-- The public half of each signing key the registry signs with (the log's verifier key, the
-- release key), pinned by the first process to start on this database: every later one, every
-- replica, must sign with the same keys.
CREATE TABLE key_pins (
    role TEXT PRIMARY KEY,
    public TEXT NOT NULL
);
