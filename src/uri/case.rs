//! Host lower-casing as Python 3.11's `str.lower()` does it, for
//! `normalize` in `h/util/uri.py`.
//!
//! Rust's `str::to_lowercase` uses full Unicode case mappings with the
//! final-sigma rule, like Python, but from a newer Unicode version. Python
//! 3.11 uses Unicode 14.0, where the code points below were unassigned and
//! so had no lower-case form; they are kept unchanged here. Such a code
//! point is neither cased nor case-ignorable in Unicode 14, so lower-casing
//! the text between them separately gives the same final-sigma results.

/// Code points (inclusive ranges) that newer Unicode versions lower-case
/// but that Unicode 14 left unassigned.
const FROZEN: [(char, char); 9] = [
    ('\u{1C89}', '\u{1C89}'),
    ('\u{A7CB}', '\u{A7CC}'),
    ('\u{A7CE}', '\u{A7CE}'),
    ('\u{A7D2}', '\u{A7D2}'),
    ('\u{A7D4}', '\u{A7D4}'),
    ('\u{A7DA}', '\u{A7DA}'),
    ('\u{A7DC}', '\u{A7DC}'),
    ('\u{10D50}', '\u{10D65}'),
    ('\u{16EA0}', '\u{16EB8}'),
];

fn is_frozen(c: char) -> bool {
    FROZEN.iter().any(|&(lo, hi)| (lo..=hi).contains(&c))
}

/// Python 3.11 `text.lower()`.
pub(crate) fn python_lower(text: &str) -> String {
    if text.is_ascii() {
        return text.to_ascii_lowercase();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find(is_frozen) {
        out.push_str(&rest[..pos].to_lowercase());
        let frozen_len = rest[pos..].chars().next().map_or(0, char::len_utf8);
        out.push_str(&rest[pos..pos + frozen_len]);
        rest = &rest[pos + frozen_len..];
    }
    out.push_str(&rest.to_lowercase());
    out
}
