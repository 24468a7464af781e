//! Groups, their types and member roles (h's `h/models/group.py`, `GroupMembershipRoles`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The pubid of the Public group every default-authority user can write to.
pub const WORLD: &str = "__world__";

/// A group's type fixes who may read, write and join it (spec §6.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum GroupType {
    /// Readable by the world, writeable by every user of its authority (`__world__` is one).
    Open,
    /// Readable by the world, writeable by members.
    Restricted,
    /// Readable and writeable by members, joinable by users of its authority.
    Private,
}

impl GroupType {
    pub fn as_str(self) -> &'static str {
        match self {
            GroupType::Open => "open",
            GroupType::Restricted => "restricted",
            GroupType::Private => "private",
        }
    }
}

impl FromStr for GroupType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "open" => Ok(GroupType::Open),
            "restricted" => Ok(GroupType::Restricted),
            "private" => Ok(GroupType::Private),
            other => Err(format!(
                "unknown group type {other:?} (open, restricted or private)"
            )),
        }
    }
}

/// A member's role, weakest first, so roles compare by power.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    Member,
    Moderator,
    Admin,
    Owner,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Member => "member",
            Role::Moderator => "moderator",
            Role::Admin => "admin",
            Role::Owner => "owner",
        }
    }

    /// Owners, admins and moderators may moderate annotations in the group.
    pub fn can_moderate(self) -> bool {
        self >= Role::Moderator
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "member" => Ok(Role::Member),
            "moderator" => Ok(Role::Moderator),
            "admin" => Ok(Role::Admin),
            "owner" => Ok(Role::Owner),
            other => Err(format!(
                "unknown role {other:?} (member, moderator, admin or owner)"
            )),
        }
    }
}

/// A group as stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Group {
    pub id: i64,
    pub pubid: String,
    pub authority: String,
    pub authority_provided_id: Option<String>,
    pub name: String,
    pub description: Option<String>,
    pub group_type: GroupType,
    pub pre_moderated: bool,
}

impl Group {
    /// `readable_by == world`.
    pub fn world_readable(&self) -> bool {
        matches!(self.group_type, GroupType::Open | GroupType::Restricted)
    }

    /// h's `groupid`: `group:<authority_provided_id>@<authority>` when one was given.
    pub fn groupid(&self) -> Option<String> {
        self.authority_provided_id
            .as_ref()
            .map(|id| format!("group:{id}@{}", self.authority))
    }

    /// The URL slug of the name, as h's `slugify` makes it: lower-case words joined by `-`.
    /// A name with no letters or digits (`!!!`) gets `group`: an empty slug would make the
    /// page's address end in `/`, which the router would not match.
    pub fn slug(&self) -> String {
        let mut out = String::new();
        for word in self
            .name
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
        {
            if !out.is_empty() {
                out.push('-');
            }
            out.extend(word.chars().flat_map(char::to_lowercase));
        }
        if out.is_empty() {
            out.push_str("group");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_order_by_power() {
        assert!(Role::Owner > Role::Admin && Role::Admin > Role::Moderator);
        assert!(Role::Moderator.can_moderate() && !Role::Member.can_moderate());
        assert_eq!("admin".parse::<Role>(), Ok(Role::Admin));
        assert!("boss".parse::<Role>().is_err());
    }

    #[test]
    fn slug_is_lowercase_words() {
        let g = Group {
            id: 1,
            pubid: "abc".into(),
            authority: "a".into(),
            authority_provided_id: None,
            name: "My  Reading Group!".into(),
            description: None,
            group_type: GroupType::Private,
            pre_moderated: false,
        };
        assert_eq!(g.slug(), "my-reading-group");
        assert!(!g.world_readable());
    }
}
