-- The model listing (`GET /api/models`): each repo's card facts at the head of `main`, kept
-- beside the commit they were read from (a stale row is re-read, never trusted), and a covering
-- index for counting recent recipients.
CREATE TABLE repo_cards (
    repo_id    BIGINT PRIMARY KEY REFERENCES repos(id),
    commit_id  TEXT NOT NULL,
    card       TEXT NOT NULL
);

CREATE INDEX deliveries_recent ON deliveries (last_at, repo_id, account);

-- The operators' event reads (`GET /api/v1/events`) filter by actor and by action.
CREATE INDEX events_actor ON events (actor, id);
CREATE INDEX events_action ON events (action, id);

-- Likes: who likes which repo (the Hub's like, unlike, likers and a user's likes).
CREATE TABLE likes (
    repo_id    BIGINT NOT NULL REFERENCES repos(id),
    account    TEXT NOT NULL REFERENCES accounts(name),
    at         BIGINT NOT NULL,
    PRIMARY KEY (repo_id, account)
);
CREATE INDEX likes_account ON likes (account, at);
