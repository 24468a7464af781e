use serde_json::{Value, json};

use super::{FilterError, FilterLimits, Key, compile, event_keys};

fn filter(clauses: Value) -> Value {
    json!({"match_policy": "include_any", "clauses": clauses, "actions": {}})
}

fn keys(clauses: Value) -> Vec<Key> {
    compile(&filter(clauses), FilterLimits::default()).expect("compiles")
}

fn uri(s: &str) -> Key {
    Key::Uri(s.to_owned())
}

#[test]
fn schema_failures_use_hs_description() {
    for bad in [
        json!({"wibble": "giraffe"}),
        json!({"match_policy": "include_all", "clauses": [], "actions": {}}),
        json!({"match_policy": "include_any", "clauses": []}),
        json!({"match_policy": "include_any", "clauses": {}, "actions": {}}),
        json!([1, 2]),
    ] {
        let err = compile(&bad, FilterLimits::default()).unwrap_err();
        assert_eq!(err, FilterError::Schema);
        assert_eq!(err.to_string(), "failed to parse filter");
    }
}

#[test]
fn actions_may_be_any_value() {
    let f = json!({"match_policy": "include_any", "clauses": [], "actions": null});
    assert_eq!(compile(&f, FilterLimits::default()), Ok(vec![]));
}

#[test]
fn uri_values_are_normalised() {
    assert_eq!(
        keys(
            json!([{"field": "/uri", "operator": "one_of", "value": ["http://example.com", "https://example.org/"]}])
        ),
        vec![uri("httpx://example.com"), uri("httpx://example.org")]
    );
}

#[test]
fn versions_become_scope_keys() {
    assert_eq!(
        keys(json!([{"field": "/uri", "value": "http://example.com:v1:v2"}])),
        vec![
            uri("httpx://example.com__v1"),
            uri("httpx://example.com__v2")
        ]
    );
    assert_eq!(
        keys(json!([{"field": "/uri", "value": "http://example.com:v0:v3"}])),
        vec![uri("httpx://example.com"), uri("httpx://example.com__v3")]
    );
    assert_eq!(
        keys(json!([{"field": "/uri", "value": "http://example.com:all"}])),
        vec![Key::UriAllVersions("httpx://example.com".into())]
    );
}

#[test]
fn unknown_fields_are_skipped_without_reading_value() {
    assert_eq!(
        keys(
            json!([{"field": "/random"}, {"field": 5, "value": 1}, {"field": "/id", "value": "a"}])
        ),
        vec![Key::Id("a".into())]
    );
}

#[test]
fn operator_is_ignored_and_duplicates_collapse() {
    assert_eq!(
        keys(json!([{"field": "/group", "operator": "equals", "value": ["g", "g", "h"]}])),
        vec![Key::Group("g".into()), Key::Group("h".into())]
    );
}

#[test]
fn non_string_scalars_match_nothing() {
    assert_eq!(
        keys(json!([{"field": "/id", "value": [1, true, null]}])),
        vec![]
    );
}

#[test]
fn what_crashed_h_is_refused_with_a_reason() {
    let cases = [
        (json!(["not an object"]), "clauses[0]: not an object"),
        (json!([{"value": "x"}]), "clauses[0]: \"field\" is missing"),
        (
            json!([{"field": "/id"}]),
            "clauses[0]: \"value\" is missing",
        ),
        (
            json!([{"field": "/uri", "value": 5}]),
            "a /uri value must be a string",
        ),
        (
            json!([{"field": "/references", "value": {"a": 1}}]),
            "values must be strings",
        ),
        (
            json!([{"field": "/id", "value": [["a"]]}]),
            "values must be strings",
        ),
        (
            json!([{"field": "/uri", "value": "http://example.com:abc/"}]),
            "invalid URI",
        ),
    ];
    for (clauses, expected) in cases {
        let err = compile(&filter(clauses.clone()), FilterLimits::default()).unwrap_err();
        assert!(
            err.to_string().contains(expected),
            "{clauses}: {err} should mention {expected}"
        );
    }
}

#[test]
fn limits_are_enforced() {
    let limits = FilterLimits {
        max_clauses: 2,
        max_values: 3,
    };
    let three = json!([{"field": "/id", "value": "a"}, {"field": "/id", "value": "b"}, {"field": "/id", "value": "c"}]);
    assert!(matches!(
        compile(&filter(three), limits),
        Err(FilterError::TooLarge(_))
    ));
    let many = json!([{"field": "/id", "value": ["a", "b", "c", "d"]}]);
    assert!(matches!(
        compile(&filter(many), limits),
        Err(FilterError::TooLarge(_))
    ));
    let ok = json!([{"field": "/id", "value": ["a", "b", "c"]}]);
    assert_eq!(compile(&filter(ok), limits).unwrap().len(), 3);
}

#[test]
fn event_keys_cover_versions_and_all() {
    let k = event_keys(
        "id1",
        "g",
        &["root".into(), "parent".into()],
        &["httpx://example.com".into(), "urn:x-pdf:1".into()],
        Some(3),
    );
    for expected in [
        Key::Id("id1".into()),
        Key::Group("g".into()),
        Key::Reference("root".into()),
        Key::Reference("parent".into()),
        uri("httpx://example.com__v3"),
        uri("urn:x-pdf:1__v3"),
        Key::UriAllVersions("httpx://example.com".into()),
    ] {
        assert!(k.contains(&expected), "{expected:?} missing from {k:?}");
    }
    assert!(!k.contains(&uri("httpx://example.com")));
    let unversioned = event_keys("i", "g", &[], &["httpx://a".into()], None);
    assert!(unversioned.contains(&uri("httpx://a")));
    assert!(unversioned.contains(&Key::UriAllVersions("httpx://a".into())));
}
