-- weir schema v1 (SQLite). Timestamps are unix seconds (BIGINT); booleans are BIGINT 0/1, so the
-- same queries run on PostgreSQL with its own migration folder.

CREATE TABLE accounts (
    name        TEXT PRIMARY KEY,
    kind        TEXT NOT NULL CHECK (kind IN ('user', 'org')),
    email       TEXT,
    fullname    TEXT,
    is_admin    BIGINT NOT NULL DEFAULT 0,
    created_at  BIGINT NOT NULL
);

CREATE TABLE org_members (
    org         TEXT NOT NULL REFERENCES accounts(name),
    member      TEXT NOT NULL REFERENCES accounts(name),
    role        TEXT NOT NULL CHECK (role IN ('owner', 'member')),
    PRIMARY KEY (org, member)
);

CREATE TABLE tokens (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    hash         TEXT NOT NULL UNIQUE,
    account      TEXT NOT NULL REFERENCES accounts(name),
    scope        TEXT NOT NULL CHECK (scope IN ('read', 'write', 'admin')),
    display_name TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    revoked_at   BIGINT
);

CREATE TABLE repos (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    namespace   TEXT NOT NULL REFERENCES accounts(name),
    name        TEXT NOT NULL,
    kind        TEXT NOT NULL DEFAULT 'model',
    private     BIGINT NOT NULL DEFAULT 0,
    tier        TEXT NOT NULL DEFAULT 'T0',
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    UNIQUE (namespace, name)
);

CREATE TABLE blobs (
    sha256      TEXT PRIMARY KEY,
    size        BIGINT NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE commits (
    repo_id     BIGINT NOT NULL REFERENCES repos(id),
    id          TEXT NOT NULL,
    parent      TEXT,
    tree        TEXT NOT NULL,
    author      TEXT NOT NULL,
    summary     TEXT NOT NULL,
    description TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (repo_id, id)
);

CREATE TABLE commit_files (
    repo_id     BIGINT NOT NULL,
    commit_id   TEXT NOT NULL,
    path        TEXT NOT NULL,
    sha256      TEXT NOT NULL REFERENCES blobs(sha256),
    size        BIGINT NOT NULL,
    git_oid     TEXT NOT NULL,
    lfs         BIGINT NOT NULL,
    PRIMARY KEY (repo_id, commit_id, path),
    FOREIGN KEY (repo_id, commit_id) REFERENCES commits(repo_id, id)
);

CREATE TABLE refs (
    repo_id     BIGINT NOT NULL REFERENCES repos(id),
    kind        TEXT NOT NULL CHECK (kind IN ('branch', 'tag')),
    name        TEXT NOT NULL,
    commit_id   TEXT NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (repo_id, kind, name)
);
