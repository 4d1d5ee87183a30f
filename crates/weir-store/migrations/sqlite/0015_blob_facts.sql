-- Facts read once from a blob's bytes when a commit first adds it: the unsafe-serialization
-- scan of a pickle-based file (its report, JSON) and the parameters of a safetensors file by
-- dtype (JSON). Keyed by content; `version` is the reader's, and an older one is read again.
CREATE TABLE blob_facts (
    sha256      TEXT PRIMARY KEY,
    version     BIGINT NOT NULL,
    pickle      TEXT,
    safetensors TEXT
);
