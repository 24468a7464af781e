-- scholia schema, SQLite dialect. Timestamps are microseconds since the Unix epoch (BIGINT) so
-- both engines sort and compare them the same way; JSON values are stored as TEXT.

CREATE TABLE users (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    userid          TEXT NOT NULL UNIQUE,      -- acct:username@authority
    username        TEXT NOT NULL,
    username_key    TEXT NOT NULL,             -- lower-cased, dots removed (h's User._username)
    authority       TEXT NOT NULL,
    email           TEXT,
    display_name    TEXT,
    nipsa           BOOLEAN NOT NULL DEFAULT FALSE,
    deleted         BOOLEAN NOT NULL DEFAULT FALSE,
    password_hash   TEXT,
    preferences     TEXT NOT NULL DEFAULT '{}',
    created         BIGINT NOT NULL,
    UNIQUE (username_key, authority)
);

CREATE TABLE authclients (
    id              TEXT PRIMARY KEY,
    secret          TEXT NOT NULL,
    authority       TEXT NOT NULL,
    name            TEXT,
    grant_type      TEXT NOT NULL,
    created         BIGINT NOT NULL
);

-- One row per issued credential, as h's `token` table: a developer token (no expiry, no refresh
-- token) or an OAuth access token together with its refresh token.
CREATE TABLE tokens (
    id                      INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id                 BIGINT NOT NULL REFERENCES users(id),
    value                   TEXT NOT NULL UNIQUE,
    expires                 BIGINT,
    refresh_token           TEXT UNIQUE,
    refresh_token_expires   BIGINT,
    authclient_id           TEXT REFERENCES authclients(id),
    created                 BIGINT NOT NULL
);

CREATE TABLE groups (
    id                      INTEGER PRIMARY KEY AUTOINCREMENT,
    pubid                   TEXT NOT NULL UNIQUE,
    authority               TEXT NOT NULL,
    authority_provided_id   TEXT,
    name                    TEXT NOT NULL,
    description             TEXT,
    group_type              TEXT NOT NULL,     -- open | restricted | private
    pre_moderated           BOOLEAN NOT NULL DEFAULT FALSE,
    creator_id              BIGINT REFERENCES users(id),
    created                 BIGINT NOT NULL,
    UNIQUE (authority_provided_id, authority)
);

CREATE TABLE group_members (
    group_id        BIGINT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    user_id         BIGINT NOT NULL REFERENCES users(id),
    role            TEXT NOT NULL,             -- member | moderator | admin | owner
    created         BIGINT NOT NULL,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_user ON group_members(user_id);

CREATE TABLE documents (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    title           TEXT,
    created         BIGINT NOT NULL,
    updated         BIGINT NOT NULL
);

CREATE TABLE document_uris (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    document_id         BIGINT NOT NULL REFERENCES documents(id),
    claimant            TEXT NOT NULL,
    claimant_normalized TEXT NOT NULL,
    uri                 TEXT NOT NULL,
    uri_normalized      TEXT NOT NULL,
    type                TEXT NOT NULL DEFAULT '',
    content_type        TEXT NOT NULL DEFAULT '',
    created             BIGINT NOT NULL,
    UNIQUE (claimant_normalized, uri_normalized, type, content_type)
);
CREATE INDEX document_uris_uri_normalized ON document_uris(uri_normalized);
CREATE INDEX document_uris_document ON document_uris(document_id);

CREATE TABLE annotations (
    id                      TEXT PRIMARY KEY,  -- 22-char URL-safe base64 of a UUID
    created                 BIGINT NOT NULL,
    updated                 BIGINT NOT NULL,
    userid                  TEXT NOT NULL,
    groupid                 TEXT NOT NULL,     -- group pubid
    target_uri              TEXT NOT NULL,
    target_uri_normalized   TEXT NOT NULL,
    text                    TEXT NOT NULL DEFAULT '',
    quote                   TEXT NOT NULL DEFAULT '',
    tags                    TEXT NOT NULL DEFAULT '[]',
    shared                  BOOLEAN NOT NULL,
    refs                    TEXT NOT NULL DEFAULT '[]',
    thread_root             TEXT,
    target_selectors        TEXT NOT NULL DEFAULT '[]',
    target_description      TEXT,
    document_id             BIGINT REFERENCES documents(id),
    extra                   TEXT NOT NULL DEFAULT '{}',
    metadata                TEXT,
    moderation_status       TEXT,
    version                 BIGINT,
    deleted                 BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX annotations_uri ON annotations(target_uri_normalized);
CREATE INDEX annotations_group ON annotations(groupid);
CREATE INDEX annotations_user ON annotations(userid);
CREATE INDEX annotations_updated ON annotations(updated);
CREATE INDEX annotations_document ON annotations(document_id);

-- Every ancestor of an annotation (h's `references`), so thread filters are an index lookup.
CREATE TABLE annotation_refs (
    annotation_id   TEXT NOT NULL REFERENCES annotations(id),
    ref_id          TEXT NOT NULL,
    PRIMARY KEY (annotation_id, ref_id)
);
CREATE INDEX annotation_refs_ref ON annotation_refs(ref_id);

-- Lower-cased tags, for the search `tag` parameter.
CREATE TABLE annotation_tags (
    annotation_id   TEXT NOT NULL REFERENCES annotations(id),
    tag             TEXT NOT NULL,
    PRIMARY KEY (annotation_id, tag)
);
CREATE INDEX annotation_tags_tag ON annotation_tags(tag);

CREATE TABLE flags (
    annotation_id   TEXT NOT NULL REFERENCES annotations(id),
    user_id         BIGINT NOT NULL REFERENCES users(id),
    created         BIGINT NOT NULL,
    PRIMARY KEY (annotation_id, user_id)
);

-- Full-text index over an annotation's text, quote and tags (search `any`, `text`, `quote`).
CREATE VIRTUAL TABLE annotations_fts USING fts5(
    annotation_id UNINDEXED, text, quote, tags, tokenize = 'unicode61 remove_diacritics 2'
);

-- The durable, ordered change log: one row per event a client may be told about (or a cache
-- must hear of), written in the same transaction as the change itself.
CREATE TABLE change_log (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    action          TEXT NOT NULL,
    annotation_id   TEXT,
    userid          TEXT,
    groupid         TEXT,
    src_client_id   TEXT,
    created         BIGINT NOT NULL
);
