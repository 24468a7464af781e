use serde_json::json;

use super::*;
use crate::domain::{GroupType, ModerationStatus};

fn site() -> Site {
    Site {
        public_url: "https://h.example".into(),
        authority: "h.example".into(),
    }
}

fn ann() -> Annotation {
    Annotation {
        id: "Jz2Gp1V1Ee-3qZ9dFYdPVw".into(),
        created: 1_777_629_600_123_456,
        updated: 1_777_629_600_123_456,
        userid: "acct:alice@h.example".into(),
        groupid: "__world__".into(),
        target_uri: "https://example.com/article".into(),
        target_uri_normalized: "httpx://example.com/article".into(),
        text: "Nice".into(),
        tags: vec!["x".into()],
        shared: true,
        references: vec![],
        target_selectors: vec![json!({"type": "TextQuoteSelector", "exact": "foo"})],
        target_description: None,
        document_id: Some(1),
        extra: serde_json::from_value(json!({"id": "spoofed", "custom": 1})).unwrap(),
        metadata: None,
        moderation_status: None,
        version: None,
        deleted: false,
    }
}

fn world() -> Group {
    Group {
        id: 1,
        pubid: "__world__".into(),
        authority: "h.example".into(),
        authority_provided_id: None,
        name: "Public".into(),
        description: None,
        group_type: GroupType::Open,
        pre_moderated: false,
    }
}

fn related() -> Related {
    Related {
        author: Some(Author {
            display_name: Some("Alice".into()),
        }),
        document_title: Some("Article".into()),
        group: Some(world()),
        flag_count: 2,
    }
}

#[test]
fn renders_the_spec_example_for_an_ordinary_reader() {
    let v = render(&site(), &ann(), &related(), ViewerFacts::default());
    assert_eq!(
        v,
        json!({
            "id": "Jz2Gp1V1Ee-3qZ9dFYdPVw", "custom": 1,
            "created": "2026-05-01T10:00:00.123456+00:00",
            "updated": "2026-05-01T10:00:00.123456+00:00",
            "user": "acct:alice@h.example", "uri": "https://example.com/article",
            "text": "Nice", "tags": ["x"], "group": "__world__",
            "moderation_status": "APPROVED",
            "permissions": {"read": ["group:__world__"], "admin": ["acct:alice@h.example"],
                            "update": ["acct:alice@h.example"], "delete": ["acct:alice@h.example"]},
            "target": [{"source": "https://example.com/article",
                        "selector": [{"type": "TextQuoteSelector", "exact": "foo"}]}],
            "document": {"title": ["Article"]},
            "links": {"html": "https://h.example/a/Jz2Gp1V1Ee-3qZ9dFYdPVw",
                      "json": "https://h.example/api/annotations/Jz2Gp1V1Ee-3qZ9dFYdPVw"},
            "actions": [], "mentions": [], "user_info": {"display_name": "Alice"},
            "flagged": false, "hidden": false
        })
    );
}

#[test]
fn private_annotations_name_their_author_and_have_null_status() {
    let mut a = ann();
    a.shared = false;
    let v = render(
        &site(),
        &a,
        &related(),
        ViewerFacts {
            is_author: true,
            ..Default::default()
        },
    );
    assert_eq!(v["permissions"]["read"], json!(["acct:alice@h.example"]));
    assert_eq!(v["moderation_status"], json!(null));
}

#[test]
fn hidden_annotations_differ_by_viewer() {
    let mut a = ann();
    a.moderation_status = Some(ModerationStatus::Spam);
    let reader = render(&site(), &a, &related(), ViewerFacts::default());
    assert_eq!(
        (reader["hidden"].clone(), reader["text"].clone()),
        (json!(true), json!(""))
    );
    assert_eq!(reader["tags"], json!([]));
    assert!(reader.get("moderation").is_none());
    let moderator = render(
        &site(),
        &a,
        &related(),
        ViewerFacts {
            can_moderate: true,
            ..Default::default()
        },
    );
    assert_eq!(moderator["hidden"], json!(true));
    assert_eq!(moderator["text"], json!("Nice"));
    assert_eq!(moderator["moderation"], json!({"flagCount": 2}));
    assert_eq!(moderator["actions"], json!(["moderate"]));
    let author = render(
        &site(),
        &a,
        &related(),
        ViewerFacts {
            is_author: true,
            ..Default::default()
        },
    );
    assert_eq!(
        (author["hidden"].clone(), author["text"].clone()),
        (json!(false), json!("Nice"))
    );
    assert_eq!(author["moderation_status"], json!("SPAM"));
}

#[test]
fn shared_private_group_annotations_name_the_group() {
    let mut a = ann();
    a.groupid = "priv1234".into();
    let mut g = world();
    g.pubid = "priv1234".into();
    g.group_type = GroupType::Private;
    let rel = Related {
        group: Some(g),
        ..related()
    };
    let v = render(&site(), &a, &rel, ViewerFacts::default());
    assert_eq!(v["permissions"]["read"], json!(["group:priv1234"]));
}

#[test]
fn third_party_annotations_have_no_html_link_and_missing_users_no_user_info() {
    let mut a = ann();
    a.userid = "acct:bob@partner.org".into();
    let rel = Related {
        author: None,
        ..related()
    };
    let v = render(&site(), &a, &rel, ViewerFacts::default());
    assert!(v["links"].get("html").is_none());
    assert!(v.get("user_info").is_none());
    assert!(v.get("references").is_none());
}
