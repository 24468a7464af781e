//! A change as the feed engines that carry it put it on the wire: JSON, the change log's own
//! columns, and for a create what its write knew for routing it (`known`), so that other nodes
//! route it without reading it back. A message that does not parse is dropped (the log still
//! has the change); a `known` part that does not parse (a node of another version) is ignored,
//! and the change is routed from the store as if none had come.

use serde::{Deserialize, Serialize};

use super::Known;
use crate::store::{Change, ChangeRow};

#[derive(Serialize)]
struct Out<'a> {
    seq: i64,
    action: &'a str,
    annotation_id: Option<&'a str>,
    userid: Option<&'a str>,
    groupid: Option<&'a str>,
    src_client_id: Option<&'a str>,
    created: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    known: Option<&'a Known>,
}

/// The `known` part alone; every other field of the message is skipped.
#[derive(Deserialize)]
struct KnownPart {
    known: Option<Box<Known>>,
}

/// Encodes a change, with `known` when the message then stays within `cap` bytes (an engine's
/// payload limit, or what is worth carrying); past it the change goes alone.
pub fn encode(change: &Change, known: Option<&Known>, cap: usize) -> Vec<u8> {
    let mut wire = Out {
        seq: change.seq,
        action: change.action.as_str(),
        annotation_id: change.annotation_id.as_deref(),
        userid: change.userid.as_deref(),
        groupid: change.groupid.as_deref(),
        src_client_id: change.src_client_id.as_deref(),
        created: change.created,
        known,
    };
    // Strings, integers and JSON values always serialise.
    let bytes = serde_json::to_vec(&wire).unwrap_or_default();
    if bytes.len() <= cap || wire.known.is_none() {
        return bytes;
    }
    wire.known = None;
    serde_json::to_vec(&wire).unwrap_or_default()
}

/// A change read off the wire, decoded as a change-log row is (an unknown action is dropped),
/// with its `known` part if it carried one that parses.
pub fn decode(bytes: &[u8]) -> Option<(Change, Option<Box<Known>>)> {
    let change = serde_json::from_slice::<ChangeRow>(bytes)
        .ok()?
        .into_change()?;
    let known = serde_json::from_slice::<KnownPart>(bytes)
        .ok()
        .and_then(|k| k.known);
    Some((change, known))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Annotation;
    use crate::render::{Author, Related};
    use crate::store::{ChangeAction, RoutingFacts};

    fn change(action: ChangeAction) -> Change {
        Change {
            seq: 42,
            action,
            annotation_id: Some("a1".into()),
            userid: Some("acct:a@example.com".into()),
            groupid: Some("g1".into()),
            src_client_id: Some("c\"1".into()),
            created: 1_700_000_000_000_000,
        }
    }

    fn known(text: &str) -> Known {
        Known {
            annotation: Annotation {
                id: "a1".into(),
                created: 1,
                updated: 2,
                userid: "acct:a@example.com".into(),
                groupid: "g1".into(),
                target_uri: "https://example.com/".into(),
                target_uri_normalized: "httpx://example.com".into(),
                text: text.into(),
                tags: vec!["t".into()],
                shared: true,
                references: vec![],
                target_selectors: vec![serde_json::json!({"type": "TextQuoteSelector"})],
                target_description: None,
                document_id: Some(7),
                extra: Default::default(),
                metadata: None,
                moderation_status: None,
                version: Some(1),
                deleted: false,
            },
            related: Related {
                author: Some(Author {
                    display_name: Some("A".into()),
                }),
                document_title: Some("T".into()),
                group: None,
                flag_count: 0,
            },
            routing: RoutingFacts {
                uris: vec!["https://example.com/".into()],
                checkpoint: None,
            },
        }
    }

    #[test]
    fn a_change_survives_the_wire_and_garbage_does_not_parse() {
        let c = change(ChangeAction::GroupJoin);
        assert_eq!(decode(&encode(&c, None, usize::MAX)), Some((c, None)));
        assert_eq!(decode(b"{\"seq\":1}"), None);
        assert_eq!(decode(b"\xff"), None);
        let bad_action = String::from_utf8(encode(&change(ChangeAction::Create), None, 0))
            .unwrap()
            .replace("create", "explode");
        assert_eq!(decode(bad_action.as_bytes()), None);
    }

    #[test]
    fn a_create_carries_what_its_write_knew_unless_it_is_too_long() {
        let c = change(ChangeAction::Create);
        let k = known("hello");
        let bytes = encode(&c, Some(&k), 64 * 1024);
        assert_eq!(decode(&bytes), Some((c.clone(), Some(Box::new(k.clone())))));
        let long = known(&"x".repeat(10_000));
        let bytes = encode(&c, Some(&long), 8000);
        assert!(bytes.len() < 8000, "{}", bytes.len());
        assert_eq!(decode(&bytes), Some((c, None)));
    }

    #[test]
    fn a_known_part_from_another_version_is_ignored_not_the_change() {
        let c = change(ChangeAction::Create);
        let mut v: serde_json::Value =
            serde_json::from_slice(&encode(&c, Some(&known("x")), usize::MAX)).unwrap();
        v["known"]["annotation"]["shared"] = serde_json::json!("not a bool");
        let bytes = serde_json::to_vec(&v).unwrap();
        assert_eq!(decode(&bytes), Some((c, None)));
    }
}
