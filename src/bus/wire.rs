//! A change as the feed engines that carry it put it on the wire: JSON, the change log's own
//! columns. A message that does not parse is dropped (the log still has the change).

use serde::Serialize;

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
}

pub fn encode(change: &Change) -> Vec<u8> {
    let wire = Out {
        seq: change.seq,
        action: change.action.as_str(),
        annotation_id: change.annotation_id.as_deref(),
        userid: change.userid.as_deref(),
        groupid: change.groupid.as_deref(),
        src_client_id: change.src_client_id.as_deref(),
        created: change.created,
    };
    // Plain strings and integers always serialise.
    serde_json::to_vec(&wire).unwrap_or_default()
}

/// A change read off the wire, decoded as a change-log row is (an unknown action is dropped).
pub fn decode(bytes: &[u8]) -> Option<Change> {
    serde_json::from_slice::<ChangeRow>(bytes)
        .ok()?
        .into_change()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::ChangeAction;

    #[test]
    fn a_change_survives_the_wire_and_garbage_does_not_parse() {
        let change = Change {
            seq: 42,
            action: ChangeAction::GroupJoin,
            annotation_id: None,
            userid: Some("acct:a@example.com".into()),
            groupid: Some("g1".into()),
            src_client_id: Some("c\"1".into()),
            created: 1_700_000_000_000_000,
        };
        assert_eq!(decode(&encode(&change)), Some(change));
        assert_eq!(decode(b"{\"seq\":1}"), None);
        assert_eq!(decode(b"\xff"), None);
        let mut bad_action = encode(&Change {
            seq: 1,
            action: ChangeAction::Create,
            annotation_id: None,
            userid: None,
            groupid: None,
            src_client_id: None,
            created: 0,
        });
        let s = String::from_utf8(bad_action.clone())
            .unwrap()
            .replace("create", "explode");
        bad_action = s.into_bytes();
        assert_eq!(decode(&bad_action), None);
    }
}
