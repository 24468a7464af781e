use super::*;
use crate::domain::fixtures::{annotation as ann, group, identity};
use crate::domain::{ModerationStatus, Role};

fn who(name: &str, roles: &[(&str, Role)]) -> Identity {
    identity(1, name, roles)
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
