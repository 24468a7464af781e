//! Who may read, write and moderate what. Mirrors h's `h/security/permission_map.py` and
//! `h/security/predicates.py`; every function is pure, so the HTTP API and (later) the realtime
//! router apply the very same rules.

use super::annotation::Annotation;
use super::group::{Group, GroupType};
use super::user::Identity;

/// Group.READ: world-readable groups to everyone, private groups to members.
pub fn can_read_group(group: &Group, who: Option<&Identity>) -> bool {
    group.world_readable() || who.is_some_and(|i| i.role_in(&group.pubid).is_some())
}

/// Group.WRITE: open groups to every user of their authority, the others to members.
pub fn can_write_group(group: &Group, who: Option<&Identity>) -> bool {
    let Some(who) = who else { return false };
    match group.group_type {
        GroupType::Open => who.user.authority == group.authority,
        GroupType::Restricted | GroupType::Private => who.role_in(&group.pubid).is_some(),
    }
}

/// Group.MODERATE: owners, admins and moderators.
pub fn can_moderate_group(group: &Group, who: Option<&Identity>) -> bool {
    who.and_then(|i| i.role_in(&group.pubid))
        .is_some_and(|r| r.can_moderate())
}

fn is_author(ann: &Annotation, who: Option<&Identity>) -> bool {
    who.is_some_and(|i| i.userid == ann.userid)
}

/// Annotation.MODERATE: live, shared, and the caller moderates its group.
pub fn can_moderate(ann: &Annotation, group: Option<&Group>, who: Option<&Identity>) -> bool {
    !ann.deleted && ann.shared && group.is_some_and(|g| can_moderate_group(g, who))
}

/// Annotation.READ_REALTIME_UPDATES (spec §6.2): like READ but deletion does not block it.
pub fn can_read_realtime(ann: &Annotation, group: Option<&Group>, who: Option<&Identity>) -> bool {
    let author = is_author(ann, who);
    if !ann.shared {
        return author;
    }
    if ann.is_hidden() {
        return author || can_moderate(ann, group, who);
    }
    group.is_some_and(|g| can_read_group(g, who))
}

/// Annotation.READ (spec §8.4): a deleted annotation is never readable.
pub fn can_read(ann: &Annotation, group: Option<&Group>, who: Option<&Identity>) -> bool {
    !ann.deleted && can_read_realtime(ann, group, who)
}

/// Annotation.UPDATE and Annotation.DELETE: live, and the caller is the author.
pub fn can_edit(ann: &Annotation, who: Option<&Identity>) -> bool {
    !ann.deleted && is_author(ann, who)
}

#[cfg(test)]
mod tests;
