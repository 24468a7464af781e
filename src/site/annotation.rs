//! `/a/<id>`, the client's share link. Like h's bouncer (hypothesis/bouncer), it sends the
//! visitor to the annotated document with `#annotations:<id>`, where an embedded client opens
//! straight on that annotation, but only for a document that can take the client: an HTML page
//! on a site known to load this server's `/embed.js` (see [`Embedders`]). A PDF, a page of any
//! other site, or a non-web URI gets a plain page showing the annotation itself, with a link to
//! try the document anyway. Who may see it is decided as for `GET /api/annotations/<id>`.

use std::collections::HashSet;
use std::sync::Mutex;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::html;
use serde::Deserialize;

use super::cards::{self, web_link};
use super::errors::PageError;
use super::layout::page;
use super::visitor::Visitor;
use crate::app::AppState;
use crate::domain::{AnnotationId, UserId, authz};

/// Origins whose pages have loaded `/embed.js` since this node started (the `Referer` of those
/// requests). A browser sends a cross-origin page's origin, not its path, so this knows sites,
/// not pages. Bounded in count and length (at most ~3 MB), so that a flood of forged referers
/// costs a fixed amount of memory; once full, new sites are not learnt until a restart. A
/// forged referer can only make `/a/<id>` redirect where the annotation itself points (as
/// h's bouncer always does), never elsewhere.
#[derive(Debug, Default)]
pub struct Embedders(Mutex<HashSet<String>>);

const EMBEDDERS_MAX: usize = 10_000;
/// Longer origins are not recorded (a host name is at most 253 bytes).
const ORIGIN_MAX_BYTES: usize = 300;

impl Embedders {
    /// Notes the origin of a page that loaded the client.
    pub fn record(&self, referer: &str) {
        let Ok(url) = url::Url::parse(referer) else {
            return;
        };
        // The sidebar's own pages load the boot script too; they are not documents.
        if ["/app.html", "/notebook", "/user-profile"].contains(&url.path()) {
            return;
        }
        let origin = url.origin().ascii_serialization();
        if origin.len() > ORIGIN_MAX_BYTES {
            return;
        }
        if let Ok(mut set) = self.0.lock()
            && (set.len() < EMBEDDERS_MAX || set.contains(&origin))
        {
            set.insert(origin);
        }
    }

    /// Whether `uri` is an HTML page of a site that embeds the client.
    pub fn can_take_client(&self, uri: &str) -> bool {
        let Ok(url) = url::Url::parse(uri) else {
            return false;
        };
        let pdf = url.path().to_ascii_lowercase().ends_with(".pdf");
        let origin = url.origin().ascii_serialization();
        !pdf && self.0.lock().is_ok_and(|set| set.contains(&origin))
    }
}

/// The document's address with the client's fragment, which opens the sidebar on `id`.
fn in_context(uri: &str, id: &str) -> String {
    let base = uri.split_once('#').map_or(uri, |(b, _)| b);
    format!("{base}#annotations:{id}")
}

#[derive(Deserialize, Default)]
pub struct View {
    /// `?view=page`: the plain page even where a redirect would go.
    view: Option<String>,
}

/// `/a/<id>`.
pub async fn annotation_page(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<String>,
    Query(view): Query<View>,
) -> Result<Response, PageError> {
    let id = AnnotationId::parse(&id).ok_or(PageError::NotFound)?;
    let ann = state
        .db()
        .annotation(id.as_str())
        .await?
        .filter(|a| !a.deleted)
        .ok_or(PageError::NotFound)?;
    let group = state.group_by_pubid(&ann.groupid).await?;
    if !authz::can_read(&ann, group.as_ref(), visitor.identity.as_ref()) {
        return Err(PageError::NotFound);
    }
    let target = web_link(&ann.target_uri).map(|u| in_context(u, &ann.id));
    if view.view.as_deref() != Some("page")
        && let Some(target) = &target
        && state.embedders().can_take_client(&ann.target_uri)
        // As a URL parser writes it: ASCII (percent-encoded path, punycode host), as a
        // `Location` must be. One that does not parse gets the page instead.
        && let Ok(url) = url::Url::parse(target)
        && let Ok(location) = HeaderValue::from_str(url.as_str())
    {
        let mut r = StatusCode::SEE_OTHER.into_response();
        r.headers_mut().insert(header::LOCATION, location);
        return Ok(r);
    }
    let author = UserId::parse(&ann.userid).map_or_else(|| ann.userid.clone(), |u| u.username);
    let title = format!("Annotation by {author}");
    let body = html! {
        h1 { (title) }
        (cards::card(&ann, group.as_ref(), state.authority()))
        @if let Some(target) = &target {
            p {
                a.button href=(target) rel="nofollow noopener" { "Open the document" }
            }
            p.muted {
                "The annotation shows beside the document where the page loads the Hypothesis client of this server."
            }
        } @else {
            p.muted { "Annotated document: " (ann.target_uri) }
        }
    };
    Ok(page(&visitor, &title, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_recorded_origins_and_never_pdfs_take_the_client() {
        let e = Embedders::default();
        e.record("https://blog.example/posts/1");
        e.record("http://127.0.0.1:5000/app.html");
        e.record("not a url");
        assert!(e.can_take_client("https://blog.example/other?x=1"));
        assert!(!e.can_take_client("https://blog.example/paper.PDF"));
        assert!(!e.can_take_client("http://127.0.0.1:5000/demo"));
        assert!(!e.can_take_client("urn:x-pdf:abc"));
    }

    #[test]
    fn the_fragment_replaces_any_other() {
        assert_eq!(
            in_context("https://a.example/p#sec", "abc"),
            "https://a.example/p#annotations:abc"
        );
    }
}
