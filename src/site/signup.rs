//! `/signup` (h's `h/views/accounts.py` SignupController) and `/forgot-password`. Registration
//! is off unless the operator opens it (`--open-signup`); scholia sends no email, so a new
//! account is active at once and a forgotten password is reset by the administrator.

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde::Deserialize;

use super::account::{PASSWORD_MIN, check_email};
use super::errors::PageError;
use super::layout::encode;
use super::layout::{csrf_field, page, page_with};
use super::visitor::{Visitor, safe_next, session_cookie};
use crate::app::AppState;
use crate::auth::password;
use crate::domain::user::check_username;
use crate::store::{NewUser, StoreError};

#[derive(Deserialize, Default)]
pub struct SignupForm {
    csrf: Option<String>,
    #[serde(default)]
    username: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    /// Where to go once registered (the sidebar's login popup comes back to its authorize URL).
    next: Option<String>,
}

#[derive(Deserialize, Default)]
pub struct Next {
    next: Option<String>,
}

fn form(visitor: &Visitor, f: &SignupForm, errors: &[String]) -> Markup {
    html! {
        h1 { "Sign up" }
        @for e in errors { p.error { (e) } }
        form method="post" action="/signup" {
            (csrf_field(visitor))
            input type="hidden" name="next" value=(safe_next(f.next.as_deref()));
            label for="username" { "Username (3 to 30 letters, digits, '.' or '_')" }
            input id="username" name="username" value=(f.username) autocomplete="username" required;
            label for="email" { "Email" }
            input id="email" name="email" type="email" value=(f.email) autocomplete="email" required;
            label for="password" { "Password (at least " (PASSWORD_MIN) " characters)" }
            input id="password" name="password" type="password" autocomplete="new-password" required;
            button type="submit" { "Sign up" }
        }
        p.muted { "Have an account? " a href={ "/login?next=" (encode(&safe_next(f.next.as_deref()))) } { "Log in" } }
    }
}

fn closed(visitor: &Visitor, next: Option<&str>) -> Response {
    let body = html! {
        h1 { "Sign up" }
        p { "This server does not take registrations. Ask its administrator for an account; they can make one with "
            code { "scholia user add <name>" } " and " code { "scholia user passwd <name>" } "." }
        p { "Have an account? " a href={ "/login?next=" (encode(&safe_next(next))) } { "Log in" } }
    };
    page(visitor, "Sign up", body)
}

/// `GET /signup`.
pub async fn signup_form(
    State(state): State<AppState>,
    visitor: Visitor,
    Query(q): Query<Next>,
) -> Response {
    if !state.config().open_signup {
        return closed(&visitor, q.next.as_deref());
    }
    if visitor.identity.is_some() {
        return Redirect::to(&safe_next(q.next.as_deref())).into_response();
    }
    let f = SignupForm {
        next: q.next,
        ..SignupForm::default()
    };
    let body = form(&visitor, &f, &[]);
    page(&visitor, "Sign up", body)
}

/// `POST /signup`: creates the user, sets the password, logs them in.
pub async fn signup(
    State(state): State<AppState>,
    visitor: Visitor,
    Form(f): Form<SignupForm>,
) -> Result<Response, PageError> {
    if !state.config().open_signup {
        return Ok(closed(&visitor, f.next.as_deref()));
    }
    visitor.check_csrf(f.csrf.as_deref())?;
    if !state.attempts().allow(visitor.addr()) {
        return Err(PageError::TooMany);
    }
    let username = f.username.trim();
    let email = f.email.trim();
    let mut errors = vec![];
    if let Err(e) = check_username(username) {
        errors.push(e);
    }
    if let Err(e) = check_email(email) {
        errors.push(e.to_owned());
    } else if state.db().email_taken(email).await? {
        errors.push("An account with this email address already exists.".to_owned());
    }
    if f.password.chars().count() < PASSWORD_MIN {
        errors.push(format!(
            "Passwords are at least {PASSWORD_MIN} characters long."
        ));
    }
    let again = |errors: Vec<String>| {
        let body = form(&visitor, &f, &errors);
        page_with(&visitor, StatusCode::BAD_REQUEST, "Sign up", body)
    };
    if !errors.is_empty() {
        return Ok(again(errors));
    }
    let hash = password::hash(f.password.clone())
        .await
        .map_err(PageError::Internal)?;
    let new = NewUser {
        username,
        authority: state.authority(),
        email: Some(email),
        display_name: None,
    };
    let user = match state.db().create_user(&new).await {
        Ok(u) => u,
        Err(StoreError::Conflict(_)) => {
            return Ok(again(vec!["This username is taken.".to_owned()]));
        }
        Err(e) => return Err(e.into()),
    };
    state.db().set_password_hash(user.id, &hash).await?;
    let token = state.db().create_session(user.id).await?;
    tracing::info!(userid = %user.userid(), "new account by signup");
    let mut r = Redirect::to(&safe_next(f.next.as_deref())).into_response();
    r.headers_mut().insert(
        header::SET_COOKIE,
        session_cookie(Some(&token), visitor.secure()),
    );
    Ok(r)
}

/// `/forgot-password`: there is no email to send a link to.
pub async fn forgot_password(visitor: Visitor) -> Response {
    let body = html! {
        h1 { "Forgot your password?" }
        p { "This server sends no email. Ask its administrator to set a new password with "
            code { "scholia user passwd <your username>" } "." }
    };
    page(&visitor, "Forgot your password?", body)
}
