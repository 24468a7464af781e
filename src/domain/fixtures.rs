//! Domain values for unit tests, with every field spelled out once.

use std::collections::HashMap;

use super::{Annotation, Group, GroupType, Identity, ModerationStatus, Role, User};

/// A live, non-NIPSA user.
pub fn user(id: i64, name: &str, authority: &str) -> User {
    User {
        id,
        username: name.into(),
        authority: authority.into(),
        email: None,
        display_name: None,
        nipsa: false,
        deleted: false,
        preferences: Default::default(),
    }
}

/// A user of `example.com` with these group roles (by pubid).
pub fn identity(id: i64, name: &str, roles: &[(&str, Role)]) -> Identity {
    let roles: HashMap<String, Role> = roles.iter().map(|(g, r)| ((*g).to_owned(), *r)).collect();
    Identity::new(user(id, name, "example.com"), roles)
}

/// A group of `example.com`.
pub fn group(pubid: &str, t: GroupType) -> Group {
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

/// A live, top-level annotation by `acct:<author>@example.com` on `http://x`.
pub fn annotation(
    author: &str,
    group: &str,
    shared: bool,
    status: Option<ModerationStatus>,
) -> Annotation {
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
