-- Resume (issue 16). The change log is pruned past a retention window: the horizon says up to
-- which seq rows may be gone, so a client resuming from before it is told to refetch. Rows are
-- pruned by age, hence the index on `created`.
CREATE TABLE change_log_horizon (
    id              INTEGER PRIMARY KEY CHECK (id = 1),
    pruned_through  BIGINT NOT NULL
);
INSERT INTO change_log_horizon (id, pruned_through) VALUES (1, 0);
CREATE INDEX change_log_created ON change_log (created);

-- The transparent resume of clients that know nothing of seq: per client id and user ('' when
-- anonymous), the seq up to which that client is owed nothing, and when that was last written.
CREATE TABLE ws_cursors (
    client_id       TEXT NOT NULL,
    userid          TEXT NOT NULL,
    seq             BIGINT NOT NULL,
    updated         BIGINT NOT NULL,
    PRIMARY KEY (client_id, userid)
);
CREATE INDEX ws_cursors_updated ON ws_cursors (updated);
