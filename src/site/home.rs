//! `/` (what this server is and where to go from here) and `/docs/help`.

use axum::extract::State;
use axum::response::Response;
use maud::html;

use super::errors::PageError;
use super::layout::page;
use super::visitor::Visitor;
use crate::app::AppState;

/// `/`.
pub async fn home(State(state): State<AppState>, visitor: Visitor) -> Result<Response, PageError> {
    let groups = match &visitor.identity {
        Some(who) => state.db().groups_of(who.user.id).await?,
        None => vec![],
    };
    let base = &state.site().public_url;
    let body = html! {
        h1 { "scholia" }
        p { "An annotation server for the Hypothesis client, with the Real Time API: annotations on this server reach every reader who may see them the moment they are written. "
            "Version " (env!("CARGO_PKG_VERSION")) ", at " code { (base) } "." }
        @if let Some(who) = &visitor.identity {
            p { "Logged in as " a href={ "/users/" (who.user.username) } { (who.userid) } "." }
            h2 { "Your groups" }
            ul {
                @for g in &groups {
                    li { a href={ "/groups/" (g.pubid) "/" (g.slug()) } { (g.name) } }
                }
                li { a href="/groups/new" { "Create a group" } }
            }
            p { a href="/account/settings" { "Account settings" } " · " a href="/account/developer" { "Developer token" } }
        } @else {
            p { a href="/login" { "Log in" } @if state.config().open_signup { " or " a href="/signup" { "sign up" } } "." }
        }
        h2 { "Start here" }
        ul {
            li { a href="/stream" { "The live stream" } ": public annotations as they are written." }
            @if state.demo().is_some() {
                li { a href="/demo?user=alice" { "The demo page" } ": annotate as Alice in one window and as Bob in another." }
            }
            li { "Put the client on a page of yours: " code { "<script src=\"" (base) "/embed.js\"></script>" } }
            li { a href="/docs/help" { "Help" } " · " a href="/api/" { "The HTTP API" } }
        }
    };
    Ok(page(&visitor, "scholia", body))
}

/// `/docs/help` (the client's `help` link).
pub async fn help(State(state): State<AppState>, visitor: Visitor) -> Response {
    let base = &state.site().public_url;
    let body = html! {
        h1 { "Help" }
        h2 { "Annotating" }
        p { "Pages that load " code { (base) "/embed.js" } " show the Hypothesis sidebar. Select text and choose Annotate or Highlight; "
            "write a page note from the sidebar. Public annotations are seen by everyone; a group's by its members; "
            "\"Only me\" ones by you alone." }
        h2 { "Groups" }
        p { a href="/groups/new" { "Create a group" } ", then send its page's address to the people you want in it: "
            "anyone logged in who opens a private group's page may join it." }
        h2 { "Scripts and bots" }
        p { "Get a token at " a href="/account/developer" { "your developer page" } ". The HTTP API is listed at "
            a href="/api/" { "/api/" } "; live updates come over the WebSocket at " code { (state.websocket_url()) }
            " (the same protocol as Hypothesis' Real Time API) or as server-sent events from " code { "/api/stream" } "." }
    };
    page(&visitor, "Help", body)
}
