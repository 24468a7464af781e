//! Users and the identity a request or socket acts as.

use std::collections::HashMap;

use super::group::Role;
use super::ids::UserId;

/// A user account. Users of any authority can exist (third-party authorities, as in h).
#[derive(Clone, Debug, PartialEq)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub authority: String,
    pub email: Option<String>,
    pub display_name: Option<String>,
    /// Shadow-banned: their annotations are shown only to themselves (h's `User.nipsa`).
    pub nipsa: bool,
    pub deleted: bool,
    pub preferences: serde_json::Map<String, serde_json::Value>,
}

impl User {
    pub fn userid(&self) -> UserId {
        UserId::new(&self.username, &self.authority)
    }
}

/// Who is acting: an authenticated user with their group roles (keyed by group pubid). Loaded
/// fresh for every HTTP request, so an admin command's change is seen by the next request.
#[derive(Clone, Debug, PartialEq)]
pub struct Identity {
    pub user: User,
    pub userid: String,
    pub roles: HashMap<String, Role>,
}

impl Identity {
    pub fn new(user: User, roles: HashMap<String, Role>) -> Identity {
        let userid = user.userid().to_string();
        Identity {
            user,
            userid,
            roles,
        }
    }

    /// The caller's role in a group, if a member.
    pub fn role_in(&self, pubid: &str) -> Option<Role> {
        self.roles.get(pubid).copied()
    }
}
