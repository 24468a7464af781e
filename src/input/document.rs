//! Document URI claims and document metadata from the client's `document`
//! object.
//!
//! Mirrors `h/util/document_claims.py` (`document_uris_from_data`,
//! `document_metas_from_data`, `doi_uri_from_string`) and
//! `transform_document` / `_normalize_version` in `h/schemas/annotation.py`.
//! The title is the first value of the `title` meta, as
//! `h/models/document/_meta.py` picks it for `Document.title`.
//!
//! The input has already passed the schema (`crate::input::schema`), so
//! `link[].href`/`link[].type`, `highwire.*` and `dc.identifier` have the
//! right shapes; anything else is handled defensively rather than trusted.

use serde_json::{Map, Value};

use crate::input::pyrepr::{py_str, py_strip};
use crate::input::{DocumentInput, DocumentUriClaim, ValidationError};

/// Build the [`DocumentInput`] for a (schema-valid) `document` object, with
/// `claimant` = the annotation's target URI.
pub fn document_input(
    document: &Map<String, Value>,
    claimant: &str,
) -> Result<DocumentInput, ValidationError> {
    let metas = document_metas(document);
    let title = metas
        .iter()
        .find(|(ty, _)| ty == "title")
        .and_then(|(_, v)| v.as_array())
        .and_then(|values| values.first())
        .and_then(|v| v.as_str())
        .map(str::to_string);

    let version_given = document.contains_key("version");
    let version = match document.get("version") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_i64() {
            // 0 (and, defensively, negatives) mean "unversioned" in h.
            Some(n) if n <= 0 => None,
            Some(n) => Some(n),
            // Python ints are unbounded; ours stop at i64. The schema already
            // rejected floats, so only a huge positive u64 ends up here.
            None => {
                return Err(ValidationError(format!(
                    "document.version: {} is greater than the maximum of {}",
                    py_str(v),
                    i64::MAX
                )));
            }
        },
    };

    Ok(DocumentInput {
        title,
        version,
        version_given,
        uris: document_uris(document, claimant),
        metas,
    })
}

/// `document_uris_from_data`: links, then highwire PDFs, highwire DOIs,
/// Dublin Core DOIs, and the self-claim last; every URI trimmed, empty ones
/// dropped.
pub fn document_uris(document: &Map<String, Value>, claimant: &str) -> Vec<DocumentUriClaim> {
    let mut claims = Vec::new();

    if let Some(links) = document.get("link").and_then(Value::as_array) {
        for link in links.iter().filter_map(Value::as_object) {
            if let Some(claim) = link_claim(link, claimant) {
                claims.push(claim);
            }
        }
    }

    let highwire = document.get("highwire").and_then(Value::as_object);
    for pdf in string_list(highwire, "pdf_url") {
        claims.push(claim(pdf, "highwire-pdf", "application/pdf"));
    }
    for raw in string_list(highwire, "doi") {
        if let Some(doi) = doi_uri_from_string(raw) {
            claims.push(claim(&doi, "highwire-doi", ""));
        }
    }
    let dc = document.get("dc").and_then(Value::as_object);
    for raw in string_list(dc, "identifier") {
        if let Some(doi) = doi_uri_from_string(raw) {
            claims.push(claim(&doi, "dc-doi", ""));
        }
    }

    claims.push(claim(claimant, "self-claim", ""));

    claims
        .into_iter()
        .filter_map(|mut c| {
            let trimmed = py_strip(&c.uri);
            if trimmed.is_empty() {
                None
            } else {
                if trimmed.len() != c.uri.len() {
                    c.uri = trimmed.to_string();
                }
                Some(c)
            }
        })
        .collect()
}

fn claim(uri: &str, ty: &str, content_type: &str) -> DocumentUriClaim {
    DocumentUriClaim {
        uri: uri.to_string(),
        r#type: ty.to_string(),
        content_type: content_type.to_string(),
    }
}

fn string_list<'a>(parent: Option<&'a Map<String, Value>>, key: &str) -> Vec<&'a str> {
    parent
        .and_then(|m| m.get(key))
        .and_then(Value::as_array)
        .map(|items| items.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// `document_uris_from_links` for one link dict.
fn link_claim(link: &Map<String, Value>, claimant: &str) -> Option<DocumentUriClaim> {
    let href = link.get("href")?.as_str()?;
    let only_href = link.len() == 1;

    // A bare {href} equal to the claimant: the self-claim covers it.
    if only_href && href == claimant {
        return None;
    }
    // A bare {href: "doi:…"}: DOIs come from highwire/dc instead.
    if only_href && href.starts_with("doi:") {
        return None;
    }
    // Exactly {href, type: "application/pdf"}: highwire pdf_url covers it.
    if link.len() == 2
        && link.contains_key("type")
        && link.get("type").and_then(Value::as_str) == Some("application/pdf")
    {
        return None;
    }

    // `rel` is not schema-checked; h formats whatever it is with str().
    let ty = match link.get("rel") {
        Some(rel) => format!("rel-{}", py_str(rel)),
        None => String::new(),
    };
    let content_type = link
        .get("type")
        .map(|t| t.as_str().map(str::to_string).unwrap_or_else(|| py_str(t)))
        .unwrap_or_default();
    Some(claim(href, &ty, &content_type))
}

/// `doi_uri_from_string`: trim, drop one `doi:` prefix, trim again, and
/// accept only strings matching h's DOI_PATTERN at their start:
/// `(https?://(dx\.)?doi\.org/)?10\.[0-9]{4,}[.0-9]*/.*`.
pub fn doi_uri_from_string(raw: &str) -> Option<String> {
    let s = py_strip(raw);
    let s = py_strip(s.strip_prefix("doi:").unwrap_or(s));
    if doi_core_matches(s) || doi_url_prefix_len(s).is_some_and(|n| doi_core_matches(&s[n..])) {
        Some(format!("doi:{s}"))
    } else {
        None
    }
}

/// Length of a leading `http(s)://(dx.)doi.org/`, if present.
fn doi_url_prefix_len(s: &str) -> Option<usize> {
    let after_scheme = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))?;
    let host_rest = after_scheme.strip_prefix("dx.").unwrap_or(after_scheme);
    let rest = host_rest.strip_prefix("doi.org/")?;
    Some(s.len() - rest.len())
}

/// `10\.[0-9]{4,}[.0-9]*/` at the start of `s`.
fn doi_core_matches(s: &str) -> bool {
    let Some(rest) = s.strip_prefix("10.") else {
        return false;
    };
    let run_len = rest
        .bytes()
        .take_while(|b| b.is_ascii_digit() || *b == b'.')
        .count();
    let run = &rest.as_bytes()[..run_len];
    run.len() >= 4 && run[..4].iter().all(u8::is_ascii_digit) && rest[run_len..].starts_with('/')
}

/// `document_metas_from_data`: every key except `link`, nested objects
/// flattened to dotted types, non-list values wrapped in a one-item list.
/// `title` values are trimmed and falsy/blank ones dropped (no meta at all
/// if none remain).
pub fn document_metas(document: &Map<String, Value>) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    let mut prefix = Vec::new();
    collect_metas(document, true, &mut prefix, &mut out);
    out
}

fn collect_metas<'a>(
    items: &'a Map<String, Value>,
    top: bool,
    prefix: &mut Vec<&'a str>,
    out: &mut Vec<(String, Value)>,
) {
    for (key, value) in items {
        if top && key == "link" {
            continue;
        }
        prefix.push(key.as_str());
        if let Value::Object(sub) = value {
            collect_metas(sub, false, prefix, out);
        } else {
            let ty = prefix.join(".");
            let values = match value {
                Value::Array(list) => list.clone(),
                other => vec![other.clone()],
            };
            if ty == "title" {
                let titles = clean_titles(&values);
                if !titles.is_empty() {
                    out.push((ty, Value::Array(titles)));
                }
            } else {
                out.push((ty, Value::Array(values)));
            }
        }
        prefix.pop();
    }
}

/// Trimmed, non-blank title strings. h calls `.strip()` on every truthy
/// entry, so a truthy non-string (a number, `true`, a list…) makes h fail
/// with a 500; here such entries are skipped instead.
fn clean_titles(values: &[Value]) -> Vec<Value> {
    values
        .iter()
        .filter_map(Value::as_str)
        .map(py_strip)
        .filter(|t| !t.is_empty())
        .map(|t| Value::String(t.to_string()))
        .collect()
}
