-- The publisher's chosen tier, apart from the effective tier (`tier`): the effective tier is the
-- stricter of the chosen one and the policy's computed minimum, so when the minimum falls
-- (evidence dismissed, a domain ruled out) the repo falls back to what its publisher chose.
-- Existing repos keep their current tier as their choice.
ALTER TABLE repos ADD COLUMN chosen_tier TEXT NOT NULL DEFAULT 'T0';
UPDATE repos SET chosen_tier = tier;

-- Hazard evidence from anyone but accredited accounts waits for an operator's triage.
ALTER TABLE hazard_evidence ADD COLUMN triage_due BIGINT;
