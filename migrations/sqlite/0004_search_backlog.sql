-- The full-text index follows the commit (src/store/search_index.rs): a create or update
-- appends its annotation's id here, and the writer indexes the backlog after answering.
CREATE TABLE search_backlog (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    annotation_id   TEXT NOT NULL
);

-- Which FTS5 row holds an annotation (FTS5 cannot index annotation_id, so finding the row by
-- it was a scan of the whole table on every update and delete).
CREATE TABLE annotations_fts_rows (
    annotation_id   TEXT PRIMARY KEY,
    fts_rowid       INTEGER NOT NULL
) WITHOUT ROWID;

-- Rebuilt with rowids the map knows: the writer indexes the backlog at start.
DELETE FROM annotations_fts;
INSERT INTO search_backlog (annotation_id) SELECT id FROM annotations WHERE deleted = FALSE ORDER BY created;
