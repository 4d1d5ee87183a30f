-- Public-interest compute grants (issue 14, point 1): calls with routes, applications for a
-- research project, reviews (with declared conflicts), awards in two tranches, progress
-- reports. Jobs are metered against the award current when they start.
CREATE TABLE grant_calls (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT NOT NULL UNIQUE,
    title       TEXT NOT NULL,
    -- The routes as JSON (weir_core::grants::Route: caps, months, review mode, review days).
    routes      TEXT NOT NULL,
    -- Field names every application must answer, as a JSON list.
    fields      TEXT NOT NULL,
    -- The identity level an applicant needs for an automatic award on an automatic route.
    auto_level  TEXT NOT NULL,
    opened_by   TEXT NOT NULL REFERENCES accounts(name),
    opened_at   BIGINT NOT NULL,
    closes_at   BIGINT NOT NULL,
    closed_at   BIGINT
);

-- The models (and the highest access level) a call's awards may be used on.
CREATE TABLE grant_call_models (
    call_id   BIGINT NOT NULL REFERENCES grant_calls(id),
    repo_id   BIGINT NOT NULL REFERENCES repos(id),
    max_level TEXT NOT NULL CHECK (max_level IN ('AL1', 'AL2', 'AL3')),
    PRIMARY KEY (call_id, repo_id)
);

CREATE TABLE grant_applications (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    call_id       BIGINT NOT NULL REFERENCES grant_calls(id),
    route         TEXT NOT NULL,
    project_id    BIGINT NOT NULL REFERENCES research_projects(id),
    applicant     TEXT NOT NULL REFERENCES accounts(name),
    purpose       TEXT NOT NULL,
    plan          TEXT NOT NULL,
    -- The call's fields answered, as a JSON object.
    answers       TEXT NOT NULL,
    cpu_ms        BIGINT NOT NULL,
    gpu_ms        BIGINT NOT NULL,
    state         TEXT NOT NULL CHECK (state IN ('submitted', 'awarded', 'rejected', 'withdrawn')),
    submitted_at  BIGINT NOT NULL,
    review_due_at BIGINT NOT NULL,
    decided_at    BIGINT,
    -- `automatic` or the deciding reviewers, and the reasons, as recorded.
    decision      TEXT
);
CREATE INDEX grant_applications_call ON grant_applications (call_id, id);

CREATE TABLE grant_reviews (
    application_id BIGINT NOT NULL REFERENCES grant_applications(id),
    reviewer       TEXT NOT NULL REFERENCES accounts(name),
    -- award, reject, or conflict (a declared conflict of interest: the reviewer recuses).
    vote           TEXT NOT NULL CHECK (vote IN ('award', 'reject', 'conflict')),
    reason         TEXT NOT NULL,
    at             BIGINT NOT NULL,
    PRIMARY KEY (application_id, reviewer)
);

CREATE TABLE grant_awards (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    application_id  BIGINT NOT NULL UNIQUE REFERENCES grant_applications(id),
    project_id      BIGINT NOT NULL REFERENCES research_projects(id),
    cpu_ms          BIGINT NOT NULL,
    gpu_ms          BIGINT NOT NULL,
    -- Released so far: the first tranche at the award, the rest after an accepted report.
    released_cpu_ms BIGINT NOT NULL,
    released_gpu_ms BIGINT NOT NULL,
    starts_at       BIGINT NOT NULL,
    ends_at         BIGINT NOT NULL,
    awarded_at      BIGINT NOT NULL,
    report          TEXT,
    reported_at     BIGINT,
    report_accepted_by TEXT REFERENCES accounts(name),
    report_accepted_at BIGINT,
    revoked_at      BIGINT,
    revoke_reason   TEXT
);
CREATE INDEX grant_awards_project ON grant_awards (project_id, id);

-- The award a job was metered against (set when it starts).
ALTER TABLE research_jobs ADD COLUMN award_id BIGINT REFERENCES grant_awards(id);
CREATE INDEX research_jobs_award ON research_jobs (award_id);

CREATE TRIGGER sv_grant_calls_i AFTER INSERT ON grant_calls BEGIN UPDATE state_version SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER sv_grant_calls_u AFTER UPDATE ON grant_calls BEGIN UPDATE state_version SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER sv_grant_calls_d AFTER DELETE ON grant_calls BEGIN UPDATE state_version SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER sv_grant_call_models_i AFTER INSERT ON grant_call_models BEGIN UPDATE state_version SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER sv_grant_call_models_u AFTER UPDATE ON grant_call_models BEGIN UPDATE state_version SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER sv_grant_call_models_d AFTER DELETE ON grant_call_models BEGIN UPDATE state_version SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER sv_grant_applications_i AFTER INSERT ON grant_applications BEGIN UPDATE state_version SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER sv_grant_applications_u AFTER UPDATE ON grant_applications BEGIN UPDATE state_version SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER sv_grant_applications_d AFTER DELETE ON grant_applications BEGIN UPDATE state_version SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER sv_grant_reviews_i AFTER INSERT ON grant_reviews BEGIN UPDATE state_version SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER sv_grant_reviews_u AFTER UPDATE ON grant_reviews BEGIN UPDATE state_version SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER sv_grant_reviews_d AFTER DELETE ON grant_reviews BEGIN UPDATE state_version SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER sv_grant_awards_i AFTER INSERT ON grant_awards BEGIN UPDATE state_version SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER sv_grant_awards_u AFTER UPDATE ON grant_awards BEGIN UPDATE state_version SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER sv_grant_awards_d AFTER DELETE ON grant_awards BEGIN UPDATE state_version SET n = n + 1 WHERE id = 1; END;
