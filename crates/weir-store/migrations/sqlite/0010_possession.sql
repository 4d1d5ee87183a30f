-- Possession before reference: which bytes a repo may reference. A commit may add a blob only if
-- the blob was uploaded for this repo (its bytes hashed by the server on the way in) or is
-- already in one of this repo's commits. Knowing a hash proves nothing.
CREATE TABLE repo_uploads (
    repo_id     BIGINT NOT NULL REFERENCES repos(id),
    sha256      TEXT NOT NULL REFERENCES blobs(sha256),
    size        BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (repo_id, sha256)
);

CREATE INDEX commit_files_repo_sha ON commit_files (repo_id, sha256);
