//! An annotation as the site's lists show it: quote, text, tags, author, group, date, and
//! links to its document and to `/a/<id>`. Everything users wrote goes through maud's escaping.

use std::collections::HashMap;

use maud::{Markup, html};

use super::errors::PageError;
use super::layout::encode;
use crate::app::AppState;
use crate::domain::{Annotation, Group, UserId};
use crate::store::SearchQuery;

/// Annotations per page of a list.
pub const PAGE_SIZE: i64 = 20;

/// The text the annotation quotes (its TextQuoteSelector's `exact`), if any.
pub fn quote(ann: &Annotation) -> Option<&str> {
    ann.target_selectors.iter().find_map(|s| {
        (s.get("type")?.as_str()? == "TextQuoteSelector")
            .then(|| s.get("exact")?.as_str())
            .flatten()
    })
}

/// `2026-12-03 16:40 UTC`.
pub fn date(micros: i64) -> String {
    let iso = crate::domain::time::format_micros(micros);
    format!("{} {} UTC", &iso[..10], &iso[11..16])
}

/// One annotation in a list. Its author links to their page when they are a user of this
/// server's `authority` (another authority's `bob` is not our `bob`).
pub fn card(ann: &Annotation, group: Option<&Group>, authority: &str) -> Markup {
    let parsed = UserId::parse(&ann.userid);
    let local = parsed.as_ref().is_some_and(|u| u.authority == authority);
    let author = parsed.map_or_else(|| ann.userid.clone(), |u| u.username);
    html! {
        article.card data-id=(ann.id) {
            @if let Some(q) = quote(ann) { blockquote { (q) } }
            @if !ann.text.is_empty() { div.text { (ann.text) } }
            @if !ann.tags.is_empty() {
                div.tags { @for t in &ann.tags { span { (t) } } }
            }
            div.meta {
                @if local {
                    a href={ "/users/" (encode(&author)) } { (author) }
                } @else {
                    span.author { (ann.userid) }
                }
                @if let Some(g) = group {
                    " in " a href={ "/groups/" (g.pubid) "/" (g.slug()) } { (g.name) }
                }
                " · " a href={ "/a/" (ann.id) } { time datetime=(crate::domain::time::format_micros(ann.updated)) { (date(ann.updated)) } }
                " · on "
                @if let Some(href) = web_link(&ann.target_uri) {
                    a.doc href=(href) rel="nofollow noopener" { (short_uri(&ann.target_uri)) }
                } @else {
                    span.doc { (short_uri(&ann.target_uri)) }
                }
            }
        }
    }
}

/// The address as a link target, only for the web's own schemes: a document's URI is whatever
/// its annotator sent, and a `javascript:` one must never become a link.
pub fn web_link(uri: &str) -> Option<&str> {
    let lower = uri.get(..8).unwrap_or(uri).to_ascii_lowercase();
    (lower.starts_with("http://") || lower.starts_with("https://")).then_some(uri)
}

/// A document's address, shortened for a list.
fn short_uri(uri: &str) -> String {
    let bare = uri
        .trim_start_matches("https://")
        .trim_start_matches("http://");
    if bare.chars().count() > 60 {
        let cut: String = bare.chars().take(57).collect();
        format!("{cut}…")
    } else {
        bare.to_owned()
    }
}

/// One page (1-based) of what `query` finds for `viewer`, newest first, with links to the
/// pages before and after (`base` is the list's own path and query, without `page`).
pub async fn list(
    state: &AppState,
    viewer: Option<&crate::domain::Identity>,
    mut query: SearchQuery,
    page: i64,
    base: &str,
) -> Result<Markup, PageError> {
    let page = page.clamp(1, 500);
    query.limit = PAGE_SIZE;
    query.offset = (page - 1) * PAGE_SIZE;
    let found = state.db().search(&query, viewer).await?;
    let mut groups: HashMap<String, Option<Group>> = HashMap::new();
    for ann in &found.rows {
        if !groups.contains_key(&ann.groupid) {
            let g = state.group_by_pubid(&ann.groupid).await?;
            groups.insert(ann.groupid.clone(), g);
        }
    }
    let sep = if base.contains('?') { '&' } else { '?' };
    let pages = (found.total + PAGE_SIZE - 1) / PAGE_SIZE;
    Ok(html! {
        p.muted { (found.total) @if found.total == 1 { " annotation" } @else { " annotations" } }
        @for ann in &found.rows {
            (card(ann, groups.get(&ann.groupid).and_then(Option::as_ref), state.authority()))
        }
        @if pages > 1 {
            nav.pager {
                @if page > 1 { a href={ (base) (sep) "page=" (page - 1) } { "← Newer" } }
                span.muted { "Page " (page) " of " (pages) }
                @if page < pages { a href={ (base) (sep) "page=" (page + 1) } { "Older →" } }
            }
        }
    })
}
