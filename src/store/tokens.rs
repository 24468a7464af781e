//! Credentials: developer tokens, OAuth access/refresh token pairs and auth clients, with h's
//! prefixes and lifetimes (`h/models/token.py`, `h/services/developer_token.py`,
//! `h/services/oauth/_bearer_token.py`).

use std::collections::HashMap;

use sqlx::{AssertSqlSafe, Column, Row};

use super::exec::{Exec, HeldConnection};
use super::rows::{USER_COLS, UserRow};
use super::steps::Steps;
use super::{Db, StoreError};
use crate::domain::ids::random_token;
use crate::domain::time::now_micros;
use crate::domain::{Identity, Role, User};

/// Developer tokens never expire.
pub const DEVELOPER_PREFIX: &str = "6879-";
/// OAuth access tokens live an hour.
pub const ACCESS_PREFIX: &str = "5768-";
/// OAuth refresh tokens live a week.
pub const REFRESH_PREFIX: &str = "4657-";
pub const ACCESS_TTL_SECS: i64 = 3600;
pub const REFRESH_TTL_SECS: i64 = 7 * 24 * 3600;
/// After a refresh, the used refresh token stays valid this long (h cuts it to 3 minutes).
pub const USED_REFRESH_GRACE_SECS: i64 = 180;
const MICROS: i64 = 1_000_000;

/// The outcome of looking a bearer token up.
#[derive(Clone, Debug)]
pub struct TokenLookup {
    pub user: User,
    /// Expiry in microseconds; `None` for developer tokens.
    pub expires: Option<i64>,
    pub created: i64,
    pub authclient: Option<AuthClient>,
}

/// An OAuth client that may mint tokens for users of its authority.
#[derive(Clone, Debug, PartialEq)]
pub struct AuthClient {
    pub id: String,
    pub secret: String,
    pub authority: String,
    pub name: Option<String>,
    pub grant_type: String,
}

/// A fresh access/refresh token pair.
#[derive(Clone, Debug)]
pub struct OAuthTokens {
    pub access_token: String,
    pub refresh_token: String,
    pub expires_in: i64,
}

#[derive(sqlx::FromRow)]
struct TokenUserRow {
    #[sqlx(rename = "token_expires")]
    expires: Option<i64>,
    created: i64,
    authclient_id: Option<String>,
    #[sqlx(flatten)]
    user: UserRow,
}

/// A token with its user; the first column's name tells its row apart in a [`Steps`] run.
const TOKEN_USER: &str = "SELECT t.expires AS token_expires, t.created, t.authclient_id, \
     u.id, u.username, u.authority, u.email, u.display_name, u.nipsa, u.deleted, u.preferences \
     FROM tokens t JOIN users u ON u.id = t.user_id WHERE t.value = $1";
/// The group roles of a token's user.
const TOKEN_ROLES: &str = "SELECT g.pubid AS role_group, m.role FROM tokens t \
     JOIN group_members m ON m.user_id = t.user_id JOIN groups g ON g.id = m.group_id \
     WHERE t.value = $1";

/// A row of [`Db::identity_for_token`]'s run, told apart by its first column's name.
enum IdentityRow {
    Token(TokenUserRow),
    /// A group pubid and the user's role in it.
    Role(String, String),
    Other,
}

impl<'r, R: Row> sqlx::FromRow<'r, R> for IdentityRow
where
    TokenUserRow: sqlx::FromRow<'r, R>,
    usize: sqlx::ColumnIndex<R>,
    String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    fn from_row(row: &'r R) -> Result<IdentityRow, sqlx::Error> {
        Ok(match row.columns().first().map(|c| c.name()) {
            Some("token_expires") => IdentityRow::Token(TokenUserRow::from_row(row)?),
            Some("role_group") => IdentityRow::Role(row.try_get(0)?, row.try_get(1)?),
            _ => IdentityRow::Other,
        })
    }
}

/// What a valid token row says besides its user.
struct TokenFacts {
    expires: Option<i64>,
    created: i64,
    authclient_id: Option<String>,
}

impl TokenUserRow {
    /// The row and its user, if the token has not expired and its user is not deleted
    /// (`h/services/auth_token.py`).
    fn valid(self) -> Option<(TokenFacts, User)> {
        if self.expires.is_some_and(|e| e <= now_micros()) {
            return None;
        }
        let user = User::from(self.user);
        let facts = TokenFacts {
            expires: self.expires,
            created: self.created,
            authclient_id: self.authclient_id,
        };
        (!user.deleted).then_some((facts, user))
    }
}

impl Db {
    /// The identity a bearer token stands for, with the user's current group roles, read in
    /// one round trip (token, user and roles together); `None` for an unknown, expired or
    /// deleted user's token.
    pub async fn identity_for_token(&self, value: &str) -> Result<Option<Identity>, sqlx::Error> {
        let mut steps = Steps::default();
        steps.push(TOKEN_USER, vec![value.into()]);
        steps.push(TOKEN_ROLES, vec![value.into()]);
        let mut token = None;
        let mut roles = HashMap::new();
        let rows = HeldConnection::take(self).await?.run_steps(&steps).await?;
        for row in rows {
            match row {
                IdentityRow::Token(row) => token = Some(row),
                IdentityRow::Role(group, role) => {
                    if let Ok(role) = role.parse::<Role>() {
                        roles.insert(group, role);
                    }
                }
                IdentityRow::Other => {}
            }
        }
        Ok(token
            .and_then(TokenUserRow::valid)
            .map(|(_, user)| Identity::new(user, roles)))
    }

    /// [`Db::identity_for_token`] on a direct connection (see [`super::direct`]).
    pub(crate) fn identity_for_token_direct(
        conn: &rusqlite::Connection,
        value: &str,
    ) -> rusqlite::Result<Option<Identity>> {
        let token = {
            let mut stmt = conn.prepare_cached(TOKEN_USER)?;
            let mut rows = stmt.query([value])?;
            match rows.next()? {
                Some(r) => TokenUserRow {
                    expires: r.get("token_expires")?,
                    created: r.get("created")?,
                    authclient_id: r.get("authclient_id")?,
                    user: UserRow::from_direct(r)?,
                },
                None => return Ok(None),
            }
        };
        let Some((_, user)) = token.valid() else {
            return Ok(None);
        };
        let mut roles = HashMap::new();
        let mut stmt = conn.prepare_cached(TOKEN_ROLES)?;
        let mut rows = stmt.query([value])?;
        while let Some(r) = rows.next()? {
            let role: String = r.get(1)?;
            if let Ok(role) = role.parse::<Role>() {
                roles.insert(r.get::<_, String>(0)?, role);
            }
        }
        Ok(Some(Identity::new(user, roles)))
    }

    /// Whether the user has a developer token.
    pub async fn has_developer_token(&self, user: &User) -> Result<bool, sqlx::Error> {
        let (count,): (i64,) = self
            .fetch_one(
                "SELECT COUNT(*) FROM tokens WHERE user_id = $1 AND expires IS NULL \
                 AND authclient_id IS NULL",
                &[user.id.into()],
            )
            .await?;
        Ok(count > 0)
    }

    /// Creates (or replaces, as h's "regenerate" does) a user's developer token.
    pub async fn create_developer_token(&self, user: &User) -> Result<String, sqlx::Error> {
        let value = format!("{DEVELOPER_PREFIX}{}", random_token(43));
        let mut conn = HeldConnection::take(self).await?;
        let mut tx = conn.begin_write().await?;
        tx.execute(
            "DELETE FROM tokens WHERE user_id = $1 AND expires IS NULL AND authclient_id IS NULL",
            &[user.id.into()],
        )
        .await?;
        tx.execute(
            "INSERT INTO tokens (user_id, value, created) VALUES ($1, $2, $3)",
            &[user.id.into(), value.as_str().into(), now_micros().into()],
        )
        .await?;
        tx.commit().await?;
        Ok(value)
    }

    /// Resolves a bearer token: valid if it exists, has not expired, and its user exists and is
    /// not deleted (`h/services/auth_token.py`). Refresh tokens are not looked at.
    pub async fn lookup_token(&self, value: &str) -> Result<Option<TokenLookup>, sqlx::Error> {
        let row: Option<TokenUserRow> = self.fetch_optional(TOKEN_USER, &[value.into()]).await?;
        let Some((row, user)) = row.and_then(TokenUserRow::valid) else {
            return Ok(None);
        };
        let authclient = match &row.authclient_id {
            Some(id) => self.authclient(id).await?,
            None => None,
        };
        Ok(Some(TokenLookup {
            user,
            expires: row.expires,
            created: row.created,
            authclient,
        }))
    }

    /// Issues an access/refresh pair for a user through an auth client.
    pub async fn issue_oauth_tokens(
        &self,
        user: &User,
        client: &AuthClient,
    ) -> Result<OAuthTokens, sqlx::Error> {
        let now = now_micros();
        let tokens = OAuthTokens {
            access_token: format!("{ACCESS_PREFIX}{}", random_token(43)),
            refresh_token: format!("{REFRESH_PREFIX}{}", random_token(43)),
            expires_in: ACCESS_TTL_SECS,
        };
        self.execute(
            "INSERT INTO tokens (user_id, value, expires, refresh_token, refresh_token_expires, \
             authclient_id, created) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                user.id.into(),
                tokens.access_token.as_str().into(),
                (now + ACCESS_TTL_SECS * MICROS).into(),
                tokens.refresh_token.as_str().into(),
                (now + REFRESH_TTL_SECS * MICROS).into(),
                client.id.as_str().into(),
                now.into(),
            ],
        )
        .await?;
        Ok(tokens)
    }

    /// Exchanges a refresh token for a new pair; the old refresh token keeps a short grace period
    /// and the old access token stays valid until it expires. `None` if the refresh token is
    /// unknown or expired.
    pub async fn refresh_oauth_tokens(
        &self,
        refresh_token: &str,
    ) -> Result<Option<(User, AuthClient, OAuthTokens)>, StoreError> {
        let now = now_micros();
        let row: Option<(i64, Option<i64>, Option<String>)> = self
            .fetch_optional(
                "SELECT user_id, refresh_token_expires, authclient_id FROM tokens \
                 WHERE refresh_token = $1",
                &[refresh_token.into()],
            )
            .await?;
        let Some((user_id, Some(expires), Some(client_id))) = row else {
            return Ok(None);
        };
        if expires <= now {
            return Ok(None);
        }
        let Some(user) = self.user_by_id(user_id).await? else {
            return Ok(None);
        };
        let Some(client) = self.authclient(&client_id).await? else {
            return Ok(None);
        };
        if user.deleted {
            return Ok(None);
        }
        let grace = now + USED_REFRESH_GRACE_SECS * MICROS;
        self.execute(
            "UPDATE tokens SET refresh_token_expires = $1 WHERE refresh_token = $2 \
             AND refresh_token_expires > $1",
            &[grace.into(), refresh_token.into()],
        )
        .await?;
        let tokens = self.issue_oauth_tokens(&user, &client).await?;
        Ok(Some((user, client, tokens)))
    }

    /// Deletes the token row holding this access or refresh token (`/oauth/revoke`); unknown
    /// tokens are ignored.
    pub async fn revoke_token(&self, token: &str) -> Result<(), sqlx::Error> {
        self.execute(
            "DELETE FROM tokens WHERE value = $1 OR refresh_token = $1",
            &[token.into()],
        )
        .await?;
        Ok(())
    }

    async fn user_by_id(&self, id: i64) -> Result<Option<User>, sqlx::Error> {
        let sql = format!("SELECT {USER_COLS} FROM users WHERE id = $1");
        let row: Option<UserRow> = self
            .fetch_optional(AssertSqlSafe(sql), &[id.into()])
            .await?;
        Ok(row.map(User::from))
    }

    /// Registers an auth client for the JWT bearer grant.
    pub async fn create_authclient(
        &self,
        authority: &str,
        name: Option<&str>,
    ) -> Result<AuthClient, sqlx::Error> {
        let client = AuthClient {
            id: uuid::Uuid::new_v4().to_string(),
            secret: random_token(43),
            authority: authority.to_owned(),
            name: name.map(str::to_owned),
            grant_type: "jwt_bearer".to_owned(),
        };
        self.insert_authclient(&client).await?;
        Ok(client)
    }

    /// Stores a new auth client.
    pub(crate) async fn insert_authclient(&self, client: &AuthClient) -> Result<(), sqlx::Error> {
        self.execute(
            "INSERT INTO authclients (id, secret, authority, name, grant_type, created) \
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                client.id.as_str().into(),
                client.secret.as_str().into(),
                client.authority.as_str().into(),
                client.name.clone().into(),
                client.grant_type.as_str().into(),
                now_micros().into(),
            ],
        )
        .await?;
        Ok(())
    }

    /// Looks an auth client up by id.
    pub async fn authclient(&self, id: &str) -> Result<Option<AuthClient>, sqlx::Error> {
        let row: Option<(String, String, String, Option<String>, String)> = self
            .fetch_optional(
                "SELECT id, secret, authority, name, grant_type FROM authclients WHERE id = $1",
                &[id.into()],
            )
            .await?;
        Ok(
            row.map(|(id, secret, authority, name, grant_type)| AuthClient {
                id,
                secret,
                authority,
                name,
                grant_type,
            }),
        )
    }
}
