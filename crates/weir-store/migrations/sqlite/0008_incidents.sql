-- Incidents, coordinated disclosure, deliveries, notifications and publisher standing
-- (DESIGN.md §5).
CREATE TABLE incidents (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    osv_id           TEXT NOT NULL UNIQUE,
    year             BIGINT NOT NULL,
    seq              BIGINT NOT NULL,
    repo_id          BIGINT NOT NULL REFERENCES repos(id),
    kind             TEXT NOT NULL,
    class            TEXT NOT NULL,
    state            TEXT NOT NULL,
    severity         TEXT,
    domain           TEXT,
    summary          TEXT NOT NULL,
    details          TEXT NOT NULL,
    revisions        TEXT NOT NULL,
    fixed_revision   TEXT,
    aliases          TEXT NOT NULL DEFAULT '[]',
    in_the_wild      BIGINT NOT NULL DEFAULT 0,
    hold             BIGINT NOT NULL DEFAULT 0,
    reporter         TEXT,
    followup_hash    TEXT,
    aware_at         BIGINT NOT NULL,
    triaged_at       BIGINT,
    confirmed_at     BIGINT,
    resolved_at      BIGINT,
    disclosed_at     BIGINT,
    withdrawn_at     BIGINT,
    last_update_at   BIGINT,
    final_report_at  BIGINT,
    embargo_until    BIGINT,
    updated_at       BIGINT NOT NULL,
    UNIQUE (year, seq)
);
CREATE INDEX incidents_repo ON incidents (repo_id);

CREATE TABLE incident_log (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id  BIGINT NOT NULL REFERENCES incidents(id),
    kind         TEXT NOT NULL,
    from_state   TEXT,
    to_state     TEXT,
    actor        TEXT NOT NULL,
    note         TEXT NOT NULL,
    at           BIGINT NOT NULL
);
CREATE INDEX incident_log_incident ON incident_log (incident_id);

CREATE TABLE incident_attachments (
    incident_id  BIGINT NOT NULL REFERENCES incidents(id),
    name         TEXT NOT NULL,
    sha256       TEXT NOT NULL,
    size         BIGINT NOT NULL,
    added_by     TEXT NOT NULL,
    at           BIGINT NOT NULL,
    PRIMARY KEY (incident_id, sha256)
);

CREATE TABLE deliveries (
    repo_id    BIGINT NOT NULL REFERENCES repos(id),
    commit_id  TEXT NOT NULL,
    account    TEXT NOT NULL,
    first_at   BIGINT NOT NULL,
    last_at    BIGINT NOT NULL,
    count      BIGINT NOT NULL,
    PRIMARY KEY (repo_id, commit_id, account)
);

CREATE TABLE notifications (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    account      TEXT NOT NULL,
    kind         TEXT NOT NULL,
    incident_id  BIGINT,
    message      TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    read_at      BIGINT
);
CREATE INDEX notifications_account ON notifications (account);

CREATE TABLE webhooks (
    account     TEXT PRIMARY KEY,
    url         TEXT NOT NULL,
    secret      TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    last_status TEXT
);

CREATE TABLE publisher_standing (
    namespace   TEXT PRIMARY KEY,
    standing    TEXT NOT NULL,
    rule        TEXT NOT NULL,
    detail      TEXT NOT NULL,
    since       BIGINT NOT NULL
);

CREATE TABLE release_signoffs (
    repo_id    BIGINT NOT NULL REFERENCES repos(id),
    commit_id  TEXT NOT NULL,
    reviewer   TEXT NOT NULL,
    reason     TEXT NOT NULL,
    at         BIGINT NOT NULL,
    PRIMARY KEY (repo_id, commit_id)
);

ALTER TABLE releases ADD COLUMN tier TEXT;
