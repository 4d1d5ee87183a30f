-- Witnesses that cosign the log's checkpoints (C2SP tlog-cosignature, Ed25519 type 0x04), and
-- the cosignature lines they sent for each tree size.
CREATE TABLE witnesses (
    name        TEXT PRIMARY KEY,
    vkey        TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);

CREATE TABLE cosignatures (
    size        BIGINT NOT NULL,
    witness     TEXT NOT NULL REFERENCES witnesses(name),
    line        TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (size, witness)
);
