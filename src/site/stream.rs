//! `/stream`: the newest public annotations, kept current through `/ws` itself (as h once had
//! at `/stream`). The page is server-rendered; `stream.js` subscribes to the Public group and
//! puts new annotations on top, and after a dropped connection resumes from the last `seq` it
//! saw (docs/realtime-protocol.md §5.4), so nothing written meanwhile is missed.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use maud::html;

use super::cards;
use super::errors::PageError;
use super::layout::page;
use super::visitor::Visitor;
use crate::app::AppState;
use crate::domain::group::WORLD;
use crate::store::SearchQuery;

const SCRIPT: &str = include_str!("stream.js");
pub const SCRIPT_PATH: &str = "/assets/stream.js";

/// `/stream`.
pub async fn stream(
    State(state): State<AppState>,
    visitor: Visitor,
) -> Result<Response, PageError> {
    // As an anonymous reader sees them: the socket the page opens is anonymous too.
    let query = SearchQuery {
        groups: vec![WORLD.to_owned()],
        limit: cards::PAGE_SIZE,
        ..SearchQuery::default()
    };
    // The log's head before the read: the socket asks for everything after it, so what is
    // written between this render and the subscription is replayed rather than lost.
    let head = state.db().last_seq().await?;
    let found = state.db().search(&query, None).await?;
    let world = state.group_by_pubid(WORLD).await?;
    let body = html! {
        h1 { "Live stream" }
        p.muted #status data-ws=(state.websocket_url()) data-seq=(head) data-authority=(state.authority()) { "Public annotations, newest first. Connecting…" }
        div #stream {
            @for ann in &found.rows { (cards::card(ann, world.as_ref(), state.authority())) }
        }
        script src=(SCRIPT_PATH) {}
    };
    Ok(page(&visitor, "Live stream", body))
}

/// `/assets/stream.js`.
pub async fn script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        SCRIPT,
    )
        .into_response()
}
