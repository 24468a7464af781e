//! URI normalisation and version scope keys, re-implementing h's
//! `h/util/uri.py` (`normalize`, `parse_uri_versions`, `build_scope_key`).
//!
//! h's normalisation is built on Python 3.11's `urllib.parse`; the
//! submodules reproduce the exact pieces of it that matter here, because
//! stored `uri_normalized` values, search and the streamer must all agree
//! byte for byte with h.
//!
//! * `split`: `urlsplit` and the netloc attributes of its result.
//! * `ipv6`: the bracketed-host check `urlsplit` performs.
//! * `case`: `str.lower()` for the host.
//! * `encoding`: `quote`, `quote_plus`, `unquote`, `unquote_plus`.
//! * `query`: `parse_qsl`, sorting and the tracking-parameter blacklist.
//! * `versions`: `:v1`/`:all` suffixes and `__v<N>` scope keys.

mod case;
mod encoding;
mod ipv6;
mod query;
mod split;
mod versions;

#[cfg(test)]
mod tests;

pub use versions::{Version, parse_uri_versions, scope_key};

use encoding::{PATH_SEGMENT, quote, unquote};
use split::{NetlocParts, urlsplit};

/// Error for URIs h cannot normalise (its `normalize` raises `ValueError`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UriError {
    /// The port is not made of ASCII decimal digits.
    #[error("port could not be cast to an integer: {0:?}")]
    InvalidPort(String),
    /// The port is a number above 65535.
    #[error("port out of range 0-65535: {0:?}")]
    PortOutOfRange(String),
    /// The netloc has `[` without `]` or the other way round.
    #[error("invalid IPv6 URL: unbalanced brackets in netloc {0:?}")]
    UnbalancedBrackets(String),
    /// The text inside `[...]` is neither an IPv6 address nor an IPvFuture
    /// literal (an IPv4 address in brackets is rejected too).
    #[error("invalid bracketed host {0:?}")]
    InvalidBracketedHost(String),
    /// A non-ASCII netloc holds a character that NFKC maps to `/?#@:`.
    #[error("netloc {0:?} contains invalid characters under NFKC normalization")]
    InvalidNetlocCharacters(String),
}

/// Prefix added by the Via proxy form.
const VIA_PREFIX: &str = "https://via.hypothes.is/";

/// h's `normalize`: the canonical form used for `uri_normalized`, search
/// and streamer `/uri` filters.
///
/// Non-HTTP(S) URIs and HTTP(S) URIs without a host come back unchanged
/// (after removal of a Via prefix). Otherwise the result is
/// `httpx://<netloc><path>[?<query>]` with the host lower-cased, default
/// ports dropped, trailing slashes removed, percent-encoding made canonical,
/// query parameters sorted and filtered, and the fragment dropped.
pub fn normalize(uri: &str) -> Result<String, UriError> {
    let uri = strip_via_prefix(uri);
    let parts = urlsplit(uri)?;
    if parts.scheme != "http" && parts.scheme != "https" {
        return Ok(uri.to_owned());
    }
    let netloc = NetlocParts::parse(&parts.netloc);
    if netloc.host.is_empty() {
        return Ok(uri.to_owned());
    }

    let mut out = String::with_capacity(uri.len() + 1);
    out.push_str("httpx://");
    out.push_str(&normalize_netloc(&parts.netloc, &netloc, &parts.scheme)?);
    out.push_str(&normalize_path(&parts.path));
    let query = query::normalize_query(&parts.query);
    if !query.is_empty() {
        out.push('?');
        out.push_str(&query);
    }
    Ok(out)
}

/// Drop the Via prefix when it wraps an `http:` or `https:` URI.
fn strip_via_prefix(uri: &str) -> &str {
    match uri.strip_prefix(VIA_PREFIX) {
        Some(inner) if inner.starts_with("http:") || inner.starts_with("https:") => inner,
        _ => uri,
    }
}

/// Rebuild the netloc: userinfo verbatim, host lower-cased, default port
/// (for the original scheme) removed.
fn normalize_netloc(raw: &str, parts: &NetlocParts<'_>, scheme: &str) -> Result<String, UriError> {
    let port = match (scheme, parts.port_number()?) {
        ("http", Some(80)) | ("https", Some(443)) => None,
        (_, port) => port,
    };
    let host = case::python_lower(parts.host);
    let mut out = String::with_capacity(raw.len());
    if let Some(userinfo) = parts.userinfo {
        out.push_str(userinfo);
        out.push('@');
    }
    // h re-adds brackets whenever the whole netloc (userinfo included)
    // contains both `[` and `]`.
    if raw.contains('[') && raw.contains(']') {
        out.push('[');
        out.push_str(&host);
        out.push(']');
    } else {
        out.push_str(&host);
    }
    if let Some(port) = port {
        out.push(':');
        out.push_str(&port.to_string());
    }
    Ok(out)
}

/// Strip all trailing `/`, then re-encode each segment canonically.
/// Dot segments and empty segments are left alone.
fn normalize_path(path: &str) -> String {
    path.trim_end_matches('/')
        .split('/')
        .map(|segment| quote(&unquote(segment), PATH_SEGMENT))
        .collect::<Vec<_>>()
        .join("/")
}
