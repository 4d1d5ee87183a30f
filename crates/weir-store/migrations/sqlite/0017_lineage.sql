-- Where a duplicated repo came from: classification treats the source as a base model (so a
-- later raise of the source cascades to the copy) and a hold on the copied revision of the
-- source holds the copy.
CREATE TABLE repo_lineage (
    repo_id    BIGINT PRIMARY KEY REFERENCES repos(id),
    source_id  BIGINT NOT NULL REFERENCES repos(id),
    commit_id  TEXT NOT NULL
);
