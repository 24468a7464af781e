//! Unit tests for `crate::uri`, the port of h's `h/util/uri.py`.
//!
//! Test vectors come from h's `tests/unit/h/util/uri_test.py`, from the
//! realtime API spec (§4.5 and §4.6), and from extra edge cases whose
//! expected values were produced by running h's own `normalize` on
//! Python 3.11.

mod normalize_cases;

use crate::uri::{UriError, Version, normalize, parse_uri_versions, scope_key};
use normalize_cases::{EXTRA_NORMALIZE_CASES, H_NORMALIZE_CASES, SPEC_NORMALIZE_CASES};

/// Inputs for which h's `normalize` raises `ValueError` on Python 3.11.
fn error_cases() -> Vec<(&'static str, UriError)> {
    let s = |v: &str| v.to_owned();
    vec![
        ("http://example.com:abc/", UriError::InvalidPort(s("abc"))),
        ("http://example.com:-1", UriError::InvalidPort(s("-1"))),
        ("http://example.com:8 0", UriError::InvalidPort(s("8 0"))),
        ("http://example.com:٨٠", UriError::InvalidPort(s("٨٠"))),
        (
            "http://example.com:80:81",
            UriError::InvalidPort(s("80:81")),
        ),
        (
            "http://example.com:65536",
            UriError::PortOutOfRange(s("65536")),
        ),
        (
            "https://x:99999999999999999999999",
            UriError::PortOutOfRange(s("99999999999999999999999")),
        ),
        ("http://[::1", UriError::UnbalancedBrackets(s("[::1"))),
        ("http://::1]/", UriError::UnbalancedBrackets(s("::1]"))),
        ("ftp://[x/", UriError::UnbalancedBrackets(s("[x"))),
        (
            "http://[example.com]/",
            UriError::InvalidBracketedHost(s("example.com")),
        ),
        (
            "http://[1.2.3.4]/",
            UriError::InvalidBracketedHost(s("1.2.3.4")),
        ),
        ("http://[]/", UriError::InvalidBracketedHost(s(""))),
        (
            "http://[1::2::3]/",
            UriError::InvalidBracketedHost(s("1::2::3")),
        ),
        (
            "http://[fe80::1%]/",
            UriError::InvalidBracketedHost(s("fe80::1%")),
        ),
        ("http://[v.x]/", UriError::InvalidBracketedHost(s("v.x"))),
        (
            "http://exa\u{2100}mple.com/",
            UriError::InvalidNetlocCharacters(s("exa\u{2100}mple.com")),
        ),
    ]
}

fn check_table(table: &[(&str, &str)]) {
    for &(input, expected) in table {
        assert_eq!(
            normalize(input).as_deref(),
            Ok(expected),
            "normalize({input:?})"
        );
    }
}

#[test]
fn normalize_matches_h_unit_tests() {
    check_table(H_NORMALIZE_CASES);
}

#[test]
fn normalize_matches_spec_examples() {
    check_table(SPEC_NORMALIZE_CASES);
}

#[test]
fn normalize_matches_h_on_edge_cases() {
    check_table(EXTRA_NORMALIZE_CASES);
}

#[test]
fn normalize_rejects_what_h_rejects() {
    for (input, expected) in error_cases() {
        assert_eq!(normalize(input), Err(expected), "normalize({input:?})");
    }
}

/// `TestParseURIVersions` in h's `tests/unit/h/util/uri_test.py`, then the
/// table of spec §4.6, then extra cases checked against h.
fn version_cases() -> Vec<(&'static str, &'static str, Vec<Version>)> {
    use Version::{All, Number as N, Unversioned as V0};
    vec![
        ("http://example.com", "http://example.com", vec![]),
        ("http://example.com/page", "http://example.com/page", vec![]),
        ("http://example.com:v1", "http://example.com", vec![N(1)]),
        ("http://example.com:v5", "http://example.com", vec![N(5)]),
        (
            "http://example.com:v1:v2",
            "http://example.com",
            vec![N(1), N(2)],
        ),
        (
            "http://example.com:v0:v1:v2",
            "http://example.com",
            vec![V0, N(1), N(2)],
        ),
        ("http://example.com:v0", "http://example.com", vec![V0]),
        (
            "http://localhost:3000:v1",
            "http://localhost:3000",
            vec![N(1)],
        ),
        ("http://localhost:3000", "http://localhost:3000", vec![]),
        (
            "doi:10.1234/5678:v1:v2",
            "doi:10.1234/5678",
            vec![N(1), N(2)],
        ),
        ("http://example.com:all", "http://example.com", vec![All]),
        (
            "http://localhost:3000:all",
            "http://localhost:3000",
            vec![All],
        ),
        ("doi:10.1234/5678:all", "doi:10.1234/5678", vec![All]),
        (
            "http://example.com:notaversion:v1",
            "http://example.com:notaversion",
            vec![N(1)],
        ),
        // Spec §4.6 (rows not already above).
        ("1.1.1.1:v0:v1:v2", "1.1.1.1", vec![V0, N(1), N(2)]),
        ("doi:10.1234/5678:v1", "doi:10.1234/5678", vec![N(1)]),
        (
            "https://example.com/page:v2",
            "https://example.com/page",
            vec![N(2)],
        ),
        ("urn:x-pdf:all", "urn:x-pdf", vec![All]),
        // Extra cases checked against h.
        ("x:v01", "x", vec![N(1)]),
        ("x:V1", "x:V1", vec![]),
        ("x:v", "x:v", vec![]),
        ("v1", "v1", vec![]),
        (":v1", "", vec![N(1)]),
        ("v1:v2:all", "v1", vec![N(2), All]),
        ("x:v1:ALL", "x:v1:ALL", vec![]),
        ("x:v١٢", "x", vec![N(12)]),
        ("x:v3\n", "x", vec![N(3)]),
        ("x:v99999999999999999999999", "x", vec![N(u64::MAX)]),
        ("", "", vec![]),
    ]
}

#[test]
fn parse_uri_versions_matches_h() {
    for (value, base, versions) in version_cases() {
        assert_eq!(
            parse_uri_versions(value),
            (base.to_owned(), versions),
            "parse_uri_versions({value:?})"
        );
    }
}

#[test]
fn scope_key_matches_h_build_scope_key() {
    let cases: &[(&str, Option<i64>, &str)] = &[
        ("httpx://example.com", None, "httpx://example.com"),
        ("httpx://example.com", Some(0), "httpx://example.com"),
        ("httpx://example.com", Some(1), "httpx://example.com__v1"),
        ("httpx://example.com", Some(5), "httpx://example.com__v5"),
        (
            "httpx://example.com/path",
            Some(3),
            "httpx://example.com/path__v3",
        ),
        ("httpx://example.com", Some(-2), "httpx://example.com__v-2"),
    ];
    for &(uri, version, expected) in cases {
        assert_eq!(scope_key(uri, version), expected);
    }
}

/// Tiny deterministic generator (xorshift) of odd URI-like strings.
struct Weird(u64);

impl Weird {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        let len = items.len() as u64;
        items[usize::try_from(self.next() % len).unwrap_or(0)]
    }

    fn string(&mut self) -> String {
        const HEADS: &[&str] = &[
            "http://",
            "HTTPS://",
            "https://via.hypothes.is/http://",
            "ftp://",
            "//",
            "http:",
            " \t\u{0}http://",
            "urn:x:",
            "",
            "http://u:p@",
            "http://[",
            "http://[::1]",
        ];
        const ATOMS: &[&str] = &[
            "a",
            "EX.com",
            "/",
            "?",
            "#",
            "&",
            "=",
            "+",
            "%",
            "%2",
            "%zz",
            "%41",
            "%FF",
            "%C3",
            "%2520",
            ":",
            ":80",
            ":443",
            ":x",
            ":99999",
            "@",
            "[",
            "]",
            "::1",
            "v1.a",
            ";",
            ".",
            "\t",
            "\n",
            " ",
            "é",
            "Σ",
            "☃",
            "\u{2100}",
            "\u{FF1A}",
            "İ",
            "gclid",
            "utm_term",
            "WT.x",
            ":v1",
            ":all",
            "\u{10FFFF}",
            "\u{7F}",
        ];
        let mut s = self.pick(HEADS).to_owned();
        for _ in 0..self.next() % 12 {
            s.push_str(self.pick(ATOMS));
        }
        s
    }
}

#[test]
fn normalize_never_panics_and_is_idempotent() {
    let mut weird = Weird(0x9E37_79B9_7F4A_7C15);
    let mut successes = 0;
    for _ in 0..500 {
        let input = weird.string();
        let _ = parse_uri_versions(&input);
        if let Ok(once) = normalize(&input) {
            successes += 1;
            // h's normalize is idempotent (checked on Python over a million
            // generated inputs): "httpx" is not a scheme it rewrites.
            assert_eq!(
                normalize(&once).as_deref(),
                Ok(once.as_str()),
                "input {input:?}"
            );
        }
    }
    assert!(successes > 100, "generator produced too few valid URIs");
}
