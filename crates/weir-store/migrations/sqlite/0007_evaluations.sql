-- Evaluations and classification (DESIGN.md §4): accredited evaluators, operator-added suites,
-- imported results (the payload an evaluator signs, with its raw log blob), evidence that a
-- hazard domain cannot be ruled out, policy versions, and each repo's current classification.
CREATE TABLE evaluators (
    name        TEXT PRIMARY KEY,
    public_key  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);

CREATE TABLE eval_suites (
    name        TEXT NOT NULL,
    version     BIGINT NOT NULL,
    definition  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (name, version)
);

CREATE TABLE eval_results (
    id              TEXT PRIMARY KEY,
    repo_id         BIGINT NOT NULL REFERENCES repos(id),
    commit_id       TEXT NOT NULL,
    suite           TEXT NOT NULL,
    payload         TEXT NOT NULL,
    raw_log_sha256  TEXT NOT NULL,
    raw_log_name    TEXT NOT NULL,
    imported_by     TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    evaluator       TEXT,
    signature       TEXT,
    signed_at       BIGINT
);
CREATE INDEX eval_results_repo ON eval_results (repo_id, commit_id);

CREATE TABLE hazard_evidence (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    repo_id        BIGINT NOT NULL REFERENCES repos(id),
    domain         TEXT NOT NULL,
    summary        TEXT NOT NULL,
    filed_by       TEXT NOT NULL,
    state          TEXT NOT NULL,
    severity       TEXT,
    reviewer       TEXT,
    review_reason  TEXT,
    created_at     BIGINT NOT NULL,
    reviewed_at    BIGINT
);
CREATE INDEX hazard_evidence_repo ON hazard_evidence (repo_id);

CREATE TABLE policies (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    version     TEXT NOT NULL,
    text        TEXT NOT NULL,
    sha256      TEXT NOT NULL,
    signature   TEXT NOT NULL,
    set_by      TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE classifications (
    repo_id            BIGINT PRIMARY KEY REFERENCES repos(id),
    commit_id          TEXT NOT NULL,
    tier               TEXT NOT NULL,
    rule               TEXT,
    policy_sha256      TEXT NOT NULL,
    presumption_since  BIGINT,
    assessed_compute   DOUBLE PRECISION,
    bases              TEXT NOT NULL DEFAULT '[]',
    updated_at         BIGINT NOT NULL
);
