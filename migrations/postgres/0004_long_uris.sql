-- PostgreSQL refuses a B-tree entry larger than about a third of a page (2.7 kB after
-- compression), so a long URI made every write naming it fail. URIs are looked up by equality
-- only, so hash indexes (which store a 4-byte hash, whatever the value's length) serve the
-- same queries; the uniqueness of a document claim is kept on the MD5 of each part.
DROP INDEX annotations_uri;
CREATE INDEX annotations_uri ON annotations USING hash (target_uri_normalized);

DROP INDEX document_uris_uri_normalized;
CREATE INDEX document_uris_uri_normalized ON document_uris USING hash (uri_normalized);

ALTER TABLE document_uris
    DROP CONSTRAINT document_uris_claimant_normalized_uri_normalized_type_conte_key;
CREATE UNIQUE INDEX document_uris_claim ON document_uris
    (md5(claimant_normalized), md5(uri_normalized), md5(type), md5(content_type));
