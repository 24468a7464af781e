//! How much one annotation may carry. h has no such bounds (`h/schemas/annotation.py` only
//! checks shapes), but without them one write with 20,000 document links or tags held the
//! single writer for seconds and delayed every other client's write, and a URI or tag longer
//! than PostgreSQL's index entries could hold failed there while SQLite took it. Every bound is
//! far above what the Hypothesis client sends (a handful of tags, 3 or 4 selectors, a few
//! document links); README.md lists them. A request past one is a 400 naming the field.
//! h's own schema bounds come first (`schema.rs`: a tag's and a link's length in characters).

use super::{CreateAnnotation, DocumentInput, TargetInput, UpdateAnnotation, ValidationError};

/// Bytes in `uri` and in each document link's `href` (browsers and servers rarely pass 8 KiB).
pub const MAX_URI_BYTES: usize = 16 * 1024;
/// Tags on one annotation, and bytes in each: h allows 1,000 characters, but 1,000 characters
/// of four bytes each would not fit a PostgreSQL index entry (the tag index serves `tag=`).
pub const MAX_TAGS: usize = 100;
pub const MAX_TAG_BYTES: usize = 2048;
/// Ancestors in `references` (thread depth), and bytes in each id (h's are 20 or 22).
pub const MAX_REFERENCES: usize = 500;
pub const MAX_REFERENCE_BYTES: usize = 64;
/// Selectors in `target[0].selector`.
pub const MAX_SELECTORS: usize = 50;
/// URI claims one `document` makes (links, DOIs, PDF fingerprints, and the self-claim), and
/// bytes in a link's `type`.
pub const MAX_DOCUMENT_URIS: usize = 100;
pub const MAX_LINK_TYPE_BYTES: usize = 256;

fn too_long(field: &str, len: usize, max: usize) -> ValidationError {
    ValidationError(format!(
        "{field}: is {len} bytes long; at most {max} are allowed"
    ))
}

fn too_many(field: &str, len: usize, max: usize, what: &str) -> ValidationError {
    ValidationError(format!(
        "{field}: has {len} {what}; at most {max} are allowed"
    ))
}

/// `uri`'s bound, for creates and updates.
pub fn check_uri(uri: &str) -> Result<(), ValidationError> {
    match uri.len() {
        n if n > MAX_URI_BYTES => Err(too_long("uri", n, MAX_URI_BYTES)),
        _ => Ok(()),
    }
}

/// Each string in `items` is named `field.i` when it is too long.
fn check_strings(
    field: &str,
    items: &[String],
    max_items: usize,
    max_bytes: usize,
    what: &str,
) -> Result<(), ValidationError> {
    if items.len() > max_items {
        return Err(too_many(field, items.len(), max_items, what));
    }
    match items.iter().enumerate().find(|(_, s)| s.len() > max_bytes) {
        Some((i, s)) => Err(too_long(&format!("{field}.{i}"), s.len(), max_bytes)),
        None => Ok(()),
    }
}

pub fn check_tags(tags: &[String]) -> Result<(), ValidationError> {
    check_strings("tags", tags, MAX_TAGS, MAX_TAG_BYTES, "tags")
}

pub fn check_references(refs: &[String]) -> Result<(), ValidationError> {
    check_strings(
        "references",
        refs,
        MAX_REFERENCES,
        MAX_REFERENCE_BYTES,
        "references",
    )
}

pub fn check_target(target: &TargetInput) -> Result<(), ValidationError> {
    match target.selectors.len() {
        n if n > MAX_SELECTORS => Err(too_many("target.0.selector", n, MAX_SELECTORS, "selectors")),
        _ => Ok(()),
    }
}

/// The claims are named `document` as a whole: they come from several of its keys (`link`,
/// `highwire`, `dc`), so no single input path would point at the one too many.
pub fn check_document(doc: &DocumentInput) -> Result<(), ValidationError> {
    if doc.uris.len() > MAX_DOCUMENT_URIS {
        return Err(too_many(
            "document",
            doc.uris.len(),
            MAX_DOCUMENT_URIS,
            "URIs (links, DOIs and fingerprints)",
        ));
    }
    for claim in &doc.uris {
        if claim.uri.len() > MAX_URI_BYTES {
            return Err(ValidationError(format!(
                "document: claims a URI {} bytes long; at most {MAX_URI_BYTES} are allowed",
                claim.uri.len()
            )));
        }
        for (field, value) in [
            ("type", &claim.r#type),
            ("content_type", &claim.content_type),
        ] {
            if value.len() > MAX_LINK_TYPE_BYTES {
                return Err(ValidationError(format!(
                    "document: claims a link whose {field} is {} bytes long; at most \
                     {MAX_LINK_TYPE_BYTES} are allowed",
                    value.len()
                )));
            }
        }
    }
    Ok(())
}

/// Every bound a create body can break, in the order its fields are read.
pub fn check_create(c: &CreateAnnotation) -> Result<(), ValidationError> {
    check_uri(&c.uri)?;
    check_tags(&c.tags)?;
    check_references(&c.references)?;
    if let Some(target) = &c.target {
        check_target(target)?;
    }
    if let Some(doc) = &c.document {
        check_document(doc)?;
    }
    Ok(())
}

/// Every bound an update body can break (it cannot change `references`).
pub fn check_update(u: &UpdateAnnotation) -> Result<(), ValidationError> {
    if let Some(uri) = &u.uri {
        check_uri(uri)?;
    }
    if let Some(tags) = &u.tags {
        check_tags(tags)?;
    }
    if let Some(target) = &u.target {
        check_target(target)?;
    }
    if let Some(doc) = &u.document {
        check_document(doc)?;
    }
    Ok(())
}
