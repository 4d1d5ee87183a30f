-- Whether the reporter agreed to show their identity to the publisher (operators always see it).
ALTER TABLE incidents ADD COLUMN reporter_shared BIGINT NOT NULL DEFAULT 0;
