-- Signed releases: one OpenSSF model-signing bundle per released commit, and the governance
-- event (hence log entry) that announced it.
CREATE TABLE releases (
    repo_id     BIGINT NOT NULL REFERENCES repos(id),
    commit_id   TEXT NOT NULL,
    bundle      TEXT NOT NULL,
    event_id    BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (repo_id, commit_id)
);
