//! The logged-in user's own pages (h's `h/views/accounts.py`): `/account/settings` (email,
//! password, other sessions), `/account/developer` (the developer API token) and `/logout`.

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde::Deserialize;

use super::errors::PageError;
use super::layout::{csrf_field, login_first, page, page_with};
use super::visitor::{Visitor, session_cookie};
use crate::app::AppState;
use crate::auth::password;
use crate::domain::Identity;

/// h's shortest password (`h/schemas/forms/accounts`: PASSWORD_MIN_LENGTH).
pub const PASSWORD_MIN: usize = password::MIN_LENGTH;

/// What the site takes as an email address: an `@`, at most 100 bytes (h's limit), and ASCII
/// only, so that both engines compare addresses alike (PostgreSQL's `LOWER` folds all of
/// Unicode, SQLite's only ASCII).
pub fn check_email(email: &str) -> Result<(), &'static str> {
    if email.len() > 100 || !email.contains('@') || !email.is_ascii() || email.contains(' ') {
        return Err("Enter an email address (at most 100 characters, no accents).");
    }
    Ok(())
}

#[derive(Deserialize, Default)]
pub struct Done {
    done: Option<String>,
}

#[derive(Deserialize, Default)]
pub struct SettingsForm {
    csrf: Option<String>,
    #[serde(default)]
    action: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    new_password_again: String,
}

fn settings_body(
    visitor: &Visitor,
    who: &Identity,
    notice: Option<&str>,
    error: Option<&str>,
) -> Markup {
    html! {
        h1 { "Account settings" }
        p.muted { "Logged in as " (who.userid) }
        @if let Some(n) = notice { p.notice { (n) } }
        @if let Some(e) = error { p.error { (e) } }
        h2 { "Email" }
        form method="post" action="/account/settings" {
            (csrf_field(visitor))
            input type="hidden" name="action" value="email";
            label for="email" { "Email address" }
            input id="email" name="email" type="email" value=(who.user.email.clone().unwrap_or_default());
            label for="email-password" { "Your password" }
            input id="email-password" name="password" type="password" autocomplete="current-password" required;
            button type="submit" { "Change email" }
        }
        h2 { "Password" }
        form method="post" action="/account/settings" {
            (csrf_field(visitor))
            input type="hidden" name="action" value="password";
            label for="current" { "Current password" }
            input id="current" name="password" type="password" autocomplete="current-password" required;
            label for="new" { "New password (at least " (PASSWORD_MIN) " characters)" }
            input id="new" name="new_password" type="password" autocomplete="new-password" required;
            label for="again" { "New password again" }
            input id="again" name="new_password_again" type="password" autocomplete="new-password" required;
            button type="submit" { "Change password" }
        }
        h2 { "Sessions" }
        form method="post" action="/account/settings" {
            (csrf_field(visitor))
            input type="hidden" name="action" value="sessions";
            p { "Log out of every other browser where you are logged in, and out of every Hypothesis sidebar (log in there again where you still want it). Your developer token stays." }
            button type="submit" { "Log out other sessions" }
        }
        h2 { "API token" }
        p { a href="/account/developer" { "Your developer token" } }
    }
}

/// `GET /account/settings`.
pub async fn settings(visitor: Visitor, Query(done): Query<Done>) -> Response {
    let Some(who) = &visitor.identity else {
        return login_first("/account/settings");
    };
    let notice = match done.done.as_deref() {
        Some("email") => Some("Your email address was changed."),
        Some("password") => Some(
            "Your password was changed; your other sessions and every logged-in sidebar were logged out.",
        ),
        Some("sessions") => {
            Some("Your other sessions and every logged-in sidebar were logged out.")
        }
        _ => None,
    };
    let body = settings_body(&visitor, who, notice, None);
    page(&visitor, "Account settings", body)
}

/// Whether `pass` is the user's password. Wrong guesses count against the address like the
/// login form's: a stolen session must not become a way to guess the password.
async fn password_ok(
    state: &AppState,
    visitor: &Visitor,
    who: &Identity,
    pass: &str,
) -> Result<bool, PageError> {
    if !state.attempts().may_try(visitor.addr()) {
        return Err(PageError::TooMany);
    }
    let hash = state
        .db()
        .login_candidate(&who.userid)
        .await?
        .and_then(|(_, hash)| hash);
    let ok = match hash {
        Some(hash) => password::verify(pass.to_owned(), hash).await,
        None => false,
    };
    if !ok {
        state.attempts().allow(visitor.addr());
    }
    Ok(ok)
}

/// `POST /account/settings`.
pub async fn change_settings(
    State(state): State<AppState>,
    visitor: Visitor,
    Form(f): Form<SettingsForm>,
) -> Result<Response, PageError> {
    visitor.check_csrf(f.csrf.as_deref())?;
    let (Some(who), Some(session)) = (&visitor.identity, visitor.session()) else {
        return Ok(login_first("/account/settings"));
    };
    let refuse = |why: &str| {
        let body = settings_body(&visitor, who, None, Some(why));
        page_with(&visitor, StatusCode::BAD_REQUEST, "Account settings", body)
    };
    match f.action.as_str() {
        "email" => {
            let email = f.email.trim();
            if !email.is_empty()
                && let Err(e) = check_email(email)
            {
                return Ok(refuse(e));
            }
            if !password_ok(&state, &visitor, who, &f.password).await? {
                return Ok(refuse("Wrong password."));
            }
            let mine = who
                .user
                .email
                .as_deref()
                .is_some_and(|e| e.eq_ignore_ascii_case(email));
            if !email.is_empty() && !mine && state.db().email_taken(email).await? {
                return Ok(refuse("Another account uses this email address."));
            }
            let email = (!email.is_empty()).then_some(email);
            state.db().set_email(who.user.id, email).await?;
        }
        "password" => {
            if !password_ok(&state, &visitor, who, &f.password).await? {
                return Ok(refuse("Wrong current password."));
            }
            if f.new_password.chars().count() < PASSWORD_MIN {
                return Ok(refuse("The new password is too short."));
            }
            if f.new_password != f.new_password_again {
                return Ok(refuse("The two new passwords differ."));
            }
            let hash = password::hash(f.new_password.clone())
                .await
                .map_err(PageError::Internal)?;
            state.db().set_password_hash(who.user.id, &hash).await?;
            log_out_elsewhere(&state, who, session).await?;
        }
        "sessions" => log_out_elsewhere(&state, who, session).await?,
        _ => return Err(PageError::BadRequest("Unknown settings form.".into())),
    }
    Ok(Redirect::to(&format!("/account/settings?done={}", f.action)).into_response())
}

/// Ends the user's other browser sessions and revokes the OAuth tokens of every sidebar they
/// are logged in to (this browser's too: it logs in again). The developer token stays; the
/// developer page regenerates it.
async fn log_out_elsewhere(state: &AppState, who: &Identity, keep: &str) -> Result<(), PageError> {
    state.db().delete_other_sessions(who.user.id, keep).await?;
    state.db().revoke_oauth_tokens_of(who.user.id).await?;
    Ok(())
}

/// `GET /account/developer`: the token, if the user has one, and the button to (re)generate it.
pub async fn developer(
    State(state): State<AppState>,
    visitor: Visitor,
) -> Result<Response, PageError> {
    let Some(who) = &visitor.identity else {
        return Ok(login_first("/account/developer"));
    };
    let token = state.db().developer_token_of(who.user.id).await?;
    let body = html! {
        h1 { "Developer token" }
        p { "Scripts and bots use this token to call the API and the WebSocket as you: send it as "
            code { "Authorization: Bearer <token>" } ". Keep it secret." }
        @if let Some((value, created)) = &token {
            code.token #token { (value) }
            p.muted { "Made " (super::cards::date(*created)) ". Regenerating it stops the old one at once." }
        } @else {
            p { "You have no developer token yet." }
        }
        form method="post" action="/account/developer" {
            (csrf_field(&visitor))
            button type="submit" { @if token.is_some() { "Regenerate your token" } @else { "Generate your token" } }
        }
    };
    Ok(page(&visitor, "Developer token", body))
}

#[derive(Deserialize)]
pub struct CsrfOnly {
    csrf: Option<String>,
}

/// `POST /account/developer`.
pub async fn generate_token(
    State(state): State<AppState>,
    visitor: Visitor,
    Form(f): Form<CsrfOnly>,
) -> Result<Response, PageError> {
    visitor.check_csrf(f.csrf.as_deref())?;
    let Some(who) = &visitor.identity else {
        return Ok(login_first("/account/developer"));
    };
    state.db().create_developer_token(&who.user).await?;
    Ok(Redirect::to("/account/developer").into_response())
}

/// `GET /logout` (h has one): a button, since a link must not change anything.
pub async fn logout_page(visitor: Visitor) -> Response {
    if visitor.session().is_none() {
        return Redirect::to("/").into_response();
    }
    let body = html! {
        h1 { "Log out" }
        form method="post" action="/logout" {
            (csrf_field(&visitor))
            button type="submit" { "Log out" }
        }
    };
    page(&visitor, "Log out", body)
}

/// `POST /logout`: ends this session. Without one (it expired) there is nothing to protect:
/// the stale cookie is just cleared.
pub async fn logout(
    State(state): State<AppState>,
    visitor: Visitor,
    Form(f): Form<CsrfOnly>,
) -> Result<Response, PageError> {
    if let Some(session) = visitor.session() {
        visitor.check_csrf(f.csrf.as_deref())?;
        state.db().delete_session(session).await?;
    }
    let mut r = Redirect::to("/").into_response();
    r.headers_mut()
        .insert(header::SET_COOKIE, session_cookie(None, visitor.secure()));
    Ok(r)
}
