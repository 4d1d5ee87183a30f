-- A disbursement from a compute or grants pool may name the grant award it funds (issue 14):
-- the pooled ledger then shows what each award was funded with, publicly.
ALTER TABLE funding_entries ADD COLUMN award_id BIGINT REFERENCES grant_awards(id);
CREATE INDEX funding_entries_award ON funding_entries (award_id) WHERE award_id IS NOT NULL;
