//! Percent-encoding primitives that behave like Python 3.11's
//! `urllib.parse.quote`, `quote_plus`, `unquote` and `unquote_plus`, which
//! `h/util/uri.py` uses to canonicalise path segments and query items.
//!
//! Python's `unquote` decodes `%XX` escapes (either hex case) to bytes,
//! leaves a `%` that is not followed by two hex digits as it is, and decodes
//! the resulting bytes as UTF-8 with invalid sequences replaced by U+FFFD.
//! Python only decodes runs of ASCII characters, but because a non-ASCII
//! character's UTF-8 form starts with a lead byte, decoding the whole string
//! at once with lossy UTF-8 yields exactly the same text.
//!
//! Python's `quote` encodes the text as UTF-8 and escapes every byte that is
//! not an ASCII letter, digit, one of `_.-~`, or listed as "safe", using
//! upper-case hex.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

/// Characters Python's `quote` never escapes, besides letters and digits.
const ALWAYS_SAFE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'_')
    .remove(b'.')
    .remove(b'-')
    .remove(b'~');

/// Bytes escaped in a path segment: h keeps the RFC 3986 `pchar` set,
/// i.e. `:@!$&'()*+,;=` on top of the always-safe characters.
pub(crate) const PATH_SEGMENT: &AsciiSet = &ALWAYS_SAFE
    .remove(b':')
    .remove(b'@')
    .remove(b'!')
    .remove(b'$')
    .remove(b'&')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')')
    .remove(b'*')
    .remove(b'+')
    .remove(b',')
    .remove(b';')
    .remove(b'=');

/// Bytes escaped in a query parameter name: `:@!$'()*,` are kept.
pub(crate) const QUERY_NAME: &AsciiSet = &ALWAYS_SAFE
    .remove(b':')
    .remove(b'@')
    .remove(b'!')
    .remove(b'$')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')')
    .remove(b'*')
    .remove(b',');

/// Bytes escaped in a query parameter value: as for names, but `=` is kept.
pub(crate) const QUERY_VALUE: &AsciiSet = &QUERY_NAME.remove(b'=');

/// Python `unquote(s)` with the default UTF-8 / `errors="replace"`.
pub(crate) fn unquote(s: &str) -> String {
    if !s.contains('%') {
        return s.to_owned();
    }
    percent_decode_str(s).decode_utf8_lossy().into_owned()
}

/// Python `unquote_plus(s)`: `+` becomes a space before decoding.
pub(crate) fn unquote_plus(s: &str) -> String {
    unquote(&s.replace('+', " "))
}

/// Python `quote(s, safe=...)` where `set` lists the bytes to escape.
pub(crate) fn quote(s: &str, set: &'static AsciiSet) -> String {
    utf8_percent_encode(s, set).to_string()
}

/// Python `quote_plus(s, safe=...)`: like [`quote`], but spaces become `+`.
pub(crate) fn quote_plus(s: &str, set: &'static AsciiSet) -> String {
    let mut out = String::with_capacity(s.len());
    for (i, piece) in s.split(' ').enumerate() {
        if i > 0 {
            out.push('+');
        }
        out.extend(utf8_percent_encode(piece, set));
    }
    out
}
