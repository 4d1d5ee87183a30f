-- The former names of moved repos: a lookup of a former name redirects to the repo (as on the
-- Hub), for those who may see it; the name stays taken.
CREATE TABLE repo_redirects (
    namespace   TEXT NOT NULL,
    name        TEXT NOT NULL,
    repo_id     BIGINT NOT NULL REFERENCES repos(id),
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (namespace, name)
);
