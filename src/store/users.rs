//! Users: create, look up, NIPSA.

use std::collections::HashMap;

use super::changelog::{ChangeAction, ChangeEntry, append_change};
use super::rows::{USER_COLS, UserRow};
use sqlx::AssertSqlSafe;

use super::exec::{Exec, HeldConnection};
use super::steps::Arg;
use super::{Db, StoreError, is_unique_violation};
use crate::domain::time::now_micros;
use crate::domain::{Identity, Role, User, UserId};

/// A user to create.
#[derive(Clone, Debug, Default)]
pub struct NewUser<'a> {
    pub username: &'a str,
    pub authority: &'a str,
    pub email: Option<&'a str>,
    pub display_name: Option<&'a str>,
}

/// h compares usernames ignoring case and dots (`h/models/user.py` `_normalise_username`).
fn username_key(username: &str) -> String {
    username.replace('.', "").to_lowercase()
}

impl Db {
    /// Creates a user; a username already taken in that authority is a conflict.
    pub async fn create_user(&self, new: &NewUser<'_>) -> Result<User, StoreError> {
        let userid = UserId::new(new.username, new.authority).to_string();
        let result = self
            .execute(
                "INSERT INTO users (userid, username, username_key, authority, email, \
                 display_name, created) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                &[
                    userid.as_str().into(),
                    new.username.into(),
                    username_key(new.username).into(),
                    new.authority.into(),
                    new.email.into(),
                    new.display_name.into(),
                    now_micros().into(),
                ],
            )
            .await;
        match result {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => {
                return Err(StoreError::Conflict(format!(
                    "user {userid} already exists (usernames ignore case and dots)"
                )));
            }
            Err(e) => return Err(e.into()),
        }
        self.user_by_userid(&userid)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("user {userid} vanished")))
    }

    /// Looks a user up by `acct:username@authority`, ignoring case and dots in the username as
    /// h does.
    pub async fn user_by_userid(&self, userid: &str) -> Result<Option<User>, sqlx::Error> {
        let Some(parsed) = UserId::parse(userid) else {
            return Ok(None);
        };
        let sql =
            format!("SELECT {USER_COLS} FROM users WHERE username_key = $1 AND authority = $2");
        let args = [
            username_key(&parsed.username).into(),
            parsed.authority.as_str().into(),
        ];
        let row: Option<UserRow> = self.fetch_optional(AssertSqlSafe(sql), &args).await?;
        Ok(row.map(User::from))
    }

    /// The group roles of a user, keyed by group pubid.
    pub async fn roles_of(&self, user_id: i64) -> Result<HashMap<String, Role>, sqlx::Error> {
        let rows: Vec<(String, String)> = self
            .fetch_all(
                "SELECT g.pubid, m.role FROM group_members m JOIN groups g ON g.id = m.group_id \
                 WHERE m.user_id = $1",
                &[user_id.into()],
            )
            .await?;
        Ok(rows
            .into_iter()
            .filter_map(|(g, r)| Some((g, r.parse().ok()?)))
            .collect())
    }

    /// A user with their current group roles.
    pub async fn identity_of(&self, user: User) -> Result<Identity, sqlx::Error> {
        let roles = self.roles_of(user.id).await?;
        Ok(Identity::new(user, roles))
    }

    /// Sets or clears a user's NIPSA flag. Appends a `user-change` row so running servers drop
    /// any cached copy of the user.
    pub async fn set_nipsa(&self, userid: &str, nipsa: bool) -> Result<(), StoreError> {
        let user = self
            .user_by_userid(userid)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("no user {userid}")))?;
        let canonical = user.userid().to_string();
        let mut conn = HeldConnection::take(self).await?;
        let mut tx = conn.begin_write().await?;
        tx.execute(
            "UPDATE users SET nipsa = $1 WHERE id = $2",
            &[nipsa.into(), user.id.into()],
        )
        .await?;
        let entry = ChangeEntry {
            userid: Some(&canonical),
            ..ChangeEntry::new(ChangeAction::UserChange)
        };
        append_change(&mut tx, &entry).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Replaces a user's preferences map.
    pub async fn set_preferences(
        &self,
        user_id: i64,
        prefs: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<(), sqlx::Error> {
        let text = serde_json::Value::Object(prefs.clone()).to_string();
        self.execute(
            "UPDATE users SET preferences = $1 WHERE id = $2",
            &[text.into(), user_id.into()],
        )
        .await?;
        Ok(())
    }

    /// Display names of users by userid, for `user_info` (users that do not exist are left
    /// out). One query for a whole page of annotations.
    pub async fn display_names(
        &self,
        userids: &[&str],
    ) -> Result<HashMap<String, Option<String>>, sqlx::Error> {
        let mut wanted: Vec<&str> = userids.to_vec();
        wanted.sort_unstable();
        wanted.dedup();
        if wanted.is_empty() {
            return Ok(HashMap::new());
        }
        let sql = format!(
            "SELECT userid, display_name FROM users WHERE userid IN ({})",
            super::placeholders(1, wanted.len())
        );
        let args: Vec<Arg> = wanted.into_iter().map(Arg::from).collect();
        let rows: Vec<(String, Option<String>)> = self.fetch_all(AssertSqlSafe(sql), &args).await?;
        Ok(rows.into_iter().collect())
    }
}
