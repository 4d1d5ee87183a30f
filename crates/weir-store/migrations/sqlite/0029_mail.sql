-- Notifications by e-mail: a link per notification (the page it is about), a key that keeps a
-- reminder from being made twice, and the outbox that claims each e-mail once (whichever
-- process sends it) and records whether it went. The outbox is not cached state.
ALTER TABLE notifications ADD COLUMN link TEXT;
ALTER TABLE notifications ADD COLUMN dedup TEXT;
CREATE UNIQUE INDEX notifications_dedup ON notifications (dedup);

CREATE TABLE mail_outbox (
    notification_id INTEGER PRIMARY KEY,
    claimed_at      BIGINT NOT NULL,
    sent_at         BIGINT,
    attempts        BIGINT NOT NULL DEFAULT 1,
    last_error      TEXT
);
