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

/// h's username rule (`h/models/user.py`, `h/schemas/forms/accounts`): 3 to 30 characters of
/// ASCII letters, digits, `.` and `_`. `Err` says what is wrong, for a form or a command.
pub fn check_username(name: &str) -> Result<(), String> {
    let len = name.chars().count();
    if !(3..=30).contains(&len) {
        return Err("Usernames are 3 to 30 characters long.".into());
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_')
    {
        return Err("Usernames hold only letters, digits, '.' and '_'.".into());
    }
    Ok(())
}
