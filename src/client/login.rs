//! First-party login for the client's "Log in" popup (hypothesis-client.md §4.1; h's
//! `h/views/oauth.py`, `h/templates/oauth/authorize_web_message.html.jinja2`):
//!
//! 1. The sidebar opens `/oauth/authorize?client_id=…&origin=…&response_mode=web_message&
//!    response_type=code&state=…` in a popup.
//! 2. Without a session cookie the popup goes to `/login`, a username/password form (argon2
//!    hashes set with `scholia user passwd`), which starts a session and comes back.
//! 3. With a session, the server issues a single-use code and answers a page that posts
//!    `{type: "authorization_response", code, state}` to the sidebar (`window.opener`) and closes.
//! 4. The sidebar exchanges the code at `POST /api/token` (`grant_type=authorization_code`).

use std::collections::HashMap;

use axum::Form;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use serde_json::json;

use super::{html_escape, script_json};
use crate::app::AppState;
use crate::auth::password;
use crate::domain::UserId;
use crate::site::visitor::{SESSION_COOKIE, Visitor, cookie, safe_next, session_cookie};
use crate::site::{csrf_field, page_with};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/login", get(login_form).post(login))
        .route("/oauth/authorize", get(authorize))
}

fn html(status: StatusCode, title: &str, body: &str) -> Response {
    let page = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title><style>body {{ font: 16px/1.5 sans-serif; max-width: 22em; margin: 2em auto; }} \
         label, input, button {{ display: block; width: 100%; margin: .3em 0; }} .error {{ color: #b00; }}</style>\
         </head><body>{body}</body></html>\n",
        title = html_escape(title)
    );
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        page,
    )
        .into_response()
}

/// The login form, in the site's frame (`page_with` adds the CSRF cookie when it is new).
fn form_page(visitor: &Visitor, next: &str, error: Option<&str>) -> Response {
    let encoded = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("next", next)
        .finish();
    let body = maud::html! {
        h1 { "Log in" }
        @if let Some(e) = error { p.error { (e) } }
        form method="post" action="/login" {
            input type="hidden" name="next" value=(next);
            (csrf_field(visitor))
            label for="username" { "Username" }
            input id="username" name="username" autocomplete="username" required autofocus;
            label for="password" { "Password" }
            input id="password" name="password" type="password" autocomplete="current-password" required;
            button type="submit" { "Log in" }
        }
        p.muted {
            a href={ "/signup?" (encoded) } { "Sign up" } " · " a href="/forgot-password" { "Forgot your password?" }
        }
    };
    page_with(visitor, StatusCode::OK, "Log in", body)
}

async fn login_form(visitor: Visitor, Query(q): Query<HashMap<String, String>>) -> Response {
    form_page(
        &visitor,
        &safe_next(q.get("next").map(String::as_str)),
        None,
    )
}

async fn login(
    State(state): State<AppState>,
    visitor: Visitor,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    let next = safe_next(f.get("next").map(String::as_str));
    if let Err(e) = visitor.check_csrf(f.get("csrf").map(String::as_str)) {
        return e.into_response();
    }
    // Wrong passwords are limited per address (right ones cost nothing).
    if !state.attempts().may_try(visitor.addr()) {
        return crate::site::errors::PageError::TooMany.into_response();
    }
    let (Some(username), Some(pass)) = (f.get("username"), f.get("password")) else {
        return form_page(&visitor, &next, Some("Enter your username and password."));
    };
    let userid = if username.starts_with("acct:") {
        username.clone()
    } else {
        UserId::new(username.trim(), state.authority()).to_string()
    };
    let candidate = match state.db().login_candidate(&userid).await {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "login lookup failed");
            return html(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Error",
                "<p>Something went wrong. Try again.</p>",
            );
        }
    };
    // Same answer for an unknown user, a user without a password and a wrong password.
    let wrong = || {
        state.attempts().allow(visitor.addr());
        form_page(&visitor, &next, Some("Wrong username or password."))
    };
    let user = match candidate {
        Some((user, Some(hash))) => {
            if !password::verify(pass.clone(), hash).await {
                return wrong();
            }
            user
        }
        _ => return wrong(),
    };
    match state.db().create_session(user.id).await {
        Ok(token) => {
            let mut r = Redirect::to(&next).into_response();
            r.headers_mut().insert(
                header::SET_COOKIE,
                session_cookie(Some(&token), visitor.secure()),
            );
            r
        }
        Err(e) => {
            tracing::error!(error = %e, "could not start a session");
            html(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Error",
                "<p>Something went wrong. Try again.</p>",
            )
        }
    }
}

fn refuse(reason: &str) -> Response {
    html(
        StatusCode::BAD_REQUEST,
        "Cannot log in",
        &format!("<h1>Cannot log in</h1><p>{}</p>", html_escape(reason)),
    )
}

async fn authorize(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let get = |k: &str| q.get(k).map(String::as_str);
    if get("client_id") != Some(state.first_party_client_id()) {
        return refuse("Unknown client_id.");
    }
    if get("response_type") != Some("code") || get("response_mode") != Some("web_message") {
        return refuse("Only response_type=code with response_mode=web_message is supported.");
    }
    // The code goes to the page named by `origin`: only this server's own pages may get it.
    let ours = url::Url::parse(&state.site().public_url).map(|u| u.origin().ascii_serialization());
    let origin = get("origin").unwrap_or_default();
    if ours.as_deref() != Ok(origin) {
        return refuse("The origin is not this server's.");
    }
    let user = match cookie(&headers, SESSION_COOKIE) {
        Some(token) => state.db().session_user(&token).await.ok().flatten(),
        None => None,
    };
    let Some(user) = user else {
        let here = format!(
            "/oauth/authorize?{}",
            url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(q.iter())
                .finish()
        );
        // The sidebar's "Sign up" opens this popup with `action=signup` (h's oauth.py sends it to
        // the signup form); either form comes back here when done.
        let form = if get("action") == Some("signup") {
            "/signup"
        } else {
            "/login"
        };
        let login = format!(
            "{form}?{}",
            url::form_urlencoded::Serializer::new(String::new())
                .append_pair("next", &here)
                .finish()
        );
        return Redirect::to(&login).into_response();
    };
    let code = match state
        .db()
        .create_authorization_code(user.id, state.first_party_client_id())
        .await
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "could not issue an authorization code");
            return html(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Error",
                "<p>Something went wrong.</p>",
            );
        }
    };
    let message = json!({"type": "authorization_response", "code": code, "state": get("state")});
    html(
        StatusCode::OK,
        "Logged in",
        &format!(
            "<p>Logged in as {}. This window closes by itself.</p>\
             <script>if (window.opener) {{ window.opener.postMessage({}, {}); window.close(); }} \
             else {{ document.body.insertAdjacentHTML(\"beforeend\", \"<p>Open the page you logged in from again.</p>\"); }}</script>",
            html_escape(&user.username),
            script_json(&message),
            script_json(&json!(origin))
        ),
    )
}
