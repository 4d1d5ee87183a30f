-- Access controls: identity levels and attestations, repo gating settings, terms acceptances,
-- access requests, custodial exports and the audit event log.

-- The operator's shortcut level (demos, tests); attested levels live in `attestations`.
ALTER TABLE accounts ADD COLUMN identity_level TEXT NOT NULL DEFAULT 'account';
ALTER TABLE accounts ADD COLUMN level_expires_at BIGINT;
ALTER TABLE accounts ADD COLUMN country TEXT;

ALTER TABLE repos ADD COLUMN min_level TEXT NOT NULL DEFAULT 'identified';
ALTER TABLE repos ADD COLUMN auto_approve_level TEXT;
ALTER TABLE repos ADD COLUMN blocked_countries TEXT NOT NULL DEFAULT '';
ALTER TABLE repos ADD COLUMN required_fields TEXT NOT NULL DEFAULT '[]';
ALTER TABLE repos ADD COLUMN terms TEXT NOT NULL DEFAULT '';

CREATE TABLE verifiers (
    name        TEXT PRIMARY KEY,
    public_key  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);

CREATE TABLE attestations (
    id          TEXT PRIMARY KEY,           -- sha256 of the signed payload
    subject     TEXT NOT NULL REFERENCES accounts(name),
    verifier    TEXT NOT NULL REFERENCES verifiers(name),
    level       TEXT NOT NULL,
    country     TEXT,
    issued_at   BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    revoked_at  BIGINT,
    created_at  BIGINT NOT NULL
);
CREATE INDEX attestations_subject ON attestations (subject);

CREATE TABLE terms_acceptances (
    repo_id     BIGINT NOT NULL REFERENCES repos(id),
    account     TEXT NOT NULL REFERENCES accounts(name),
    accepted_at BIGINT NOT NULL,
    PRIMARY KEY (repo_id, account)
);

CREATE TABLE access_requests (
    repo_id      BIGINT NOT NULL REFERENCES repos(id),
    account      TEXT NOT NULL REFERENCES accounts(name),
    state        TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'rejected', 'revoked', 'reset')),
    purpose      TEXT NOT NULL,
    fields       TEXT NOT NULL DEFAULT '{}',
    requested_at BIGINT NOT NULL,
    due_at       BIGINT NOT NULL,
    decided_by   TEXT,
    decided_at   BIGINT,
    reason       TEXT,
    expires_at   BIGINT,
    PRIMARY KEY (repo_id, account)
);

CREATE TABLE exports (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    repo_id       BIGINT NOT NULL REFERENCES repos(id),
    commit_id     TEXT NOT NULL,
    requester     TEXT NOT NULL REFERENCES accounts(name),
    org           TEXT NOT NULL REFERENCES accounts(name),
    purpose       TEXT NOT NULL,
    state         TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'downloaded', 'expired')),
    created_at    BIGINT NOT NULL,
    link_hash     TEXT UNIQUE,
    link_expires_at BIGINT,
    downloaded_at BIGINT
);

CREATE TABLE export_approvals (
    export_id   BIGINT NOT NULL REFERENCES exports(id),
    reviewer    TEXT NOT NULL REFERENCES accounts(name),
    approved_at BIGINT NOT NULL,
    PRIMARY KEY (export_id, reviewer)
);

CREATE TABLE events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          BIGINT NOT NULL,
    actor       TEXT,
    action      TEXT NOT NULL,
    repo        TEXT,
    subject     TEXT,
    decision    TEXT NOT NULL,
    reason      TEXT NOT NULL,
    request_id  TEXT,
    user_agent  TEXT,
    details     TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX events_repo ON events (repo, id);
