use std::collections::HashMap;

use super::*;
use crate::domain::{ModerationStatus, Role, User};

fn user(name: &str, authority: &str) -> User {
    User {
        id: 1,
        username: name.into(),
        authority: authority.into(),
        email: None,
        display_name: None,
        nipsa: false,
        deleted: false,
        preferences: Default::default(),
    }
}

fn who(name: &str, roles: &[(&str, Role)]) -> Identity {
    let roles: HashMap<String, Role> = roles.iter().map(|(g, r)| ((*g).to_owned(), *r)).collect();
    Identity::new(user(name, "example.com"), roles)
}

fn group(pubid: &str, t: GroupType) -> Group {
    Group {
        id: 1,
        pubid: pubid.into(),
        authority: "example.com".into(),
        authority_provided_id: None,
        name: "G".into(),
        description: None,
        group_type: t,
        pre_moderated: false,
    }
}

fn ann(author: &str, group: &str, shared: bool, status: Option<ModerationStatus>) -> Annotation {
    Annotation {
        id: "a".repeat(22),
        created: 0,
        updated: 0,
        userid: format!("acct:{author}@example.com"),
        groupid: group.into(),
        target_uri: "http://x".into(),
        target_uri_normalized: "httpx://x".into(),
        text: String::new(),
        tags: vec![],
        shared,
        references: vec![],
        target_selectors: vec![],
        target_description: None,
        document_id: None,
        extra: Default::default(),
        metadata: None,
        moderation_status: status,
        version: None,
        deleted: false,
    }
}

#[test]
fn private_annotations_are_read_by_their_author_only() {
    let g = group("__world__", GroupType::Open);
    let a = ann("alice", "__world__", false, None);
    assert!(can_read(&a, Some(&g), Some(&who("alice", &[]))));
    assert!(!can_read(&a, Some(&g), Some(&who("bob", &[]))));
    assert!(!can_read(&a, Some(&g), None));
}

#[test]
fn shared_annotations_follow_group_readability() {
    let open = group("open1", GroupType::Open);
    let private = group("priv1", GroupType::Private);
    let a = ann("alice", "open1", true, Some(ModerationStatus::Approved));
    assert!(can_read(&a, Some(&open), None));
    let p = ann("alice", "priv1", true, Some(ModerationStatus::Approved));
    assert!(!can_read(&p, Some(&private), None));
    assert!(!can_read(&p, Some(&private), Some(&who("bob", &[]))));
    assert!(can_read(
        &p,
        Some(&private),
        Some(&who("bob", &[("priv1", Role::Member)]))
    ));
    assert!(
        !can_read(&p, None, Some(&who("bob", &[("priv1", Role::Member)]))),
        "group gone"
    );
}

#[test]
fn hidden_annotations_reach_author_and_moderators() {
    let g = group("g1", GroupType::Restricted);
    let a = ann("alice", "g1", true, Some(ModerationStatus::Spam));
    assert!(can_read(&a, Some(&g), Some(&who("alice", &[]))));
    assert!(can_read(
        &a,
        Some(&g),
        Some(&who("mod", &[("g1", Role::Moderator)]))
    ));
    assert!(!can_read(
        &a,
        Some(&g),
        Some(&who("bob", &[("g1", Role::Member)]))
    ));
    assert!(!can_read(&a, Some(&g), None));
}

#[test]
fn deletion_blocks_read_but_not_realtime() {
    let g = group("__world__", GroupType::Open);
    let mut a = ann("alice", "__world__", true, Some(ModerationStatus::Approved));
    a.deleted = true;
    assert!(!can_read(&a, Some(&g), None));
    assert!(can_read_realtime(&a, Some(&g), None));
    assert!(!can_edit(&a, Some(&who("alice", &[]))));
    // A deleted hidden annotation: moderators no longer qualify (MODERATE needs it live).
    a.moderation_status = Some(ModerationStatus::Pending);
    assert!(!can_read_realtime(
        &a,
        Some(&g),
        Some(&who("mod", &[("__world__", Role::Owner)]))
    ));
    assert!(can_read_realtime(&a, Some(&g), Some(&who("alice", &[]))));
}

#[test]
fn write_rules_by_group_type() {
    let open = group("o", GroupType::Open);
    let restricted = group("r", GroupType::Restricted);
    let bob = who("bob", &[]);
    assert!(can_write_group(&open, Some(&bob)));
    assert!(!can_write_group(&open, None));
    let mut other = bob.clone();
    other.user.authority = "elsewhere.org".into();
    assert!(
        !can_write_group(&open, Some(&other)),
        "other authorities cannot write open groups"
    );
    assert!(!can_write_group(&restricted, Some(&bob)));
    assert!(can_write_group(
        &restricted,
        Some(&who("bob", &[("r", Role::Member)]))
    ));
}
