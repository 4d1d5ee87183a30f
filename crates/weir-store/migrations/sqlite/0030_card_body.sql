-- The catalogue's full-text search over cards: each cached card's body as plain words (lowercase
-- letters and digits separated by single spaces, bounded), matched with LIKE in the database so
-- no listing reads every body. The cache is emptied: every card is read again, with its body.
ALTER TABLE repo_cards ADD COLUMN body TEXT NOT NULL DEFAULT '';
DELETE FROM repo_cards;
