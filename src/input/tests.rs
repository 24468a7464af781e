//! Vectors largely from h's `tests/unit/h/schemas/annotation_test.py` and
//! `tests/unit/h/util/document_claims_test.py`.

use serde_json::{Value, json};

use crate::input::*;

fn create_err(body: Value) -> String {
    parse_create(&body)
        .expect_err("expected a validation error")
        .0
}

fn update_err(body: Value) -> String {
    parse_update(&body)
        .expect_err("expected a validation error")
        .0
}

/// Create with a default uri added, as h's tests do.
fn create_with_uri(mut body: Value) -> Result<CreateAnnotation, ValidationError> {
    if let Some(m) = body.as_object_mut() {
        m.entry("uri")
            .or_insert(json!("http://example.com/example"));
    }
    parse_create(&body)
}

#[test]
fn create_requires_uri() {
    assert_eq!(create_err(json!({})), "uri: 'uri' is a required property");
    assert_eq!(
        create_err(json!({"uri": "\t\n\u{1c}"})),
        "uri: 'uri' is a required property"
    );
    // Schema errors win over the missing uri.
    assert_eq!(
        create_err(json!({"text": 1})),
        "text: 1 is not of type 'string'"
    );
}

#[test]
fn create_trims_uri_and_applies_defaults() {
    let c = parse_create(&json!({"uri": " foo "})).unwrap();
    assert_eq!(c.uri, "foo");
    assert_eq!(c.text, "");
    assert!(c.tags.is_empty() && c.references.is_empty());
    assert_eq!(c.group, "__world__");
    assert!(!c.group_given && !c.document_given);
    assert!(c.permissions.is_none() && c.target.is_none() && c.metadata.is_none());
    assert!(!c.shared());
    // The self-claim is recorded even without a document key.
    let doc = c.document.unwrap();
    assert_eq!(doc.uris, vec![claim("foo", "self-claim", "")]);
    assert!(!doc.version_given && doc.version.is_none());
}

#[test]
fn create_keeps_fields() {
    let c = parse_create(&json!({
        "uri": "http://example.com", "text": "t", "tags": ["a", "b"], "group": "g1",
        "references": ["p1", "p2"], "metadata": {"lms": 1},
        "permissions": {"read": ["group:g1"], "admin": ["acct:a@b"]}
    }))
    .unwrap();
    assert_eq!(
        (c.text.as_str(), c.group.as_str(), c.group_given),
        ("t", "g1", true)
    );
    assert_eq!(c.tags, vec!["a", "b"]);
    assert_eq!(c.references, vec!["p1", "p2"]);
    assert_eq!(c.metadata, Some(json!({"lms": 1})));
    let p = c.permissions.as_ref().unwrap();
    assert_eq!(p.read, vec!["group:g1"]);
    assert_eq!(p.admin, Some(vec!["acct:a@b".to_string()]));
    assert!(p.update.is_none() && p.delete.is_none());
    assert!(c.shared());
    assert!(c.extra.is_empty());
}

#[test]
fn shared_rule() {
    let perms = |read: &[&str]| PermissionsInput {
        read: read.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    };
    assert!(is_shared(Some(&perms(&["group:__world__"])), "__world__"));
    assert!(!is_shared(
        Some(&perms(&["acct:harriet@example.com"])),
        "__world__"
    ));
    assert!(!is_shared(
        Some(&perms(&["group:__world__", "acct:a@b"])),
        "__world__"
    ));
    assert!(!is_shared(Some(&perms(&["group:other"])), "__world__"));
    assert!(!is_shared(Some(&perms(&[])), "__world__"));
    assert!(!is_shared(None, "__world__"));
}

#[test]
fn protected_fields_are_dropped_and_the_rest_goes_to_extra() {
    let body = json!({
        "created": "c", "updated": "u", "user": "u", "id": "i", "uri": "uri", "text": "t",
        "tags": ["gar", "har"], "permissions": {"read": ["group:__world__"]}, "target": [],
        "group": "__world__", "references": ["parent"], "flagged": true, "links": {},
        "hidden": true, "moderation": {}, "user_info": {}, "metadata": {"a": 1},
        "foo": 1, "bar": 2,
    });
    let c = parse_create(&body).unwrap();
    assert_eq!(Value::Object(c.extra), json!({"foo": 1, "bar": 2}));
    let u = parse_update(&body).unwrap();
    assert_eq!(Value::Object(u.extra), json!({"foo": 1, "bar": 2}));
}

#[test]
fn create_keeps_userid_and_groupid_in_extra_but_update_drops_them() {
    let body = json!({"uri": "u", "userid": "acct:x@y", "groupid": "g"});
    let c = parse_create(&body).unwrap();
    assert_eq!(
        Value::Object(c.extra),
        json!({"userid": "acct:x@y", "groupid": "g"})
    );
    let u = parse_update(&body).unwrap();
    assert!(u.extra.is_empty());
}

#[test]
fn update_fields_are_optional_and_ignored_ones_are_dropped() {
    let u = parse_update(&json!({})).unwrap();
    assert!(u.uri.is_none() && u.text.is_none() && u.tags.is_none() && u.document.is_none());
    assert!(u.permissions.is_none() && u.target.is_none() && u.metadata.is_none());
    let u = parse_update(
        &json!({"group": "g", "references": ["x"], "uri": " v ", "text": "t", "tags": []}),
    )
    .unwrap();
    assert_eq!(u.uri.as_deref(), Some("v"));
    assert_eq!(u.text.as_deref(), Some("t"));
    assert_eq!(u.tags, Some(vec![]));
    assert!(u.extra.is_empty());
}

#[test]
fn update_blank_uri_is_rejected() {
    assert_eq!(
        update_err(json!({"uri": "  "})),
        "uri: 'uri' is a required property"
    );
}

#[test]
fn update_document_claimant_is_new_uri_or_existing_target() {
    let body = json!({"document": {"title": "T"}});
    let u = parse_update_for(&body, "http://old").unwrap();
    let doc = u.document.clone().unwrap();
    assert_eq!(doc.uris, vec![claim("http://old", "self-claim", "")]);
    assert_eq!(doc.title.as_deref(), Some("T"));
    assert_eq!(u.document_for("http://old"), Some(doc));
    let u = parse_update_for(&json!({"uri": "http://new", "document": {}}), "http://old").unwrap();
    assert_eq!(
        u.document.unwrap().uris,
        vec![claim("http://new", "self-claim", "")]
    );
    assert!(
        parse_update(&body)
            .unwrap()
            .document
            .unwrap()
            .uris
            .is_empty()
    );
}

#[test]
fn target_uses_only_the_first_entry() {
    let c = create_with_uri(json!({"target": [
        {"foo": "bar", "selector": [{"type": "FooSelector"}, {"type": "BarSelector"}]},
        {"selector": [{"type": "BazSelector"}]},
    ]}))
    .unwrap();
    let t = c.target.unwrap();
    assert_eq!(
        t.selectors,
        vec![
            json!({"type": "FooSelector"}),
            json!({"type": "BarSelector"})
        ]
    );
    assert_eq!(t.description, None);
    let t = create_with_uri(json!({"target": [{"description": "test_description"}]}))
        .unwrap()
        .target
        .unwrap();
    assert_eq!(t.description.as_deref(), Some("test_description"));
    assert!(t.selectors.is_empty());
    let t = parse_update(&json!({"target": []}))
        .unwrap()
        .target
        .unwrap();
    assert_eq!(
        t,
        TargetInput {
            description: None,
            selectors: vec![]
        }
    );
}

#[test]
fn lone_surrogates_never_reach_the_parser_output() {
    // h rejects "\ud835" in prefix/suffix with "prefix: 'prefix' must be valid
    // unicode"; serde_json refuses such JSON outright.
    assert!(serde_json::from_str::<Value>(r#"{"prefix": "Invalid \ud835"}"#).is_err());
}

fn claim(uri: &str, ty: &str, content_type: &str) -> DocumentUriClaim {
    DocumentUriClaim {
        uri: uri.into(),
        r#type: ty.into(),
        content_type: content_type.into(),
    }
}

mod document;
mod schema;
