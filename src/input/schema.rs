//! The annotation JSON schema, checked the way h's `jsonschema` (Draft 4)
//! validator checks it.
//!
//! Mirrors `AnnotationSchema` / `DOCUMENT_SCHEMA` / `SELECTOR_SCHEMA` in
//! `h/schemas/annotation.py`, and the error formatting of `JSONSchema.validate`
//! in `h/schemas/base.py`: every error is collected (no sorting), in the order
//! jsonschema yields them, each rendered as `<dotted.path>: <message>` (or the
//! bare message at the root) and joined with `", "`.
//!
//! jsonschema walks a schema's keywords in the dict's insertion order, so the
//! order matters: for objects `type`, `properties` (in schema order),
//! `patternProperties` (in the instance's key order), `required`; for arrays
//! `type`, `items`; for strings `type`, then `maxLength`/`pattern`; for the
//! integer `type`, then `minimum`. Each keyword only applies to instances of
//! its own kind, so a wrong type yields just the type error — except
//! `minimum`, which applies to every number (a float `-1.5` gets both errors).

use serde_json::Value;

use crate::input::pyrepr::{number_repr, py_repr};

/// One node of the (fixed) schema.
pub enum Schema {
    /// `{"type": "object", "properties": …, "patternProperties": …, "required": …}`
    Object {
        properties: &'static [(&'static str, Schema)],
        /// `(names matched by ^(a|b|…)$, schema for each value)`
        pattern_properties: Option<(&'static [&'static str], &'static Schema)>,
        required: &'static [&'static str],
    },
    /// `{"type": "array", "items": …}`
    Array(&'static Schema),
    /// `{"type": "string"}` with optional `maxLength` and permission `pattern`.
    Str {
        max_length: Option<usize>,
        permission_pattern: bool,
    },
    /// `{"type": "integer", "minimum": 0}`
    NonNegativeInteger,
}

const STRING: Schema = Schema::Str {
    max_length: None,
    permission_pattern: false,
};
const STRING_ARRAY: Schema = Schema::Array(&STRING);

const fn object(properties: &'static [(&'static str, Schema)]) -> Schema {
    Schema::Object {
        properties,
        pattern_properties: None,
        required: &[],
    }
}

// h/schemas/annotation.py DOCUMENT_SCHEMA
const DOCUMENT: Schema = object(&[
    ("dc", object(&[("identifier", STRING_ARRAY)])),
    (
        "highwire",
        object(&[("doi", STRING_ARRAY), ("pdf_url", STRING_ARRAY)]),
    ),
    (
        "link",
        Schema::Array(&Schema::Object {
            properties: &[
                (
                    "href",
                    Schema::Str {
                        max_length: Some(3000),
                        permission_pattern: false,
                    },
                ),
                ("type", STRING),
            ],
            pattern_properties: None,
            required: &["href"],
        }),
    ),
    ("version", Schema::NonNegativeInteger),
]);

// h/schemas/annotation.py SELECTOR_SCHEMA
const SELECTORS: Schema = Schema::Array(&Schema::Object {
    properties: &[("type", STRING)],
    pattern_properties: None,
    required: &["type"],
});

const PERMISSION_LIST: Schema = Schema::Array(&Schema::Str {
    max_length: None,
    permission_pattern: true,
});

/// h/schemas/annotation.py `AnnotationSchema.schema` (property order kept).
pub const ANNOTATION: Schema = object(&[
    ("document", DOCUMENT),
    ("group", STRING),
    (
        "permissions",
        Schema::Object {
            properties: &[],
            pattern_properties: Some((&["admin", "delete", "read", "update"], &PERMISSION_LIST)),
            required: &["read"],
        },
    ),
    (
        "tags",
        Schema::Array(&Schema::Str {
            max_length: Some(1000),
            permission_pattern: false,
        }),
    ),
    ("references", STRING_ARRAY),
    (
        "target",
        Schema::Array(&object(&[
            (
                "description",
                Schema::Str {
                    max_length: Some(5000),
                    permission_pattern: false,
                },
            ),
            ("selector", SELECTORS),
        ])),
    ),
    ("text", STRING),
    ("uri", STRING),
    ("metadata", object(&[])),
]);

/// The regex used for permission principals.
pub const PERMISSION_PATTERN: &str = "^(acct:|group:).+$";

/// A step of a jsonschema error path (`error.path`).
#[derive(Clone)]
enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

/// Validate `instance` against `schema`, returning every error message in
/// jsonschema's order, already prefixed with its dotted path.
pub fn validate(schema: &Schema, instance: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    let mut path = Vec::new();
    walk(schema, instance, &mut path, &mut errors);
    errors
}

/// Convenience: the joined message h would raise, or `None` when valid.
pub fn validation_message(schema: &Schema, instance: &Value) -> Option<String> {
    let errors = validate(schema, instance);
    if errors.is_empty() {
        None
    } else {
        Some(errors.join(", "))
    }
}

fn push_error(path: &[Seg<'_>], message: String, errors: &mut Vec<String>) {
    if path.is_empty() {
        errors.push(message);
        return;
    }
    let dotted: Vec<String> = path
        .iter()
        .map(|seg| match seg {
            Seg::Key(k) => (*k).to_string(),
            Seg::Index(i) => i.to_string(),
        })
        .collect();
    errors.push(format!("{}: {message}", dotted.join(".")));
}

fn type_error(instance: &Value, ty: &str) -> String {
    format!("{} is not of type '{ty}'", py_repr(instance))
}

fn walk<'a>(
    schema: &Schema,
    instance: &'a Value,
    path: &mut Vec<Seg<'a>>,
    errors: &mut Vec<String>,
) {
    match schema {
        Schema::Object {
            properties,
            pattern_properties,
            required,
        } => {
            let Some(map) = instance.as_object() else {
                push_error(path, type_error(instance, "object"), errors);
                return;
            };
            for (name, sub) in properties.iter() {
                if let Some((key, value)) = map.get_key_value(*name) {
                    path.push(Seg::Key(key.as_str()));
                    walk(sub, value, path, errors);
                    path.pop();
                }
            }
            if let Some((names, sub)) = pattern_properties {
                for (key, value) in map {
                    if key_matches_alternation(key, names) {
                        path.push(Seg::Key(key.as_str()));
                        walk(sub, value, path, errors);
                        path.pop();
                    }
                }
            }
            for name in required.iter() {
                if !map.contains_key(*name) {
                    push_error(path, format!("'{name}' is a required property"), errors);
                }
            }
        }
        Schema::Array(items) => {
            let Some(list) = instance.as_array() else {
                push_error(path, type_error(instance, "array"), errors);
                return;
            };
            for (i, item) in list.iter().enumerate() {
                path.push(Seg::Index(i));
                walk(items, item, path, errors);
                path.pop();
            }
        }
        Schema::Str {
            max_length,
            permission_pattern,
        } => {
            let Some(s) = instance.as_str() else {
                push_error(path, type_error(instance, "string"), errors);
                return;
            };
            if let Some(max) = max_length {
                // Python's len() counts code points.
                if s.chars().count() > *max {
                    push_error(path, format!("{} is too long", py_repr(instance)), errors);
                }
            }
            if *permission_pattern && !permission_matches(s) {
                push_error(
                    path,
                    format!(
                        "{} does not match '{PERMISSION_PATTERN}'",
                        py_repr(instance)
                    ),
                    errors,
                );
            }
        }
        Schema::NonNegativeInteger => {
            // Draft 4: "integer" means a Python int (not bool, not 1.0).
            let is_int = instance.as_i64().is_some() || instance.as_u64().is_some();
            if !is_int {
                push_error(path, type_error(instance, "integer"), errors);
            }
            // `minimum` applies to any number (bools are not numbers).
            if let Value::Number(n) = instance {
                let below = match n.as_i64() {
                    Some(i) => i < 0,
                    None => n.as_u64().is_none() && n.as_f64().is_some_and(|f| f < 0.0),
                };
                if below {
                    push_error(
                        path,
                        format!("{} is less than the minimum of 0", number_repr(n)),
                        errors,
                    );
                }
            }
        }
    }
}

/// Python `re.search("^(a|b|…)$", key)`: `$` also matches just before a
/// single trailing newline.
fn key_matches_alternation(key: &str, names: &[&str]) -> bool {
    let key = key.strip_suffix('\n').unwrap_or(key);
    names.contains(&key)
}

/// Python `re.search("^(acct:|group:).+$", s)`: `.` excludes `\n`, and `$`
/// matches at the end or just before one final `\n`.
pub fn permission_matches(s: &str) -> bool {
    let s = s.strip_suffix('\n').unwrap_or(s);
    let rest = s.strip_prefix("acct:").or_else(|| s.strip_prefix("group:"));
    matches!(rest, Some(r) if !r.is_empty() && !r.contains('\n'))
}
