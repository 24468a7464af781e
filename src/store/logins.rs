//! First-party logins: password hashes, browser sessions, single-use OAuth authorization codes
//! and the server's own OAuth client (h's `h/views/oauth.py`, `h/services/oauth/`), for the
//! Hypothesis client's "Log in" popup.

use super::rows::{USER_COLS, UserRow, user_cols_of};
use sqlx::AssertSqlSafe;

use super::{AuthClient, Db};
use crate::domain::User;
use crate::domain::ids::random_token;
use crate::domain::time::now_micros;

const MICROS: i64 = 1_000_000;
/// How long a login lasts in the browser.
pub const SESSION_TTL_SECS: i64 = 14 * 24 * 3600;
/// How long an authorization code may wait to be exchanged (h: 10 minutes).
pub const CODE_TTL_SECS: i64 = 600;
const FIRST_PARTY_NAME: &str = "scholia sidebar";

impl Db {
    /// Sets a user's password hash (an argon2 PHC string).
    pub async fn set_password_hash(&self, user_id: i64, hash: &str) -> Result<(), sqlx::Error> {
        self.execute(
            "UPDATE users SET password_hash = $1 WHERE id = $2",
            &[hash.into(), user_id.into()],
        )
        .await?;
        Ok(())
    }

    /// A live user and their password hash, by userid.
    pub async fn login_candidate(
        &self,
        userid: &str,
    ) -> Result<Option<(User, Option<String>)>, sqlx::Error> {
        let Some(user) = self.user_by_userid(userid).await? else {
            return Ok(None);
        };
        if user.deleted {
            return Ok(None);
        }
        let (hash,): (Option<String>,) = self
            .fetch_one(
                "SELECT password_hash FROM users WHERE id = $1",
                &[user.id.into()],
            )
            .await?;
        Ok(Some((user, hash)))
    }

    /// Starts a browser session; returns its token (the cookie value).
    pub async fn create_session(&self, user_id: i64) -> Result<String, sqlx::Error> {
        let token = random_token(43);
        let now = now_micros();
        self.execute(
            "INSERT INTO sessions (token, user_id, expires, created) VALUES ($1, $2, $3, $4)",
            &[
                token.as_str().into(),
                user_id.into(),
                (now + SESSION_TTL_SECS * MICROS).into(),
                now.into(),
            ],
        )
        .await?;
        Ok(token)
    }

    /// The user of a live session.
    pub async fn session_user(&self, token: &str) -> Result<Option<User>, sqlx::Error> {
        let sql = format!(
            "SELECT {} FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token = $1 AND s.expires > $2",
            user_cols_of("u")
        );
        let args = [token.into(), now_micros().into()];
        let row: Option<UserRow> = self.fetch_optional(AssertSqlSafe(sql), &args).await?;
        Ok(row.map(User::from).filter(|u| !u.deleted))
    }

    /// Issues a single-use authorization code for `user` and `client_id`.
    pub async fn create_authorization_code(
        &self,
        user_id: i64,
        client_id: &str,
    ) -> Result<String, sqlx::Error> {
        let code = random_token(32);
        let now = now_micros();
        self.execute(
            "INSERT INTO authorization_codes (code, user_id, authclient_id, expires, created) \
             VALUES ($1, $2, $3, $4, $5)",
            &[
                code.as_str().into(),
                user_id.into(),
                client_id.into(),
                (now + CODE_TTL_SECS * MICROS).into(),
                now.into(),
            ],
        )
        .await?;
        Ok(code)
    }

    /// Exchanges a code: it is deleted whatever happens next, so it works once.
    pub async fn redeem_authorization_code(
        &self,
        code: &str,
        client_id: &str,
    ) -> Result<Option<(User, AuthClient)>, sqlx::Error> {
        let user_id: Option<(i64,)> = self
            .fetch_optional(
                "DELETE FROM authorization_codes WHERE code = $1 AND authclient_id = $2 \
                 AND expires > $3 RETURNING user_id",
                &[code.into(), client_id.into(), now_micros().into()],
            )
            .await?;
        let Some((user_id,)) = user_id else {
            return Ok(None);
        };
        let sql = format!("SELECT {USER_COLS} FROM users WHERE id = $1");
        let user: Option<UserRow> = self
            .fetch_optional(AssertSqlSafe(sql), &[user_id.into()])
            .await?;
        let (Some(user), Some(client)) = (user.map(User::from), self.authclient(client_id).await?)
        else {
            return Ok(None);
        };
        Ok((!user.deleted).then_some((user, client)))
    }

    /// The server's own OAuth client for the sidebar's login popup (h's `h.client_oauth_id`),
    /// created on first use.
    pub async fn first_party_client(&self, authority: &str) -> Result<AuthClient, sqlx::Error> {
        let existing: Option<(String,)> = self
            .fetch_optional(
                "SELECT id FROM authclients WHERE authority = $1 \
                 AND grant_type = 'authorization_code' AND name = $2 ORDER BY created LIMIT 1",
                &[authority.into(), FIRST_PARTY_NAME.into()],
            )
            .await?;
        if let Some((id,)) = existing
            && let Some(client) = self.authclient(&id).await?
        {
            return Ok(client);
        }
        let client = AuthClient {
            id: uuid::Uuid::new_v4().to_string(),
            secret: random_token(43),
            authority: authority.to_owned(),
            name: Some(FIRST_PARTY_NAME.to_owned()),
            grant_type: "authorization_code".to_owned(),
        };
        self.insert_authclient(&client).await?;
        Ok(client)
    }
}
