//! A faithful re-implementation of the parts of Python 3.11's
//! `urllib.parse.urlsplit` (and its `SplitResult` netloc attributes) that
//! `normalize` in `h/util/uri.py` relies on. Python's rules differ from the
//! WHATWG URL parser, so the `url` crate cannot be used here.

use crate::uri::UriError;
use crate::uri::ipv6::is_valid_bracketed_host;

/// The pieces of a URI as Python's `urlsplit` finds them. The fragment is
/// not kept: h always drops it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SplitUri {
    /// Lower-cased scheme, or empty when there is none.
    pub(crate) scheme: String,
    pub(crate) netloc: String,
    pub(crate) path: String,
    pub(crate) query: String,
}

/// Characters allowed in a scheme (after a leading ASCII letter).
fn is_scheme_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')
}

/// Split `input` like `urlsplit(input)`, raising the same errors.
pub(crate) fn urlsplit(input: &str) -> Result<SplitUri, UriError> {
    // Leading C0 controls and spaces go; tabs and newlines go everywhere.
    let trimmed = input.trim_start_matches(|c: char| c <= ' ');
    let cleaned: String = trimmed
        .chars()
        .filter(|c| !matches!(c, '\t' | '\r' | '\n'))
        .collect();

    let mut scheme = String::new();
    let mut rest = cleaned.as_str();
    if let Some(colon) = rest.find(':') {
        let candidate = &rest[..colon];
        let starts_with_letter = candidate
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic());
        if starts_with_letter && candidate.chars().all(is_scheme_char) {
            scheme = candidate.to_ascii_lowercase();
            rest = &rest[colon + 1..];
        }
    }

    let mut netloc = "";
    if let Some(after_slashes) = rest.strip_prefix("//") {
        let end = after_slashes
            .find(['/', '?', '#'])
            .unwrap_or(after_slashes.len());
        netloc = &after_slashes[..end];
        rest = &after_slashes[end..];
        check_brackets(netloc)?;
    }

    if let Some((before, _fragment)) = rest.split_once('#') {
        rest = before;
    }
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    check_nfkc(netloc)?;

    Ok(SplitUri {
        scheme,
        netloc: netloc.to_owned(),
        path: path.to_owned(),
        query: query.to_owned(),
    })
}

/// `urlsplit`'s checks on `[` and `]` in the netloc.
fn check_brackets(netloc: &str) -> Result<(), UriError> {
    let open = netloc.contains('[');
    let close = netloc.contains(']');
    if open != close {
        return Err(UriError::UnbalancedBrackets(netloc.to_owned()));
    }
    if let Some((_, after_open)) = netloc.split_once('[') {
        let host = after_open.split_once(']').map_or(after_open, |(h, _)| h);
        if !is_valid_bracketed_host(host) {
            return Err(UriError::InvalidBracketedHost(host.to_owned()));
        }
    }
    Ok(())
}

/// Characters whose NFKC form (Unicode 14, as in Python 3.11) contains one
/// of `/ ? # @ :`. Python's `_checknetloc` rejects a non-ASCII netloc that
/// contains any of them, since IDNA processing would turn them into URL
/// delimiters.
const NFKC_DELIMITER_CHARS: [char; 19] = [
    '\u{2047}', '\u{2048}', '\u{2049}', '\u{2100}', '\u{2101}', '\u{2105}', '\u{2106}', '\u{2A74}',
    '\u{FE13}', '\u{FE16}', '\u{FE55}', '\u{FE56}', '\u{FE5F}', '\u{FE6B}', '\u{FF03}', '\u{FF0F}',
    '\u{FF1A}', '\u{FF1F}', '\u{FF20}',
];

/// `urlsplit`'s `_checknetloc`.
fn check_nfkc(netloc: &str) -> Result<(), UriError> {
    if netloc.is_ascii() {
        return Ok(());
    }
    match netloc.chars().find(|c| NFKC_DELIMITER_CHARS.contains(c)) {
        Some(_) => Err(UriError::InvalidNetlocCharacters(netloc.to_owned())),
        None => Ok(()),
    }
}

/// The netloc attributes of a Python `SplitResult`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NetlocParts<'a> {
    /// Everything before the last `@`, verbatim (`username[:password]`).
    pub(crate) userinfo: Option<&'a str>,
    /// The raw host text (not yet lower-cased); may be empty.
    pub(crate) host: &'a str,
    /// The raw port text; `None` when absent or empty.
    pub(crate) port: Option<&'a str>,
}

impl<'a> NetlocParts<'a> {
    /// Split a netloc the way `SplitResult._userinfo` / `_hostinfo` do.
    pub(crate) fn parse(netloc: &'a str) -> Self {
        let (userinfo, hostinfo) = match netloc.rsplit_once('@') {
            Some((user, host)) => (Some(user), host),
            None => (None, netloc),
        };
        let (host, port) = match hostinfo.split_once('[') {
            Some((_, bracketed)) => match bracketed.split_once(']') {
                Some((host, after)) => (host, after.split_once(':').map_or("", |(_, p)| p)),
                None => (bracketed, ""),
            },
            None => hostinfo.split_once(':').unwrap_or((hostinfo, "")),
        };
        NetlocParts {
            userinfo,
            host,
            port: (!port.is_empty()).then_some(port),
        }
    }

    /// `SplitResult.port`: ASCII decimal digits in `0..=65535`.
    pub(crate) fn port_number(&self) -> Result<Option<u16>, UriError> {
        let Some(text) = self.port else {
            return Ok(None);
        };
        if !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(UriError::InvalidPort(text.to_owned()));
        }
        let significant = text.trim_start_matches('0');
        if significant.is_empty() {
            return Ok(Some(0));
        }
        match significant.parse::<u16>() {
            Ok(port) if significant.len() <= 5 => Ok(Some(port)),
            _ => Err(UriError::PortOutOfRange(text.to_owned())),
        }
    }
}
