-- The former names of moved repos: a lookup of a former name redirects to the repo (as on the
-- Hub), for those who may see it; the name stays taken.
CREATE TABLE repo_redirects (
    namespace   TEXT NOT NULL,
    name        TEXT NOT NULL,
    repo_id     BIGINT NOT NULL REFERENCES repos(id),
    created_at  BIGINT NOT NULL,
    -- A repo private when it moved keeps its former name private, even if made public later.
    private_at_move BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (namespace, name)
);
