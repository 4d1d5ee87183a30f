-- The catalogue's full-text search over cards: the distinct plain words of each card at the head
-- of `main` it was read at (kept beside repo_cards, replaced with it in one transaction), found
-- through an index on the word, never by scanning the text. The listing cache is emptied so
-- every card is read again, with its words.
CREATE TABLE card_terms (
    repo_id    BIGINT NOT NULL REFERENCES repos(id),
    commit_id  TEXT NOT NULL,
    term       TEXT NOT NULL,
    PRIMARY KEY (repo_id, term)
);
CREATE INDEX card_terms_term ON card_terms (term, repo_id);
DELETE FROM repo_cards;
CREATE TRIGGER sv_card_terms_i AFTER INSERT ON card_terms BEGIN UPDATE state_version SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER sv_card_terms_u AFTER UPDATE ON card_terms BEGIN UPDATE state_version SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER sv_card_terms_d AFTER DELETE ON card_terms BEGIN UPDATE state_version SET n = n + 1 WHERE id = 1; END;
