//! What the site's account pages change (src/site/account.rs): email, sessions, the developer
//! token on show, and a group's member count.

use super::Db;

impl Db {
    /// Ends one browser session (logging out).
    pub async fn delete_session(&self, token: &str) -> Result<(), sqlx::Error> {
        self.execute("DELETE FROM sessions WHERE token = $1", &[token.into()])
            .await?;
        Ok(())
    }

    /// Ends every session of a user but `keep` (h's "log out of other sessions"); returns how
    /// many ended.
    pub async fn delete_other_sessions(
        &self,
        user_id: i64,
        keep: &str,
    ) -> Result<u64, sqlx::Error> {
        self.execute(
            "DELETE FROM sessions WHERE user_id = $1 AND token <> $2",
            &[user_id.into(), keep.into()],
        )
        .await
    }

    /// Revokes every OAuth access and refresh token of a user (the sidebars they are logged in
    /// to), leaving their developer token; returns how many went.
    pub async fn revoke_oauth_tokens_of(&self, user_id: i64) -> Result<u64, sqlx::Error> {
        self.execute(
            "DELETE FROM tokens WHERE user_id = $1 AND authclient_id IS NOT NULL",
            &[user_id.into()],
        )
        .await
    }

    /// Sets (or clears, with `None`) a user's email.
    pub async fn set_email(&self, user_id: i64, email: Option<&str>) -> Result<(), sqlx::Error> {
        self.execute(
            "UPDATE users SET email = $1 WHERE id = $2",
            &[email.into(), user_id.into()],
        )
        .await?;
        Ok(())
    }

    /// The user's developer token (the one with no expiry and no auth client) and when it was
    /// made, as h's developer page shows it.
    pub async fn developer_token_of(
        &self,
        user_id: i64,
    ) -> Result<Option<(String, i64)>, sqlx::Error> {
        self.fetch_optional(
            "SELECT value, created FROM tokens WHERE user_id = $1 AND expires IS NULL \
             AND authclient_id IS NULL ORDER BY created DESC LIMIT 1",
            &[user_id.into()],
        )
        .await
    }

    /// How many members a group has.
    pub async fn member_count(&self, group_id: i64) -> Result<i64, sqlx::Error> {
        let (n,): (i64,) = self
            .fetch_one(
                "SELECT COUNT(*) FROM group_members WHERE group_id = $1",
                &[group_id.into()],
            )
            .await?;
        Ok(n)
    }

    /// Whether an account already uses this email (compared without case, as h does).
    pub async fn email_taken(&self, email: &str) -> Result<bool, sqlx::Error> {
        let row: Option<(i64,)> = self
            .fetch_optional(
                "SELECT id FROM users WHERE LOWER(email) = LOWER($1) LIMIT 1",
                &[email.into()],
            )
            .await?;
        Ok(row.is_some())
    }
}
