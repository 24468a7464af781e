//! Filters: a client's `filter` message compiled into index keys (spec §4.1–4.3; h's
//! `h/streamer/filter.py`). A socket receives an annotation event when any of its keys is among
//! the event's keys, so matching is a set intersection the subscription index answers without
//! looking at sockets that cannot match.
//!
//! h validates almost nothing and crashes (silently) on malformed clauses. Here everything h
//! accepts is accepted with the same meaning, and what crashed h is refused with a reason
//! (quirks Q3 and Q4), so the previous filter stays in force either way.

use std::fmt;

use serde_json::Value;

use crate::uri::{Version, normalize, parse_uri_versions, scope_key};

/// One thing a socket subscribes to, and one thing an event is about.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Key {
    /// `/id`: the annotation's id.
    Id(String),
    /// `/group`: the annotation's group pubid.
    Group(String),
    /// `/references`: any ancestor of the annotation.
    Reference(String),
    /// `/uri`: a version scope key (`httpx://host/path`, or `...__v3`).
    Uri(String),
    /// `/uri` with `:all`: every version of a normalised URI, unversioned included (quirk Q5
    /// fixed: h builds the key `...__vall`, which never matches).
    UriAllVersions(String),
}

impl Key {
    /// How many kinds of key there are.
    pub const KINDS: usize = 5;

    /// This key's kind, below [`Key::KINDS`].
    pub fn kind(&self) -> usize {
        match self {
            Key::Id(_) => 0,
            Key::Group(_) => 1,
            Key::Reference(_) => 2,
            Key::Uri(_) => 3,
            Key::UriAllVersions(_) => 4,
        }
    }
}

/// Bounds on one filter, so one socket cannot make the index (or its own key list) large.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FilterLimits {
    pub max_clauses: usize,
    /// Values over all clauses, before de-duplication.
    pub max_values: usize,
}

impl Default for FilterLimits {
    fn default() -> Self {
        FilterLimits {
            max_clauses: 32,
            max_values: 256,
        }
    }
}

/// Why a filter was refused; the text is the `error.description` of the `invalid_data` reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FilterError {
    /// The filter fails h's schema; h's exact description.
    Schema,
    /// The filter passes h's schema but h could not compile it (h crashed; we explain).
    Clause {
        index: usize,
        reason: String,
    },
    TooLarge(String),
}

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FilterError::Schema => f.write_str("failed to parse filter"),
            FilterError::Clause { index, reason } => {
                write!(f, "failed to parse filter: clauses[{index}]: {reason}")
            }
            FilterError::TooLarge(reason) => write!(f, "failed to parse filter: {reason}"),
        }
    }
}

/// Compiles a filter object into its de-duplicated, sorted keys. An empty result is a valid
/// filter that matches nothing (spec §4.4).
pub fn compile(filter: &Value, limits: FilterLimits) -> Result<Vec<Key>, FilterError> {
    let clauses = check_schema(filter)?;
    if clauses.len() > limits.max_clauses {
        return Err(FilterError::TooLarge(format!(
            "{} clauses, at most {} allowed",
            clauses.len(),
            limits.max_clauses
        )));
    }
    let mut keys = Vec::new();
    let mut values_seen = 0usize;
    for (index, clause) in clauses.iter().enumerate() {
        let err = |reason: &str| FilterError::Clause {
            index,
            reason: reason.to_owned(),
        };
        let clause = clause.as_object().ok_or_else(|| err("not an object"))?;
        let field = clause
            .get("field")
            .ok_or_else(|| err("\"field\" is missing"))?;
        let Some(field) = field.as_str().and_then(Field::parse) else {
            // Unknown fields are skipped, as in h (spec §9 item 31).
            continue;
        };
        let value = clause
            .get("value")
            .ok_or_else(|| err("\"value\" is missing"))?;
        // The operator is ignored: a list is "any of", anything else is one value.
        let values: &[Value] = match value {
            Value::Array(items) => items,
            single => std::slice::from_ref(single),
        };
        values_seen += values.len();
        if values_seen > limits.max_values {
            return Err(FilterError::TooLarge(format!(
                "too many values, at most {} allowed",
                limits.max_values
            )));
        }
        for v in values {
            field.keys_for(v, &mut keys).map_err(|r| err(&r))?;
        }
    }
    keys.sort_unstable();
    keys.dedup();
    Ok(keys)
}

/// h's schema (spec §4.1): an object whose `match_policy` is `"include_any"`, whose `clauses`
/// is an array, and which has `actions` (of any type).
fn check_schema(filter: &Value) -> Result<&Vec<Value>, FilterError> {
    let obj = filter.as_object().ok_or(FilterError::Schema)?;
    if obj.get("match_policy").and_then(Value::as_str) != Some("include_any")
        || !obj.contains_key("actions")
    {
        return Err(FilterError::Schema);
    }
    obj.get("clauses")
        .and_then(Value::as_array)
        .ok_or(FilterError::Schema)
}

#[derive(Clone, Copy)]
enum Field {
    Id,
    Group,
    Reference,
    Uri,
}

impl Field {
    fn parse(s: &str) -> Option<Field> {
        Some(match s {
            "/id" => Field::Id,
            "/group" => Field::Group,
            "/references" => Field::Reference,
            "/uri" => Field::Uri,
            _ => return None,
        })
    }

    fn keys_for(self, v: &Value, out: &mut Vec<Key>) -> Result<(), String> {
        match (self, v) {
            (Field::Uri, Value::String(s)) => uri_keys(s, out),
            (Field::Uri, _) => Err("a /uri value must be a string".to_owned()),
            (_, Value::String(s)) => {
                out.push(match self {
                    Field::Id => Key::Id(s.clone()),
                    Field::Group => Key::Group(s.clone()),
                    _ => Key::Reference(s.clone()),
                });
                Ok(())
            }
            // h compares JSON values: a number, boolean or null can never equal an id, so it is
            // accepted and matches nothing.
            (_, Value::Number(_) | Value::Bool(_) | Value::Null) => Ok(()),
            // Objects and nested lists crashed h's compiler or matcher (quirk Q4).
            (_, _) => Err("values must be strings".to_owned()),
        }
    }
}

/// `/uri` keys: version suffixes are split off the raw value, the base is normalised, and each
/// version gives one scope key (spec §4.6).
fn uri_keys(value: &str, out: &mut Vec<Key>) -> Result<(), String> {
    let (base, versions) = parse_uri_versions(value);
    let normalized = normalize(&base).map_err(|e| format!("invalid URI {base:?}: {e}"))?;
    if versions.is_empty() {
        out.push(Key::Uri(normalized));
        return Ok(());
    }
    for version in versions {
        out.push(match version {
            Version::Unversioned => Key::Uri(normalized.clone()),
            Version::Number(n) => Key::Uri(format!("{normalized}__v{n}")),
            Version::All => Key::UriAllVersions(normalized.clone()),
        });
    }
    Ok(())
}

/// The keys of an annotation event: its id, group, ancestors, and for each URI of its
/// document (already expanded and normalised, spec §4.7) the scope key for its version plus the
/// all-versions key.
pub fn event_keys(
    id: &str,
    group: &str,
    references: &[String],
    expanded_uris: &[String],
    version: Option<i64>,
) -> Vec<Key> {
    let mut keys = Vec::with_capacity(2 + references.len() + 2 * expanded_uris.len());
    keys.push(Key::Id(id.to_owned()));
    keys.push(Key::Group(group.to_owned()));
    keys.extend(references.iter().cloned().map(Key::Reference));
    for u in expanded_uris {
        keys.push(Key::Uri(scope_key(u, version)));
        keys.push(Key::UriAllVersions(u.clone()));
    }
    keys.sort_unstable();
    keys.dedup();
    keys
}

#[cfg(test)]
mod tests;
