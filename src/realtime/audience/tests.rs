use std::collections::HashSet;

use serde_json::{Value, json};

use super::Audience;
use crate::domain::fixtures::{annotation, group, identity};
use crate::domain::{Annotation, Group, GroupType, Identity, ModerationStatus, Role};
use crate::render::ViewerFacts;
use crate::store::CheckpointScope;

struct Facts {
    ann: Annotation,
    group: Group,
    nipsa: bool,
    flaggers: HashSet<i64>,
    checkpoint: Option<CheckpointScope>,
    ancestors: HashSet<String>,
    src: Option<&'static str>,
}

/// An annotation in group `g` with a document, as checkpoints need.
fn ann(author: &str, shared: bool, status: Option<ModerationStatus>) -> Annotation {
    Annotation {
        document_id: Some(1),
        ..annotation(author, "g", shared, status)
    }
}

impl Facts {
    fn new(ann: Annotation, t: GroupType) -> Facts {
        Facts {
            ann,
            group: group("g", t),
            nipsa: false,
            flaggers: HashSet::new(),
            checkpoint: None,
            ancestors: HashSet::new(),
            src: None,
        }
    }

    fn class(&self, who: Option<&Identity>, client_id: Option<Value>) -> Option<ViewerFacts> {
        Audience {
            ann: &self.ann,
            group: Some(&self.group),
            author_nipsa: self.nipsa,
            flaggers: &self.flaggers,
            checkpoint: self.checkpoint.as_ref(),
            ancestor_authors: &self.ancestors,
            src_client_id: self.src,
            deleting: false,
        }
        .class_for(who, client_id.as_ref())
    }
}

#[test]
fn echo_is_suppressed_only_for_equal_string_ids() {
    let mut f = Facts::new(ann("alice", true, None), GroupType::Open);
    assert!(f.class(None, None).is_some());
    f.src = Some("A");
    assert!(f.class(None, Some(json!("A"))).is_none());
    assert!(f.class(None, Some(json!("B"))).is_some());
    assert!(f.class(None, None).is_some());
    assert!(f.class(None, Some(json!(["A"]))).is_some());
}

#[test]
fn nipsa_reaches_only_the_author() {
    let mut f = Facts::new(ann("alice", true, None), GroupType::Open);
    f.nipsa = true;
    let alice = identity(1, "alice", &[]);
    let bob = identity(2, "bob", &[("g", Role::Moderator)]);
    assert!(f.class(Some(&alice), None).is_some());
    assert!(f.class(Some(&bob), None).is_none());
    assert!(f.class(None, None).is_none());
}

#[test]
fn viewer_classes_follow_authorship_moderation_and_flags() {
    let mut f = Facts::new(
        ann("alice", true, Some(ModerationStatus::Spam)),
        GroupType::Restricted,
    );
    let alice = identity(1, "alice", &[("g", Role::Member)]);
    let moderator = identity(2, "mod", &[("g", Role::Moderator)]);
    let member = identity(3, "member", &[("g", Role::Member)]);
    f.flaggers.insert(2);
    assert_eq!(
        f.class(Some(&alice), None),
        Some(ViewerFacts {
            is_author: true,
            can_moderate: false,
            flagged: false
        })
    );
    assert_eq!(
        f.class(Some(&moderator), None),
        Some(ViewerFacts {
            is_author: false,
            can_moderate: true,
            flagged: true
        })
    );
    assert_eq!(f.class(Some(&member), None), None);
    assert_eq!(f.class(None, None), None);
}

#[test]
fn checkpoints_withhold_classmates_from_students() {
    let mut f = Facts::new(ann("peer", true, None), GroupType::Restricted);
    f.checkpoint = Some(CheckpointScope {
        instructors: HashSet::from(["acct:teacher@example.com".to_owned()]),
    });
    let student = identity(1, "student", &[("g", Role::Member)]);
    let teacher = identity(2, "teacher", &[("g", Role::Owner)]);
    let outsider = identity(3, "outsider", &[]);
    assert!(f.class(Some(&student), None).is_none());
    assert!(f.class(Some(&teacher), None).is_some());
    assert!(f.class(Some(&outsider), None).is_some());
    assert!(f.class(None, None).is_some());

    f.ann.userid = "acct:teacher@example.com".into();
    assert!(
        f.class(Some(&student), None).is_some(),
        "instructor's top-level note"
    );
    f.ann.references = vec!["root".into()];
    assert!(
        f.class(Some(&student), None).is_none(),
        "reply in a classmate's thread"
    );
    f.ancestors.insert("acct:student@example.com".into());
    assert!(
        f.class(Some(&student), None).is_some(),
        "reply in the student's thread"
    );
}
