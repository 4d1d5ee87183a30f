-- Publishers' own model-signing keys (per namespace) and the bundles they sign for releases.
CREATE TABLE publisher_keys (
    namespace   TEXT PRIMARY KEY REFERENCES accounts(name),
    public_pem  TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

ALTER TABLE releases ADD COLUMN publisher_bundle TEXT;
