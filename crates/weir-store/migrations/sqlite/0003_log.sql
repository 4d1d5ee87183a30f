-- The transparency log: pending entries, sequenced entries, stored complete-subtree hashes and
-- the last signed state. The per-event salt for log commitments stays here, never in the log.

ALTER TABLE events ADD COLUMN salt BLOB;

CREATE TABLE log_pending (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id    BIGINT,
    data        BLOB NOT NULL
);

CREATE TABLE log_entries (
    idx         BIGINT PRIMARY KEY,
    event_id    BIGINT,
    data        BLOB NOT NULL
);

CREATE TABLE log_hashes (
    level       BIGINT NOT NULL,
    idx         BIGINT NOT NULL,
    hash        BLOB NOT NULL,
    PRIMARY KEY (level, idx)
);

CREATE TABLE log_state (
    id          BIGINT PRIMARY KEY CHECK (id = 1),
    size        BIGINT NOT NULL,
    root        BLOB NOT NULL,
    checkpoint  TEXT
);
