-- Events by actor, indexed behind the writer rather than in its transaction. An index on
-- events (actor, id) put one random leaf page in every group commit for every distinct actor
-- of the group (a quarter of the recording path's time at 1,000 actors); `event_actors` is filled
-- about once a second for every event above `event_index.through`, so each actor's tail page is
-- written once for all of its events of that second. Reads by actor take the indexed part from
-- here and scan the few events above the mark (see `Db::query_events`).
DROP INDEX events_actor;

CREATE TABLE event_actors (
    actor     TEXT NOT NULL,
    event_id  BIGINT NOT NULL,
    PRIMARY KEY (actor, event_id)
) WITHOUT ROWID;

CREATE TABLE event_index (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    through  BIGINT NOT NULL
);

INSERT INTO event_actors (actor, event_id) SELECT actor, id FROM events WHERE actor IS NOT NULL;
INSERT INTO event_index (id, through) VALUES (1, COALESCE((SELECT MAX(id) FROM events), 0));
