-- Research-environment jobs (issue 13, point 2): a persistent, bounded queue. A job's inputs
-- (prompts, questions, the researcher's code) are stored with it; its outputs are held here
-- until they pass the checks, and only then released to the project's members.
CREATE TABLE research_jobs (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id    BIGINT NOT NULL REFERENCES research_projects(id),
    repo_id       BIGINT NOT NULL REFERENCES repos(id),
    commit_id     TEXT NOT NULL,
    kind          TEXT NOT NULL CHECK (kind IN ('generate', 'mcq', 'logits', 'command')),
    -- The kind's parameters as JSON (argv for command, sampling settings for generate, ...).
    params        TEXT NOT NULL,
    submitted_by  TEXT NOT NULL REFERENCES accounts(name),
    submitted_at  BIGINT NOT NULL,
    state         TEXT NOT NULL CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    started_at    BIGINT,
    finished_at   BIGINT,
    -- How it ended (`exit_0`, `wall_clock`, `out_of_memory`, `output_cap`, `signal_9`, …) or why
    -- it never ran (`revoked`, `quota_exhausted`, `interrupted`, …).
    ending        TEXT,
    cpu_ms        BIGINT,
    wall_ms       BIGINT,
    peak_memory   BIGINT,
    -- CPU seconds charged to the project (the measured CPU time, or the wall time where CPU time
    -- is not measured).
    charged_ms    BIGINT NOT NULL DEFAULT 0,
    -- The outputs' standing: none, blocked (an automatic rule), awaiting_review, released,
    -- returned (changes requested), rejected.
    outputs_state TEXT NOT NULL DEFAULT 'none'
);
CREATE INDEX research_jobs_queue ON research_jobs (state, id);
CREATE INDEX research_jobs_project ON research_jobs (project_id, id);

CREATE TABLE research_job_inputs (
    job_id  BIGINT NOT NULL REFERENCES research_jobs(id),
    path    TEXT NOT NULL,
    bytes   BLOB NOT NULL,
    PRIMARY KEY (job_id, path)
);

CREATE TABLE research_job_outputs (
    job_id   BIGINT NOT NULL REFERENCES research_jobs(id),
    path     TEXT NOT NULL,
    size     BIGINT NOT NULL,
    sha256   TEXT NOT NULL,
    -- The automatic rules' findings as JSON (empty array: none).
    findings TEXT NOT NULL,
    bytes    BLOB NOT NULL,
    PRIMARY KEY (job_id, path)
);

-- Output checkers' votes, one per reviewer per file, blind until both reviews are in.
CREATE TABLE research_output_votes (
    job_id   BIGINT NOT NULL REFERENCES research_jobs(id),
    path     TEXT NOT NULL,
    reviewer TEXT NOT NULL REFERENCES accounts(name),
    vote     TEXT NOT NULL CHECK (vote IN ('approve', 'request_changes', 'reject')),
    reason   TEXT NOT NULL,
    at       BIGINT NOT NULL,
    PRIMARY KEY (job_id, path, reviewer)
);

CREATE TRIGGER sv_research_jobs_i AFTER INSERT ON research_jobs BEGIN UPDATE state_version SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER sv_research_jobs_u AFTER UPDATE ON research_jobs BEGIN UPDATE state_version SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER sv_research_jobs_d AFTER DELETE ON research_jobs BEGIN UPDATE state_version SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER sv_research_job_inputs_i AFTER INSERT ON research_job_inputs BEGIN UPDATE state_version SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER sv_research_job_inputs_u AFTER UPDATE ON research_job_inputs BEGIN UPDATE state_version SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER sv_research_job_inputs_d AFTER DELETE ON research_job_inputs BEGIN UPDATE state_version SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER sv_research_job_outputs_i AFTER INSERT ON research_job_outputs BEGIN UPDATE state_version SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER sv_research_job_outputs_u AFTER UPDATE ON research_job_outputs BEGIN UPDATE state_version SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER sv_research_job_outputs_d AFTER DELETE ON research_job_outputs BEGIN UPDATE state_version SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER sv_research_output_votes_i AFTER INSERT ON research_output_votes BEGIN UPDATE state_version SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER sv_research_output_votes_u AFTER UPDATE ON research_output_votes BEGIN UPDATE state_version SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER sv_research_output_votes_d AFTER DELETE ON research_output_votes BEGIN UPDATE state_version SET n = n + 1 WHERE id = 1; END;
