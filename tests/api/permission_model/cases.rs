//! What the model generates: the setup (NIPSA, groups and roles, one filter per viewer) and the
//! writes it attempts.

use proptest::prelude::*;

pub(super) const URIS: [&str; 2] = ["https://model.example/a", "https://model.example/b"];
pub(super) const USERS: usize = 4;
/// Three groups of their own (open, restricted, private), then `__world__`.
pub(super) const GROUPS: usize = 4;
pub(super) const WORLD: usize = 3;

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Membership {
    None,
    Member,
    Moderator,
}

#[derive(Debug, Clone)]
pub(super) struct Setup {
    pub(super) nipsa: [bool; USERS],
    /// Creator (owner) of each of the three groups.
    pub(super) creators: [usize; 3],
    /// Role of each user in each of the three groups (the creator stays owner).
    pub(super) roles: [[Membership; USERS]; 3],
    /// One filter per viewer: anonymous, then each user. A clause is a URI or a group.
    pub(super) filters: Vec<Vec<Clause>>,
}

#[derive(Debug, Clone, Copy)]
pub(super) enum Clause {
    Uri(usize),
    Group(usize),
}

/// One attempted write. Indices into the annotations made so far wrap around; a write the
/// server refuses (a non-member posting, a non-moderator hiding) is simply not an event.
#[derive(Debug, Clone)]
pub(super) enum Op {
    Create {
        author: usize,
        group: usize,
        shared: bool,
        uri: usize,
    },
    Reply {
        author: usize,
        parent: usize,
        shared: bool,
    },
    Update {
        target: usize,
        shared: bool,
    },
    Delete {
        target: usize,
    },
    Hide {
        target: usize,
        by: usize,
    },
    Unhide {
        target: usize,
        by: usize,
    },
    Leave {
        user: usize,
        group: usize,
    },
}

pub(super) fn membership() -> impl Strategy<Value = Membership> {
    prop_oneof![
        3 => Just(Membership::None),
        3 => Just(Membership::Member),
        2 => Just(Membership::Moderator),
    ]
}

pub(super) fn clause() -> impl Strategy<Value = Clause> {
    prop_oneof![
        (0..URIS.len()).prop_map(Clause::Uri),
        (0..GROUPS).prop_map(Clause::Group),
    ]
}

pub(super) fn setup() -> impl Strategy<Value = Setup> {
    (
        prop::array::uniform4(prop::bool::weighted(0.2)),
        prop::array::uniform3(0..USERS),
        prop::array::uniform3(prop::array::uniform4(membership())),
        prop::collection::vec(prop::collection::vec(clause(), 1..=3), USERS + 1),
    )
        .prop_map(|(nipsa, creators, roles, filters)| Setup {
            nipsa,
            creators,
            roles,
            filters,
        })
}

pub(super) fn op() -> impl Strategy<Value = Op> {
    let idx = 0..64usize;
    prop_oneof![
        4 => (0..USERS, 0..GROUPS, any::<bool>(), 0..URIS.len())
            .prop_map(|(author, group, shared, uri)| Op::Create { author, group, shared, uri }),
        2 => (0..USERS, idx.clone(), any::<bool>())
            .prop_map(|(author, parent, shared)| Op::Reply { author, parent, shared }),
        2 => (idx.clone(), any::<bool>()).prop_map(|(target, shared)| Op::Update { target, shared }),
        1 => idx.clone().prop_map(|target| Op::Delete { target }),
        2 => (idx.clone(), 0..USERS).prop_map(|(target, by)| Op::Hide { target, by }),
        1 => (idx.clone(), 0..USERS).prop_map(|(target, by)| Op::Unhide { target, by }),
        1 => (0..USERS, 0..3usize).prop_map(|(user, group)| Op::Leave { user, group }),
    ]
}
