-- Consortium governance (issue 14, point 3): a board of members with registered Ed25519 keys
-- decides some changes k-of-n. Without a board row the operator acts alone.
CREATE TABLE board (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    threshold BIGINT NOT NULL,
    -- The members as JSON (weir_core::board::Member: name, public_key).
    members   TEXT NOT NULL,
    since     BIGINT NOT NULL
);

CREATE TABLE board_proposals (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    kind          TEXT NOT NULL,
    -- The exact change as canonical JSON, its SHA-256 and the digest members sign.
    change        TEXT NOT NULL,
    change_sha256 TEXT NOT NULL,
    digest        TEXT NOT NULL,
    proposed_by   TEXT NOT NULL REFERENCES accounts(name),
    proposed_at   BIGINT NOT NULL,
    state         TEXT NOT NULL CHECK (state IN ('pending', 'applying', 'applied', 'failed')),
    decided_at    BIGINT,
    outcome       TEXT
);

CREATE TABLE board_signatures (
    proposal_id BIGINT NOT NULL REFERENCES board_proposals(id),
    member      TEXT NOT NULL,
    public_key  TEXT NOT NULL,
    signature   TEXT NOT NULL,
    at          BIGINT NOT NULL,
    PRIMARY KEY (proposal_id, member)
);

CREATE TRIGGER sv_board_i AFTER INSERT ON board BEGIN UPDATE state_version SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER sv_board_u AFTER UPDATE ON board BEGIN UPDATE state_version SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER sv_board_d AFTER DELETE ON board BEGIN UPDATE state_version SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER sv_board_proposals_i AFTER INSERT ON board_proposals BEGIN UPDATE state_version SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER sv_board_proposals_u AFTER UPDATE ON board_proposals BEGIN UPDATE state_version SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER sv_board_proposals_d AFTER DELETE ON board_proposals BEGIN UPDATE state_version SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER sv_board_signatures_i AFTER INSERT ON board_signatures BEGIN UPDATE state_version SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER sv_board_signatures_u AFTER UPDATE ON board_signatures BEGIN UPDATE state_version SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER sv_board_signatures_d AFTER DELETE ON board_signatures BEGIN UPDATE state_version SET n = n + 1 WHERE id = 1; END;
