-- Safety-research funding and the pooled funding ledger (issue 14, points 2 and 4): pools of
-- one purpose, an append-only ledger of their entries, and bounty payouts proposed from
-- confirmed reports and decided by operators. weir records obligations; it moves no money.
CREATE TABLE funding_pools (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT NOT NULL UNIQUE,
    title      TEXT NOT NULL,
    purpose    TEXT NOT NULL CHECK (purpose IN ('bounty', 'compute', 'grants')),
    -- Bounty rules as JSON (what pays, how much, the caps); {} for other purposes.
    rules      TEXT NOT NULL,
    created_by TEXT NOT NULL REFERENCES accounts(name),
    created_at BIGINT NOT NULL
);

CREATE TABLE funding_payouts (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    pool_id     BIGINT NOT NULL REFERENCES funding_pools(id),
    -- What earned it: `incident:OSV-ID` (a confirmed incident or vulnerability report).
    source      TEXT NOT NULL,
    beneficiary TEXT NOT NULL REFERENCES accounts(name),
    amount      BIGINT NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('proposed', 'paid', 'rejected', 'reversed')),
    proposed_at BIGINT NOT NULL,
    decided_by  TEXT,
    decided_at  BIGINT,
    UNIQUE (pool_id, source)
);

-- Append-only: a correction is a new entry (release, reverse, withdraw), never an edit.
CREATE TABLE funding_entries (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    pool_id   BIGINT NOT NULL REFERENCES funding_pools(id),
    kind      TEXT NOT NULL CHECK (kind IN ('pledge', 'withdraw', 'commit', 'release', 'payout', 'reverse', 'disburse')),
    -- The member who pledged, or the beneficiary of a payout; NULL for a disbursement.
    party     TEXT,
    amount    BIGINT NOT NULL CHECK (amount > 0),
    payout_id BIGINT REFERENCES funding_payouts(id),
    at        BIGINT NOT NULL
);
CREATE INDEX funding_entries_pool ON funding_entries (pool_id, id);
CREATE INDEX funding_entries_party ON funding_entries (party, id);

CREATE TRIGGER sv_funding_pools_i AFTER INSERT ON funding_pools BEGIN UPDATE state_version SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER sv_funding_pools_u AFTER UPDATE ON funding_pools BEGIN UPDATE state_version SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER sv_funding_pools_d AFTER DELETE ON funding_pools BEGIN UPDATE state_version SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER sv_funding_payouts_i AFTER INSERT ON funding_payouts BEGIN UPDATE state_version SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER sv_funding_payouts_u AFTER UPDATE ON funding_payouts BEGIN UPDATE state_version SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER sv_funding_payouts_d AFTER DELETE ON funding_payouts BEGIN UPDATE state_version SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER sv_funding_entries_i AFTER INSERT ON funding_entries BEGIN UPDATE state_version SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER sv_funding_entries_u AFTER UPDATE ON funding_entries BEGIN UPDATE state_version SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER sv_funding_entries_d AFTER DELETE ON funding_entries BEGIN UPDATE state_version SET n = n + 1 WHERE id = 1; END;
