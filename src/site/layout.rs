//! The frame every page shares: the head, a bar saying who is logged in, and the stylesheet.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{DOCTYPE, Markup, html};

use super::visitor::Visitor;

/// The site's one stylesheet, served at [`STYLESHEET`].
pub const CSS: &str = include_str!("site.css");
pub const STYLESHEET: &str = "/assets/site.css";

fn head(title: &str) -> Markup {
    html! {
        meta charset="utf-8";
        meta name="viewport" content="width=device-width, initial-scale=1";
        title { (title) " · scholia" }
        link rel="stylesheet" href=(STYLESHEET);
    }
}

/// A page without the visitor's bar (errors, which may come before we know the visitor).
pub fn bare(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head { (head(title)) }
            body {
                header.bar { a.brand href="/" { "scholia" } }
                main { (body) }
            }
        }
    }
}

/// A full page for `visitor`, answered 200.
pub fn page(visitor: &Visitor, title: &str, body: Markup) -> Response {
    page_with(visitor, StatusCode::OK, title, body)
}

/// A full page with a status of its own (a form shown again with its errors: 400).
pub fn page_with(visitor: &Visitor, status: StatusCode, title: &str, body: Markup) -> Response {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head { (head(title)) }
            body {
                header.bar {
                    a.brand href="/" { "scholia" }
                    nav {
                        a href="/stream" { "Stream" }
                        @if let Some(who) = &visitor.identity {
                            a href={ "/users/" (who.user.username) } { (who.user.username) }
                            a href="/groups/new" { "New group" }
                            a href="/account/settings" { "Account" }
                            form.inline method="post" action="/logout" {
                                input type="hidden" name="csrf" value=(visitor.csrf_token());
                                button.link type="submit" { "Log out" }
                            }
                        } @else {
                            a href="/login" { "Log in" }
                            a href="/signup" { "Sign up" }
                        }
                    }
                }
                main { (body) }
                footer {
                    "scholia " (env!("CARGO_PKG_VERSION"))
                    " · " a href="/docs/help" { "Help" }
                    " · " a href="/api/" { "API" }
                }
            }
        }
    };
    let response = (status, [(header::CACHE_CONTROL, "no-store")], markup).into_response();
    visitor.finish(no_framing(response))
}

/// Pages with forms must not be framed by other sites, where a click could be stolen
/// (clickjacking). Only the sidebar's own pages (`src/client/`) are meant to be framed.
pub fn no_framing(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(
        header::X_FRAME_OPTIONS,
        header::HeaderValue::from_static("DENY"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        header::HeaderValue::from_static("frame-ancestors 'none'"),
    );
    response
}

/// What [`encode`] leaves alone: RFC 3986's unreserved characters.
const UNRESERVED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A path segment or query value, percent-encoded (ASCII, safe in a `Location` header).
pub fn encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, UNRESERVED).to_string()
}

/// The hidden field every form carries.
pub fn csrf_field(visitor: &Visitor) -> Markup {
    html! { input type="hidden" name="csrf" value=(visitor.csrf_token()); }
}

/// `/assets/site.css`.
pub async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        CSS,
    )
        .into_response()
}

/// Sends a logged-out visitor to the login form, to come back to `here`.
pub fn login_first(here: &str) -> Response {
    let next = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("next", here)
        .finish();
    Redirect::to(&format!("/login?{next}")).into_response()
}
