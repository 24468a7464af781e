-- Webhooks (issue 16): a user's subscription POSTed to a URL, in seq order, from a durable
-- cursor. `filter_json` holds the WebSocket filter the hook was created with; `cursor` is the
-- last seq handled (delivered, or not for this hook). On PostgreSQL a node delivers a hook while
-- it holds the hook's advisory lock, so on a cluster one node at a time does.
CREATE TABLE webhooks (
    id               TEXT PRIMARY KEY,
    userid           TEXT NOT NULL,
    url              TEXT NOT NULL,
    secret           TEXT NOT NULL,
    filter_json      TEXT NOT NULL,
    cursor           BIGINT NOT NULL,
    created          BIGINT NOT NULL,
    delivered        BIGINT NOT NULL DEFAULT 0,
    failing_since    BIGINT,
    attempts         INTEGER NOT NULL DEFAULT 0,
    last_error       TEXT,
    disabled_reason  TEXT
);
CREATE INDEX webhooks_userid ON webhooks (userid);
