//! h's URI normaliser (`uri::normalize`, used for every annotation's target, document claims,
//! search and filters) and the version scopes the filter builds on it (`parse_uri_versions`,
//! `scope_key`). The corpus starts from the unit tests' vectors, which were checked against h.
//! Beyond "no panic", it checks properties that hold for every input h normalises:
#![no_main]

use libfuzzer_sys::fuzz_target;
use scholia::uri::{Version, normalize, parse_uri_versions, scope_key};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(normal) = normalize(text) else {
        return;
    };
    // Inputs that are not http(s) come back as given, an `httpx://` one included.
    if normal.starts_with("httpx://") && normal != text {
        // A normalised http(s) URI is a fixed point: normalising it again changes nothing
        // (its scheme is no longer http or https), so an index key never drifts.
        assert_eq!(normalize(&normal).as_deref(), Ok(normal.as_str()));
        // The fragment never reaches the key: the same URI with a fragment added, when it had
        // none, normalises the same.
        if !text.contains('#') {
            let with_fragment = format!("{text}#fragment");
            assert_eq!(
                normalize(&with_fragment).as_deref(),
                Ok(normal.as_str()),
                "fragment changed the key of {text:?}"
            );
        }
    } else {
        // Anything else is kept as given, less a Via proxy prefix around it.
        let unwrapped = text
            .strip_prefix("https://via.hypothes.is/")
            .unwrap_or(text);
        assert!(
            normal == text || normal == unwrapped,
            "{text:?} became {normal:?}"
        );
    }
    let (base, versions) = parse_uri_versions(text);
    if let Ok(base) = normalize(&base) {
        for v in versions {
            let n = match v {
                Version::Number(n) => i64::try_from(n).ok(),
                _ => None,
            };
            let key = scope_key(&base, n);
            assert!(key.starts_with(&base), "scope key must extend its base");
        }
    }
});
