//! Activity pages (h's `h/views/activity.py`): a user's annotations at `/users/<username>` (and
//! h's old `/u/<user>`, which the client's `links.user` names), and `/search?q=…`, which the
//! client's tag links open. Each lists what the visitor may read, newest first, paged.

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use serde::Deserialize;

use super::cards;
use super::errors::PageError;
use super::layout::{encode, page};
use super::visitor::Visitor;
use crate::app::AppState;
use crate::domain::UserId;
use crate::store::SearchQuery;

#[derive(Deserialize, Default)]
pub struct Paging {
    page: Option<i64>,
    q: Option<String>,
}

/// `/u/<user>`: the client links an author as `:user` = username (or a whole userid). Only
/// users of this server's authority have pages here; another authority's `bob` is not ours.
pub async fn user_redirect(
    State(state): State<AppState>,
    Path(user): Path<String>,
) -> Result<Response, PageError> {
    let name = match UserId::parse(&user) {
        Some(u) if u.authority == state.authority() => u.username,
        Some(_) => return Err(PageError::NotFound),
        None => user,
    };
    Ok(Redirect::permanent(&format!("/users/{}", encode(&name))).into_response())
}

/// Longest `q` and most terms a search page takes (each term is a clause of the query).
const Q_MAX_BYTES: usize = 1_000;
const Q_MAX_TERMS: usize = 20;

/// `/users/<username>`.
pub async fn user_page(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(username): Path<String>,
    Query(paging): Query<Paging>,
) -> Result<Response, PageError> {
    let userid = UserId::new(&username, state.authority()).to_string();
    let user = state
        .db()
        .user_by_userid(&userid)
        .await?
        .filter(|u| !u.deleted)
        .ok_or(PageError::NotFound)?;
    let query = SearchQuery {
        users: vec![user.userid().to_string()],
        ..SearchQuery::default()
    };
    let base = format!("/users/{}", encode(&user.username));
    let list = cards::list(
        &state,
        visitor.identity.as_ref(),
        query,
        paging.page.unwrap_or(1),
        &base,
    )
    .await?;
    let title = user.display_name.clone().unwrap_or(user.username.clone());
    let body = html! {
        h1 { (title) }
        p.muted { (user.userid().to_string()) }
        (list)
    };
    Ok(page(&visitor, &title, body))
}

/// What a `/search` box understands: `tag:`, `user:`, `group:` and `uri:` terms (quoted values
/// may hold spaces, as the client's tag links send them), and words matched anywhere.
pub fn parse_q(q: &str) -> SearchQuery {
    let mut query = SearchQuery::default();
    for term in terms(q).into_iter().take(Q_MAX_TERMS) {
        let (field, value) = match term.split_once(':') {
            Some((f, v)) if ["tag", "user", "group", "uri"].contains(&f) => (f, v),
            _ => ("", term.as_str()),
        };
        let value = value.trim_matches('"').to_owned();
        if value.is_empty() {
            continue;
        }
        match field {
            "tag" => query.tags.push(value.to_lowercase()),
            "user" => query.users.push(value),
            "group" => query.groups.push(value),
            "uri" => query.uris.push(crate::store::search::UriMatch {
                uris: vec![crate::uri::normalize(&value).unwrap_or_else(|_| value.clone())],
                version: None,
                all_versions: true,
            }),
            _ => query.any.push(value),
        }
    }
    query
}

/// Splits on spaces outside double quotes.
fn terms(q: &str) -> Vec<String> {
    let mut out = vec![];
    let mut cur = String::new();
    let mut quoted = false;
    for c in q.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                cur.push(c);
            }
            c if c.is_whitespace() && !quoted => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// `/search?q=…`.
pub async fn search_page(
    State(state): State<AppState>,
    visitor: Visitor,
    Query(paging): Query<Paging>,
) -> Result<Response, PageError> {
    let q = paging.q.unwrap_or_default();
    let q = q.trim();
    if q.len() > Q_MAX_BYTES {
        return Err(PageError::BadRequest(format!(
            "A search is at most {Q_MAX_BYTES} characters."
        )));
    }
    let list = if q.is_empty() {
        None
    } else {
        let base = format!("/search?q={}", encode(q));
        Some(
            cards::list(
                &state,
                visitor.identity.as_ref(),
                parse_q(q),
                paging.page.unwrap_or(1),
                &base,
            )
            .await?,
        )
    };
    let body = html! {
        h1 { "Search" }
        form method="get" action="/search" {
            label for="q" { "Words, or tag:, user:, group:, uri: terms" }
            input id="q" name="q" value=(q) autofocus;
            button type="submit" { "Search" }
        }
        @if let Some(list) = list { (list) }
    };
    Ok(page(&visitor, "Search", body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tag_link_with_a_quoted_value_is_one_tag() {
        let q = parse_q("tag:\"Open Access\" user:alice  climate");
        assert_eq!(q.tags, vec!["open access"]);
        assert_eq!(q.users, vec!["alice"]);
        assert_eq!(q.any, vec!["climate"]);
    }

    #[test]
    fn unknown_fields_are_words() {
        let q = parse_q("foo:bar");
        assert_eq!(q.any, vec!["foo:bar"]);
        assert!(q.tags.is_empty());
    }
}
