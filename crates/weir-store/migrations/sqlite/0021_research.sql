-- Research projects (issue 13): a purpose, a team, the models and revisions it may use with an
-- access level each, and the operator's decision. Jobs come in a later migration.
CREATE TABLE research_projects (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    namespace       TEXT NOT NULL REFERENCES accounts(name),
    name            TEXT NOT NULL,
    purpose         TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('applied', 'approved', 'rejected', 'revoked')),
    applied_by      TEXT NOT NULL REFERENCES accounts(name),
    applied_at      BIGINT NOT NULL,
    -- The public stand-in of the same architecture, if any.
    standin_repo_id BIGINT REFERENCES repos(id),
    -- CPU seconds the project may spend in all; set by the operator at approval.
    quota_cpu_seconds BIGINT NOT NULL,
    decided_by      TEXT REFERENCES accounts(name),
    decided_at      BIGINT,
    decision_reason TEXT,
    expires_at      BIGINT,
    UNIQUE (namespace, name)
);

CREATE TABLE research_members (
    project_id BIGINT NOT NULL REFERENCES research_projects(id),
    account    TEXT NOT NULL REFERENCES accounts(name),
    PRIMARY KEY (project_id, account)
);
CREATE INDEX research_members_account ON research_members (account);

CREATE TABLE research_models (
    project_id BIGINT NOT NULL REFERENCES research_projects(id),
    repo_id    BIGINT NOT NULL REFERENCES repos(id),
    commit_id  TEXT NOT NULL,
    level      TEXT NOT NULL CHECK (level IN ('AL1', 'AL2', 'AL3')),
    PRIMARY KEY (project_id, repo_id, commit_id)
);

-- The identity level a repo asks of research-project members (issue 13: default accredited).
ALTER TABLE repos ADD COLUMN research_level TEXT NOT NULL DEFAULT 'accredited';

CREATE TRIGGER sv_research_projects_i AFTER INSERT ON research_projects BEGIN UPDATE state_version SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER sv_research_projects_u AFTER UPDATE ON research_projects BEGIN UPDATE state_version SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER sv_research_projects_d AFTER DELETE ON research_projects BEGIN UPDATE state_version SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER sv_research_members_i AFTER INSERT ON research_members BEGIN UPDATE state_version SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER sv_research_members_u AFTER UPDATE ON research_members BEGIN UPDATE state_version SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER sv_research_members_d AFTER DELETE ON research_members BEGIN UPDATE state_version SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER sv_research_models_i AFTER INSERT ON research_models BEGIN UPDATE state_version SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER sv_research_models_u AFTER UPDATE ON research_models BEGIN UPDATE state_version SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER sv_research_models_d AFTER DELETE ON research_models BEGIN UPDATE state_version SET n = n + 1 WHERE id = 1; END;
