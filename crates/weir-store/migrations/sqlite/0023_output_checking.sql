-- Output checking (issue 13, point 4). The version of the automatic output rules (the policy
-- file's [outputs] section) a job's outputs were checked under: NULL while it has none.
ALTER TABLE research_jobs ADD COLUMN output_rules TEXT;

-- Designated output checkers: user accounts an operator named to vote on held job outputs
-- beside the operators. Revoking keeps the row (with when), for the record; adding again
-- clears it.
CREATE TABLE output_checkers (
    account    TEXT PRIMARY KEY REFERENCES accounts(name),
    reason     TEXT NOT NULL,
    added_at   BIGINT NOT NULL,
    revoked_at BIGINT
);

CREATE TRIGGER sv_output_checkers_i AFTER INSERT ON output_checkers BEGIN UPDATE state_version SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER sv_output_checkers_u AFTER UPDATE ON output_checkers BEGIN UPDATE state_version SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER sv_output_checkers_d AFTER DELETE ON output_checkers BEGIN UPDATE state_version SET n = n + 1 WHERE id = 1; END;
