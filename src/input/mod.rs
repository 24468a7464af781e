//! Checked input for `POST /api/annotations` and `PATCH /api/annotations/{id}`.
//!
//! Mirrors `CreateAnnotationSchema` / `UpdateAnnotationSchema` in
//! `h/schemas/annotation.py`: first the JSON schema (`schema.rs`, error text as
//! `h/schemas/base.py` formats it), then protected fields are dropped, `uri`
//! is trimmed, known fields are pulled out and whatever is left becomes
//! `extra`. Group existence/permission/scope checks, reply group inheritance
//! and moderation live in the write service (`h/services/annotation_write.py`)
//! and are not done here.
//!
//! Selector `prefix`/`suffix` must be valid Unicode in h (a lone surrogate such
//! as `"\ud835"` gives `prefix: 'prefix' must be valid unicode`). serde_json
//! already refuses lone-surrogate escapes while parsing, so a `Value` can never
//! hold one and that check cannot fail here.

mod document;
pub mod limits;
mod pyrepr;
mod schema;
#[cfg(test)]
mod tests;

use serde_json::{Map, Value};

pub use document::{document_input, document_metas, document_uris, doi_uri_from_string};
pub use pyrepr::{py_float_repr, py_repr, py_repr_str, py_str, py_strip};
pub use schema::{permission_matches, validation_message};

/// A 400 reason, worded exactly as h words it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct ValidationError(pub String);

/// What h derives from the client's `document` object.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DocumentInput {
    /// First trimmed, non-blank `title` value (what h stores as `Document.title`
    /// when the document has none yet).
    pub title: Option<String>,
    /// `document.version`, with 0 normalised to `None`.
    pub version: Option<i64>,
    /// Whether the `version` key was present (then `version` overrides the
    /// reply's inherited/the existing version, even when `None`).
    pub version_given: bool,
    /// Document URI claims in h's order: links, highwire-pdf, highwire-doi,
    /// dc-doi, then the self-claim **last**. Claimant = the annotation's URI.
    pub uris: Vec<DocumentUriClaim>,
    /// `(type, value)` document meta claims; `value` is always a JSON array.
    /// Like h, this includes a `version` meta when `document.version` is sent.
    pub metas: Vec<(String, Value)>,
}

/// One `DocumentURI` claim (claimant is the annotation's target URI).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentUriClaim {
    pub uri: String,
    pub r#type: String,
    pub content_type: String,
}

/// `target[0]` as h keeps it. Other targets and other keys are discarded.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetInput {
    /// `target[0].description`; `None` when absent (an update then clears it).
    pub description: Option<String>,
    /// `target[0].selector`, each item an object with a string `type`.
    pub selectors: Vec<Value>,
}

/// The client's permissions object (only `read` matters to h).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PermissionsInput {
    pub read: Vec<String>,
    pub admin: Option<Vec<String>>,
    pub update: Option<Vec<String>>,
    pub delete: Option<Vec<String>>,
}

/// A checked create body.
#[derive(Debug, Clone, PartialEq)]
pub struct CreateAnnotation {
    /// Trimmed, never blank.
    pub uri: String,
    pub text: String,
    pub tags: Vec<String>,
    /// The client's group, or `__world__`. h ignores it for replies (non-empty
    /// `references`) and uses the thread root's group instead — but
    /// [`is_shared`] is still computed with this value.
    pub group: String,
    pub group_given: bool,
    pub references: Vec<String>,
    pub permissions: Option<PermissionsInput>,
    pub target: Option<TargetInput>,
    /// Always `Some` on create: h records the self-claim even without a
    /// `document` key (see `document_given`).
    pub document: Option<DocumentInput>,
    pub document_given: bool,
    /// The `metadata` object, if sent (h only stores it when non-empty).
    pub metadata: Option<Value>,
    /// Unknown keys, in body order (not `metadata`, not protected fields).
    pub extra: Map<String, Value>,
}

impl CreateAnnotation {
    /// h's `shared` flag for this body (private when no permissions were sent).
    pub fn shared(&self) -> bool {
        is_shared(self.permissions.as_ref(), &self.group)
    }
}

/// A checked update body; `None` means "leave as is".
#[derive(Debug, Clone, PartialEq)]
pub struct UpdateAnnotation {
    /// Trimmed, never blank.
    pub uri: Option<String>,
    pub text: Option<String>,
    pub tags: Option<Vec<String>>,
    pub permissions: Option<PermissionsInput>,
    pub target: Option<TargetInput>,
    /// Claims computed with the new `uri` as claimant, or with the existing
    /// target URI when given to [`parse_update_for`]. [`parse_update`] without
    /// a new `uri` uses an empty claimant, so no self-claim: prefer
    /// [`parse_update_for`] (or recompute with [`UpdateAnnotation::document_for`]).
    pub document: Option<DocumentInput>,
    /// The raw (schema-valid) `document` object, for recomputing claims.
    pub document_raw: Option<Map<String, Value>>,
    pub metadata: Option<Value>,
    /// Unknown keys; h merges these into the stored `extra`.
    pub extra: Map<String, Value>,
}

impl UpdateAnnotation {
    /// Claims for the update with the annotation's current target URI: the new
    /// `uri` wins when the body has one (as in h).
    pub fn document_for(&self, existing_target_uri: &str) -> Option<DocumentInput> {
        let raw = self.document_raw.as_ref()?;
        let claimant = self.uri.as_deref().unwrap_or(existing_target_uri);
        document_input(raw, claimant).ok()
    }
}

/// h's fields that clients may never set (`_remove_protected_fields`).
pub const PROTECTED_FIELDS: [&str; 9] = [
    "created",
    "updated",
    "user",
    "id",
    "links",
    "flagged",
    "hidden",
    "moderation",
    "user_info",
];

const REQUIRED_URI: &str = "uri: 'uri' is a required property";

/// Run the schema and return the body as an owned object without the
/// protected fields.
fn checked_object(body: &Value) -> Result<Map<String, Value>, ValidationError> {
    if let Some(msg) = schema::validation_message(&schema::ANNOTATION, body) {
        return Err(ValidationError(msg));
    }
    let mut map = match body {
        Value::Object(m) => m.clone(),
        // Unreachable after the schema's type check, but never panic.
        other => {
            return Err(ValidationError(format!(
                "{} is not of type 'object'",
                py_repr(other)
            )));
        }
    };
    for field in PROTECTED_FIELDS {
        map.shift_remove(field);
    }
    Ok(map)
}

fn take_string(map: &mut Map<String, Value>, key: &str) -> Option<String> {
    match map.shift_remove(key)? {
        Value::String(s) => Some(s),
        other => Some(py_str(&other)),
    }
}

fn take_strings(map: &mut Map<String, Value>, key: &str) -> Option<Vec<String>> {
    map.shift_remove(key).map(|v| strings_of(&v))
}

fn strings_of(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|items| items.iter().map(py_str).collect())
        .unwrap_or_default()
}

fn take_uri(map: &mut Map<String, Value>) -> Option<Result<String, ValidationError>> {
    let raw = take_string(map, "uri")?;
    let uri = py_strip(&raw);
    Some(if uri.is_empty() {
        Err(ValidationError(REQUIRED_URI.to_string()))
    } else {
        Ok(uri.to_string())
    })
}

fn permissions_of(v: &Value) -> PermissionsInput {
    let get = |k: &str| v.get(k).map(strings_of);
    PermissionsInput {
        read: get("read").unwrap_or_default(),
        admin: get("admin"),
        update: get("update"),
        delete: get("delete"),
    }
}

/// `_target_selectors` / `_target_description`: only `target[0]` counts.
fn target_of(v: &Value) -> TargetInput {
    let first = v.as_array().and_then(|t| t.first());
    TargetInput {
        description: first
            .and_then(|t| t.get("description"))
            .and_then(Value::as_str)
            .map(str::to_string),
        selectors: first
            .and_then(|t| t.get("selector"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default(),
    }
}

fn document_map(map: &mut Map<String, Value>) -> Option<Map<String, Value>> {
    match map.shift_remove("document")? {
        Value::Object(m) => Some(m),
        _ => Some(Map::new()),
    }
}

/// Parse a `POST /api/annotations` body (`CreateAnnotationSchema.validate`).
pub fn parse_create(body: &Value) -> Result<CreateAnnotation, ValidationError> {
    let mut map = checked_object(body)?;
    let uri =
        take_uri(&mut map).unwrap_or_else(|| Err(ValidationError(REQUIRED_URI.to_string())))?;
    let text = take_string(&mut map, "text").unwrap_or_default();
    let tags = take_strings(&mut map, "tags").unwrap_or_default();
    let group_value = take_string(&mut map, "group");
    let group_given = group_value.is_some();
    let group = group_value.unwrap_or_else(|| "__world__".to_string());
    let references = take_strings(&mut map, "references").unwrap_or_default();
    let permissions = map.shift_remove("permissions").map(|v| permissions_of(&v));
    let target = map.shift_remove("target").map(|v| target_of(&v));
    let raw_document = document_map(&mut map);
    let document_given = raw_document.is_some();
    let document = document_input(&raw_document.unwrap_or_default(), &uri)?;
    let metadata = map.shift_remove("metadata");
    let create = CreateAnnotation {
        uri,
        text,
        tags,
        group,
        group_given,
        references,
        permissions,
        target,
        document: Some(document),
        document_given,
        metadata,
        extra: map,
    };
    limits::check_create(&create)?;
    Ok(create)
}

/// Parse a `PATCH`/`PUT /api/annotations/{id}` body. Claims in `document` use
/// the new `uri` or else an empty claimant; see [`parse_update_for`].
pub fn parse_update(body: &Value) -> Result<UpdateAnnotation, ValidationError> {
    parse_update_for(body, "")
}

/// Parse an update body (`UpdateAnnotationSchema.validate`), computing
/// document claims with the new `uri` or else `existing_target_uri`.
pub fn parse_update_for(
    body: &Value,
    existing_target_uri: &str,
) -> Result<UpdateAnnotation, ValidationError> {
    let mut map = checked_object(body)?;
    for key in ["group", "groupid", "userid", "references"] {
        map.shift_remove(key);
    }
    let uri = take_uri(&mut map).transpose()?;
    let permissions = map.shift_remove("permissions").map(|v| permissions_of(&v));
    let target = map.shift_remove("target").map(|v| target_of(&v));
    let text = take_string(&mut map, "text");
    let tags = take_strings(&mut map, "tags");
    let document_raw = document_map(&mut map);
    let claimant = uri.as_deref().unwrap_or(existing_target_uri);
    let document = match &document_raw {
        Some(raw) => Some(document_input(raw, claimant)?),
        None => None,
    };
    let metadata = map.shift_remove("metadata");
    let update = UpdateAnnotation {
        uri,
        text,
        tags,
        permissions,
        target,
        document,
        document_raw,
        metadata,
        extra: map,
    };
    limits::check_update(&update)?;
    Ok(update)
}

/// `_shared`: shared iff `permissions.read == ["group:<group>"]` exactly.
pub fn is_shared(perms: Option<&PermissionsInput>, group: &str) -> bool {
    match perms {
        Some(p) => p.read.len() == 1 && p.read[0].strip_prefix("group:") == Some(group),
        None => false,
    }
}

/// Where the first NUL character (U+0000) in a request body is, as a field path (`text`,
/// `tags.1`, `target.0.selector.0.exact`; a key holding one is named by its parent's path and
/// the key itself): PostgreSQL cannot store one in text and SQLite would, so both engines
/// refuse it before anything is written, and answer alike.
pub fn nul_path(value: &Value) -> Option<String> {
    fn walk(value: &Value, path: &mut Vec<String>) -> bool {
        match value {
            Value::String(s) => s.contains('\0'),
            Value::Array(items) => items.iter().enumerate().any(|(i, item)| {
                path.push(i.to_string());
                let found = walk(item, path);
                if !found {
                    path.pop();
                }
                found
            }),
            Value::Object(map) => map.iter().any(|(k, v)| {
                path.push(k.clone());
                let found = k.contains('\0') || walk(v, path);
                if !found {
                    path.pop();
                }
                found
            }),
            _ => false,
        }
    }
    let mut path = vec![];
    walk(value, &mut path).then(|| path.join("."))
}

/// h-style reason for a NUL character at `path`.
pub fn nul_reason(path: &str) -> String {
    let at = if path.is_empty() {
        String::new()
    } else {
        format!("{path}: ")
    };
    format!("{at}may not contain a NUL character (\\u0000)")
}
