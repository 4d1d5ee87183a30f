-- The web UI's accounts: a password per user (argon2id, PHC string; never the password) and the
-- browser sessions signed in with it (the SHA-256 of the cookie's secret; never the secret).
-- Nothing cached reads either table, so neither moves the state version.
CREATE TABLE passwords (
    account     TEXT PRIMARY KEY REFERENCES accounts(name),
    phc         TEXT NOT NULL,
    set_at      BIGINT NOT NULL
);

CREATE TABLE sessions (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    hash        TEXT NOT NULL UNIQUE,
    account     TEXT NOT NULL REFERENCES accounts(name),
    csrf        TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);
CREATE INDEX sessions_account ON sessions (account);
