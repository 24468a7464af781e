//! The demo page, served only with `serve --demo`: a sample article with the Hypothesis client.
//!
//! - `/demo?user=alice` (or `bob`): logged in as that demo user. The server mints the user a
//!   grant token (hypothesis-client.md §4.2) signed with a demo auth client's secret, so the
//!   unmodified client logs in at boot with no password. Open it as Alice in one window and as
//!   Bob in another, and each sees the other's annotations arrive live.
//! - `/demo`: anonymous, with the client's own "Log in" popup (first-party OAuth, for users with
//!   a password set by `scholia user passwd`).

use axum::Router;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use serde_json::json;

use super::{html_escape, script_json};
use crate::api::error::ApiError;
use crate::app::AppState;
use crate::store::{Db, NewUser, StoreError};

/// The demo users (username, display name).
pub const USERS: [(&str, &str); 2] = [("alice", "Alice (demo)"), ("bob", "Bob (demo)")];

/// The auth client whose secret signs demo grant tokens.
#[derive(Clone, Debug)]
pub struct DemoClient {
    pub id: String,
    pub secret: String,
}

/// Makes sure the demo users exist and registers a fresh auth client for this run.
pub async fn setup(db: &Db, authority: &str) -> anyhow::Result<DemoClient> {
    for (username, display_name) in USERS {
        let new = NewUser {
            username,
            authority,
            email: None,
            display_name: Some(display_name),
        };
        match db.create_user(&new).await {
            Ok(_) | Err(StoreError::Conflict(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let client = db
        .create_authclient(authority, Some("scholia demo page"))
        .await?;
    Ok(DemoClient {
        id: client.id,
        secret: client.secret,
    })
}

pub fn router() -> Router<AppState> {
    Router::new().route("/demo", get(page))
}

#[derive(Deserialize)]
struct Params {
    user: Option<String>,
}

/// A grant token for `userid`, valid for ten minutes (the longest h accepts), addressed to the
/// host the client will send it to.
fn grant_token(client: &DemoClient, userid: &str, audience: &str) -> anyhow::Result<String> {
    let now = crate::domain::time::now_micros() / 1_000_000;
    let claims =
        json!({"iss": client.id, "sub": userid, "aud": audience, "nbf": now - 5, "exp": now + 595});
    Ok(jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(client.secret.as_bytes()),
    )?)
}

async fn page(
    State(state): State<AppState>,
    Query(p): Query<Params>,
) -> Result<Response, ApiError> {
    let Some(client) = state.demo() else {
        return Err(ApiError::NotFound);
    };
    let base = &state.site().public_url;
    let (intro, config) = match p.user.as_deref() {
        None => (
            format!(
                "You are not logged in. Log in from the sidebar (users get a password with \
                 <code>scholia user passwd</code>), or open this page as \
                 <a href=\"{base}/demo?user=alice\">alice</a> or <a href=\"{base}/demo?user=bob\">bob</a>."
            ),
            json!({"openSidebar": true}),
        ),
        Some(username) => {
            let Some((username, display)) = USERS.iter().find(|(u, _)| *u == username) else {
                return Err(ApiError::BadRequest(format!(
                    "user: unknown demo user {username:?}; use alice or bob"
                )));
            };
            let userid = format!("acct:{username}@{}", state.authority());
            let audience = url::Url::parse(base)
                .ok()
                .and_then(|u| u.host_str().map(str::to_owned))
                .unwrap_or_default();
            let token = grant_token(client, &userid, &audience).map_err(ApiError::Internal)?;
            let other = if *username == "alice" { "bob" } else { "alice" };
            (
                format!(
                    "You are {}. Open <a href=\"{base}/demo?user={other}\" target=\"_blank\">this page as {other}</a> \
                     in another window, annotate in one, and watch the other.",
                    html_escape(display)
                ),
                json!({
                    "openSidebar": true,
                    "services": [{"apiUrl": format!("{base}/api/"), "authority": state.authority(), "grantToken": token}],
                }),
            )
        }
    };
    let page = format!(
        r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>scholia demo: a page to annotate</title>
<link rel="canonical" href="{base}/demo">
<style>body {{ font: 18px/1.6 Georgia, serif; max-width: 40em; margin: 2em auto 2em 2em; }}</style>
</head>
<body>
<p><em>{intro}</em></p>
<h1>On the Margins</h1>
<p>Readers have written in the margins of books for as long as there have been books. A
marginal note is a conversation with the text and, when others can read it, with other
readers. Annotation on the web carries that habit to every page: select a passage, say
something about it, and let the next reader see it.</p>
<p>The notes here live on a scholia server. Each one is stored once and pushed, as soon as it
is saved, to every reader who has this page open and may see it.</p>
<script>window.hypothesisConfig = function () {{ return {config}; }};</script>
<script src="{base}/embed.js"></script>
</body>
</html>
"#,
        config = script_json(&config),
    );
    Ok(([(header::CONTENT_TYPE, "text/html; charset=utf-8")], page).into_response())
}
