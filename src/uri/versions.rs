//! Version suffixes on `/uri` filter and search values, and the scope keys
//! built from them: `parse_uri_versions` and `build_scope_key` in
//! `h/util/uri.py`.

/// A version in a filter/search value suffix.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Version {
    /// `v0`: the unversioned document (h's `None`).
    Unversioned,
    /// `v<N>` with `N >= 1`. Numbers beyond `u64::MAX` saturate (h keeps a
    /// big integer; either way the key can never match an annotation).
    Number(u64),
    /// The `all` keyword.
    All,
}

/// Split `"http://x:v1:v2"` into its base and its versions.
///
/// The value is split on `:`. While more than one part is left, a last part
/// of `all` or `v<digits>` is taken off as a version. Versions are returned
/// in left-to-right order; an empty list means none were given. The base is
/// what remains, re-joined with `:`. This runs on the raw value, before the
/// base is normalised.
pub fn parse_uri_versions(value: &str) -> (String, Vec<Version>) {
    let mut parts: Vec<&str> = value.split(':').collect();
    let mut versions = Vec::new();
    while parts.len() > 1 {
        let Some(version) = parts.last().and_then(|last| parse_version(last)) else {
            break;
        };
        versions.push(version);
        parts.pop();
    }
    versions.reverse();
    (parts.join(":"), versions)
}

/// One suffix part: `all`, or a match of Python's `^v(\d+)$`.
fn parse_version(part: &str) -> Option<Version> {
    if part == "all" {
        return Some(Version::All);
    }
    let digits = part.strip_prefix('v')?;
    // Python's `$` also matches before one final newline.
    let digits = digits.strip_suffix('\n').unwrap_or(digits);
    if digits.is_empty() {
        return None;
    }
    let mut number: u64 = 0;
    for c in digits.chars() {
        let digit = decimal_digit_value(c)?;
        number = number.saturating_mul(10).saturating_add(u64::from(digit));
    }
    Some(if number == 0 {
        Version::Unversioned
    } else {
        Version::Number(number)
    })
}

/// First code points of the Unicode 14 `Nd` runs (each run is the digits
/// 0–9 in order). Python's `\d` and `int()` accept all of them.
const DECIMAL_DIGIT_ZEROS: [u32; 66] = [
    0x30, 0x660, 0x6f0, 0x7c0, 0x966, 0x9e6, 0xa66, 0xae6, 0xb66, 0xbe6, 0xc66, 0xce6, 0xd66,
    0xde6, 0xe50, 0xed0, 0xf20, 0x1040, 0x1090, 0x17e0, 0x1810, 0x1946, 0x19d0, 0x1a80, 0x1a90,
    0x1b50, 0x1bb0, 0x1c40, 0x1c50, 0xa620, 0xa8d0, 0xa900, 0xa9d0, 0xa9f0, 0xaa50, 0xabf0, 0xff10,
    0x104a0, 0x10d30, 0x11066, 0x110f0, 0x11136, 0x111d0, 0x112f0, 0x11450, 0x114d0, 0x11650,
    0x116c0, 0x11730, 0x118e0, 0x11950, 0x11c50, 0x11d50, 0x11da0, 0x16a60, 0x16ac0, 0x16b50,
    0x1d7ce, 0x1d7d8, 0x1d7e2, 0x1d7ec, 0x1d7f6, 0x1e140, 0x1e2f0, 0x1e950, 0x1fbf0,
];

/// The value of a Unicode decimal digit (category `Nd`), if `c` is one.
fn decimal_digit_value(c: char) -> Option<u32> {
    let cp = u32::from(c);
    DECIMAL_DIGIT_ZEROS
        .iter()
        .find(|&&zero| (zero..zero + 10).contains(&cp))
        .map(|&zero| cp - zero)
}

/// The scope key for a normalised URI and an annotation version.
///
/// No version or version 0 gives the URI unchanged; any other version `n`
/// gives `"{uri}__v{n}"`. (h tests truthiness, so a negative version is
/// suffixed too.)
pub fn scope_key(normalized: &str, version: Option<i64>) -> String {
    match version {
        None | Some(0) => normalized.to_owned(),
        Some(n) => format!("{normalized}__v{n}"),
    }
}
