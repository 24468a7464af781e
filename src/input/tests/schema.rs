//! JSON-schema error messages (vectors from h's
//! `tests/unit/h/schemas/annotation_test.py` `test_it_raises_for_invalid_data`).

use serde_json::{Value, json};

use super::{create_err, create_with_uri, update_err};
use crate::input::*;

#[test]
fn invalid_data_messages_match_h_for_create_and_update() {
    let long_href = format!("https://example.com?{}", "LONG".repeat(3000));
    let cases: Vec<(Value, String)> = vec![
        (
            json!({"document": false}),
            "document: False is not of type 'object'".into(),
        ),
        (
            json!({"document": {"dc": false}}),
            "document.dc: False is not of type 'object'".into(),
        ),
        (
            json!({"document": {"dc": {"identifier": false}}}),
            "document.dc.identifier: False is not of type 'array'".into(),
        ),
        (
            json!({"document": {"dc": {"identifier": [false]}}}),
            "document.dc.identifier.0: False is not of type 'string'".into(),
        ),
        (
            json!({"document": {"highwire": false}}),
            "document.highwire: False is not of type 'object'".into(),
        ),
        (
            json!({"document": {"highwire": {"doi": false}}}),
            "document.highwire.doi: False is not of type 'array'".into(),
        ),
        (
            json!({"document": {"highwire": {"doi": [false]}}}),
            "document.highwire.doi.0: False is not of type 'string'".into(),
        ),
        (
            json!({"document": {"highwire": {"pdf_url": false}}}),
            "document.highwire.pdf_url: False is not of type 'array'".into(),
        ),
        (
            json!({"document": {"highwire": {"pdf_url": [false]}}}),
            "document.highwire.pdf_url.0: False is not of type 'string'".into(),
        ),
        (
            json!({"document": {"link": false}}),
            "document.link: False is not of type 'array'".into(),
        ),
        (
            json!({"document": {"link": [false]}}),
            "document.link.0: False is not of type 'object'".into(),
        ),
        (
            json!({"document": {"link": [{}]}}),
            "document.link.0: 'href' is a required property".into(),
        ),
        (
            json!({"document": {"link": [{"href": false}]}}),
            "document.link.0.href: False is not of type 'string'".into(),
        ),
        (
            json!({"document": {"link": [{"href": long_href}]}}),
            format!("document.link.0.href: '{long_href}' is too long"),
        ),
        (
            json!({"document": {"link": [{"href": "http://example.com", "type": false}]}}),
            "document.link.0.type: False is not of type 'string'".into(),
        ),
        (
            json!({"group": false}),
            "group: False is not of type 'string'".into(),
        ),
        (
            json!({"permissions": false}),
            "permissions: False is not of type 'object'".into(),
        ),
        (
            json!({"permissions": {}}),
            "permissions: 'read' is a required property".into(),
        ),
        (
            json!({"permissions": {"read": false}}),
            "permissions.read: False is not of type 'array'".into(),
        ),
        (
            json!({"permissions": {"read": [false]}}),
            "permissions.read.0: False is not of type 'string'".into(),
        ),
        (
            json!({"permissions": {"read": ["foo"]}}),
            "permissions.read.0: 'foo' does not match '^(acct:|group:).+$'".into(),
        ),
        (
            json!({"references": false}),
            "references: False is not of type 'array'".into(),
        ),
        (
            json!({"references": [false]}),
            "references.0: False is not of type 'string'".into(),
        ),
        (
            json!({"tags": ["tag".repeat(1000)]}),
            format!("tags.0: '{}' is too long", "tag".repeat(1000)),
        ),
        (
            json!({"tags": false}),
            "tags: False is not of type 'array'".into(),
        ),
        (
            json!({"tags": [false]}),
            "tags.0: False is not of type 'string'".into(),
        ),
        (
            json!({"tags": [5]}),
            "tags.0: 5 is not of type 'string'".into(),
        ),
        (
            json!({"target": false}),
            "target: False is not of type 'array'".into(),
        ),
        (
            json!({"target": [false]}),
            "target.0: False is not of type 'object'".into(),
        ),
        (
            json!({"target": [{"selector": false}]}),
            "target.0.selector: False is not of type 'array'".into(),
        ),
        (
            json!({"target": [{"selector": {"type": "foo"}}]}),
            "target.0.selector: {'type': 'foo'} is not of type 'array'".into(),
        ),
        (
            json!({"target": [{"selector": [false]}]}),
            "target.0.selector.0: False is not of type 'object'".into(),
        ),
        (
            json!({"target": [{"selector": [{}]}]}),
            "target.0.selector.0: 'type' is a required property".into(),
        ),
        (
            json!({"target": [{"selector": [{"type": false}]}]}),
            "target.0.selector.0.type: False is not of type 'string'".into(),
        ),
        (
            json!({"target": [{"description": 42}]}),
            "target.0.description: 42 is not of type 'string'".into(),
        ),
        (
            json!({"target": [{"description": "a".repeat(5001)}]}),
            format!("target.0.description: '{}' is too long", "a".repeat(5001)),
        ),
        (
            json!({"text": false}),
            "text: False is not of type 'string'".into(),
        ),
        (
            json!({"uri": false}),
            "uri: False is not of type 'string'".into(),
        ),
        (
            json!({"uri": ""}),
            "uri: 'uri' is a required property".into(),
        ),
        (
            json!({"uri": " "}),
            "uri: 'uri' is a required property".into(),
        ),
        (
            json!({"metadata": []}),
            "metadata: [] is not of type 'object'".into(),
        ),
        (
            json!({"document": {"version": -1}}),
            "document.version: -1 is less than the minimum of 0".into(),
        ),
        (
            json!({"document": {"version": "1"}}),
            "document.version: '1' is not of type 'integer'".into(),
        ),
        (
            json!({"document": {"version": true}}),
            "document.version: True is not of type 'integer'".into(),
        ),
        (
            json!({"document": {"version": null}}),
            "document.version: None is not of type 'integer'".into(),
        ),
        (
            json!({"document": {"version": 1.0}}),
            "document.version: 1.0 is not of type 'integer'".into(),
        ),
    ];
    for (body, expected) in cases {
        let created = create_with_uri(body.clone())
            .map(|_| ())
            .expect_err("create must fail");
        assert_eq!(created.0, expected, "create {body}");
        assert_eq!(update_err(body.clone()), expected, "update {body}");
    }
}

#[test]
fn boundary_lengths_are_accepted() {
    let body = json!({
        "tags": ["x".repeat(1000), "é".repeat(1000)],
        "target": [{"description": "d".repeat(5000)}],
        "document": {"link": [{"href": "h".repeat(3000)}]},
    });
    assert!(create_with_uri(body).is_ok());
}

#[test]
fn float_below_minimum_reports_type_and_minimum() {
    assert_eq!(
        create_err(json!({"uri": "u", "document": {"version": -1.5}})),
        "document.version: -1.5 is not of type 'integer', document.version: -1.5 is less than the minimum of 0"
    );
}

#[test]
fn several_errors_follow_schema_property_order() {
    let body = json!({"uri": 5, "tags": [5], "text": null, "references": [1], "group": 1,
                      "document": {"version": -1, "dc": 1}});
    assert_eq!(
        create_err(body),
        "document.dc: 1 is not of type 'object', document.version: -1 is less than the minimum of 0, \
         group: 1 is not of type 'string', tags.0: 5 is not of type 'string', \
         references.0: 1 is not of type 'string', text: None is not of type 'string', \
         uri: 5 is not of type 'string'"
    );
}

#[test]
fn permission_keys_follow_body_order_and_required_comes_last() {
    let body = json!({"uri": "u", "permissions": {"update": ["x"], "admin": [1], "other": [1]}});
    assert_eq!(
        create_err(body),
        "permissions.update.0: 'x' does not match '^(acct:|group:).+$', \
         permissions.admin.0: 1 is not of type 'string', permissions: 'read' is a required property"
    );
}

#[test]
fn permission_pattern_follows_python_re_semantics() {
    assert!(permission_matches("acct:foo@example.com"));
    assert!(permission_matches("group:__world__"));
    assert!(permission_matches("acct:x\n"));
    assert!(!permission_matches("acct:"));
    assert!(!permission_matches("acct:\n"));
    assert!(!permission_matches("acct:a\nb"));
    assert!(!permission_matches("acct:a\n\n"));
    assert!(!permission_matches(" acct:a"));
    assert!(!permission_matches("user:a"));
}

#[test]
fn non_object_body_is_a_type_error_without_path() {
    assert_eq!(
        create_err(json!([1, "a"])),
        "[1, 'a'] is not of type 'object'"
    );
    assert_eq!(create_err(json!("x")), "'x' is not of type 'object'");
    assert_eq!(create_err(json!(null)), "None is not of type 'object'");
    assert_eq!(update_err(json!(3.5)), "3.5 is not of type 'object'");
}

#[test]
fn permission_keys_match_with_python_dollar_semantics() {
    // re.search("^(admin|delete|read|update)$", "read\n") matches in Python.
    let body = json!({"uri": "u", "permissions": {"read\n": [1], "read": []}});
    assert_eq!(
        create_err(body),
        "permissions.read\n.0: 1 is not of type 'string'"
    );
}
