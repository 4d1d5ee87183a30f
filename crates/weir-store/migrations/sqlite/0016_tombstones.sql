-- A deleted repo is a tombstone: the row, its commits, releases, events and log entries stay,
-- every lookup by name treats it as missing, and its name is never taken again.
ALTER TABLE repos ADD COLUMN deleted_at BIGINT;
