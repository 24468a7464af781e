//! Query-string canonicalisation from `h/util/uri.py` (`_normalize_query`
//! and the blacklist of tracking parameters).
//!
//! The query is parsed like Python's
//! `parse_qsl(query, keep_blank_values=True, strict_parsing=True)`. When that
//! parse fails the raw query is kept as it was. Otherwise the pairs are
//! stable-sorted by decoded name, tracking parameters are dropped, and each
//! name and value is decoded a second time and form-encoded again.

use crate::uri::encoding::{QUERY_NAME, QUERY_VALUE, quote_plus, unquote, unquote_plus};

/// Canonical form of a raw query (without the `?`). Empty means "no query".
pub(crate) fn normalize_query(raw: &str) -> String {
    let Some(mut items) = parse_qsl_strict(raw) else {
        return raw.to_owned();
    };
    // `sort_by` is stable, as Python's `sorted` is; `String` ordering is
    // code-point order, as for Python `str`.
    items.sort_by(|a, b| a.0.cmp(&b.0));
    let encoded: Vec<String> = items
        .iter()
        .filter(|(name, _)| !is_blacklisted(name))
        .map(|(name, value)| {
            format!(
                "{}={}",
                quote_plus(&unquote_plus(name), QUERY_NAME),
                quote_plus(&unquote_plus(value), QUERY_VALUE)
            )
        })
        .collect();
    encoded.join("&")
}

/// `parse_qsl` in strict mode with blank values kept: `None` when any
/// `&`-separated field is empty or lacks `=`.
fn parse_qsl_strict(raw: &str) -> Option<Vec<(String, String)>> {
    if raw.is_empty() {
        return Some(Vec::new());
    }
    raw.split('&')
        .map(|field| {
            let (name, value) = field.split_once('=')?;
            Some((
                unquote(&name.replace('+', " ")),
                unquote(&value.replace('+', " ")),
            ))
        })
        .collect()
}

/// Whether a decoded parameter name matches one of h's patterns:
/// `^gclid$`, `^utm_(campaign|content|medium|source|term)$`, `^WT\..+$`,
/// `(?i)^x-amz-security-token$` and `^resourcekey$`.
fn is_blacklisted(name: &str) -> bool {
    // Python's `$` also matches just before a final newline, so a name
    // with one trailing "\n" matches too.
    let mut candidates = vec![name];
    if let Some(stripped) = name.strip_suffix('\n') {
        candidates.push(stripped);
    }
    candidates.into_iter().any(matches_exactly)
}

/// The blacklist patterns, each anchored at both ends.
fn matches_exactly(name: &str) -> bool {
    const UTM: [&str; 5] = ["campaign", "content", "medium", "source", "term"];
    if name == "gclid" || name == "resourcekey" {
        return true;
    }
    if name
        .strip_prefix("utm_")
        .is_some_and(|suffix| UTM.contains(&suffix))
    {
        return true;
    }
    // `.+` is one or more characters other than a newline.
    if name
        .strip_prefix("WT.")
        .is_some_and(|tail| !tail.is_empty() && !tail.contains('\n'))
    {
        return true;
    }
    equals_ignore_case_python("x-amz-security-token", name)
}

/// Case-insensitive comparison with Python `re.IGNORECASE` semantics for an
/// ASCII `pattern`: besides the ASCII case pair, `i` also matches `İ`/`ı`,
/// `k` matches the Kelvin sign and `s` matches the long s.
fn equals_ignore_case_python(pattern: &str, text: &str) -> bool {
    let mut text_chars = text.chars();
    for p in pattern.chars() {
        let Some(t) = text_chars.next() else {
            return false;
        };
        let extra = match p {
            'i' => t == '\u{130}' || t == '\u{131}',
            'k' => t == '\u{212A}',
            's' => t == '\u{17F}',
            _ => false,
        };
        if !(t.eq_ignore_ascii_case(&p) || extra) {
            return false;
        }
    }
    text_chars.next().is_none()
}
