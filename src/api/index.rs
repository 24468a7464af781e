//! `GET /api/` (the route index), `GET /api/links`, `GET /_status` and `GET /metrics`.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Map, Value, json};

use super::error::ApiResult;
use crate::app::AppState;

/// The routes of this module; `/metrics` among them unless it has a listener of its own
/// ([`metrics_router`]).
pub fn router(with_metrics: bool) -> Router<AppState> {
    let router = Router::new()
        .route("/api/", get(api_index))
        .route("/api", get(api_index))
        .route("/api/links", get(links))
        .route("/_status", get(status))
        // The client reports UI events here; scholia keeps no analytics, so they are dropped.
        .route(
            "/api/analytics/events",
            axum::routing::post(|| async { StatusCode::NO_CONTENT }),
        );
    match with_metrics {
        true => router.route("/metrics", get(metrics)),
        false => router,
    }
}

/// `/metrics` alone, for `--metrics-listen`: a listener that can stay private while the main
/// one faces the internet.
pub fn metrics_router() -> Router<AppState> {
    Router::new()
        .route("/metrics", get(metrics))
        .fallback(|| async { StatusCode::NOT_FOUND })
}

/// (dotted name, method, path template, description), as h's `@api_config(link_name=...)`.
const ROUTES: &[(&str, &str, &str, &str)] = &[
    (
        "annotation.create",
        "POST",
        "/api/annotations",
        "Create an annotation",
    ),
    (
        "annotation.read",
        "GET",
        "/api/annotations/:id",
        "Fetch an annotation",
    ),
    (
        "annotation.update",
        "PATCH",
        "/api/annotations/:id",
        "Update an annotation",
    ),
    (
        "annotation.delete",
        "DELETE",
        "/api/annotations/:id",
        "Delete an annotation",
    ),
    (
        "annotation.flag",
        "PUT",
        "/api/annotations/:id/flag",
        "Flag an annotation for review",
    ),
    (
        "annotation.hide",
        "PUT",
        "/api/annotations/:id/hide",
        "Hide an annotation as a group moderator",
    ),
    (
        "annotation.unhide",
        "DELETE",
        "/api/annotations/:id/hide",
        "Unhide an annotation as a group moderator",
    ),
    ("search", "GET", "/api/search", "Search for annotations"),
    (
        "webhooks.create",
        "POST",
        "/api/webhooks",
        "Create a webhook: the caller's annotation events POSTed to a URL, signed",
    ),
    (
        "webhooks.read",
        "GET",
        "/api/webhooks",
        "List the caller's webhooks",
    ),
    (
        "webhooks.delete",
        "DELETE",
        "/api/webhooks/:id",
        "Delete one of the caller's webhooks",
    ),
    (
        "stream",
        "GET",
        "/api/stream",
        "Server-sent events: live annotation changes by uri, group, id or references, resumable with Last-Event-ID",
    ),
    (
        "analytics.events.create",
        "POST",
        "/api/analytics/events",
        "Create an analytics event",
    ),
    (
        "groups.read",
        "GET",
        "/api/groups",
        "Fetch the user's groups",
    ),
    ("group.create", "POST", "/api/groups", "Create a new group"),
    ("group.read", "GET", "/api/groups/:id", "Fetch a group"),
    (
        "group.member.add",
        "POST",
        "/api/groups/:pubid/members/:userid",
        "Add the user in the request params to a group",
    ),
    (
        "group.member.delete",
        "DELETE",
        "/api/groups/:pubid/members/:userid",
        "Remove the current user from a group",
    ),
    (
        "profile.read",
        "GET",
        "/api/profile",
        "Fetch the user's profile",
    ),
    (
        "profile.update",
        "PATCH",
        "/api/profile",
        "Update a user's preferences",
    ),
    (
        "profile.groups.read",
        "GET",
        "/api/profile/groups",
        "Fetch the current user's groups",
    ),
    (
        "links",
        "GET",
        "/api/links",
        "URL templates for generating URLs for HTML pages",
    ),
];

/// Puts `leaf` at the dotted `path` inside `tree`, creating the branches on the way.
fn insert_path(tree: &mut Map<String, Value>, path: &[&str], leaf: Value) {
    match path {
        [] => {}
        [last] => {
            tree.insert((*last).to_owned(), leaf);
        }
        [first, rest @ ..] => {
            let branch = tree
                .entry((*first).to_owned())
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(map) = branch {
                insert_path(map, rest, leaf);
            }
        }
    }
}

/// The link tree: each dotted name becomes nested objects ending in `{method, url, desc}`.
async fn api_index(State(state): State<AppState>) -> Response {
    let base = &state.site().public_url;
    let mut tree = Map::new();
    for (name, method, path, desc) in ROUTES {
        let leaf = json!({"method": method, "url": format!("{base}{path}"), "desc": desc});
        insert_path(
            &mut tree,
            name.split('.').collect::<Vec<_>>().as_slice(),
            leaf,
        );
    }
    cached(Json(json!({ "links": tree })).into_response())
}

async fn links(State(state): State<AppState>) -> Response {
    let base = &state.site().public_url;
    // Keys sorted, as h returns them.
    let body = json!({
        "account.settings": format!("{base}/account/settings"),
        "forgot-password": format!("{base}/forgot-password"),
        "groups.new": format!("{base}/groups/new"),
        "help": format!("{base}/docs/help"),
        "oauth.authorize": format!("{base}/oauth/authorize"),
        "oauth.revoke": format!("{base}/oauth/revoke"),
        "search.tag": format!("{base}/search?q=tag%3A%22:tag%22"),
        "signup": format!("{base}/signup"),
        "user": format!("{base}/u/:user"),
        "websocket": state.websocket_url(),
    });
    cached(Json(body).into_response())
}

/// h marks the index and links as publicly cacheable for 300 s.
fn cached(mut r: Response) -> Response {
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    r
}

/// Health, for load balancers: `{"status": "okay"}` with the bus and its state while the node
/// can serve; 503 with h's failure body while the database cannot be reached or the server is
/// stopping, so a balancer takes the node out of rotation (h answers 500 for the former).
async fn status(State(state): State<AppState>) -> Response {
    let unavailable = |reason: &str| {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "failure", "reason": reason})),
        )
            .into_response()
    };
    if state.is_stopping() {
        return unavailable("Shutting down");
    }
    match state.db().ping().await {
        Ok(()) => {
            let (engine, up) = state.feed_state();
            let bus = if up {
                "up"
            } else {
                "down: polling the change log"
            };
            Json(json!({"status": "okay", "bus": engine, "bus_state": bus})).into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, "health check: database unreachable");
            unavailable("Database connection failed")
        }
    }
}

/// Prometheus text exposition.
async fn metrics(State(state): State<AppState>) -> ApiResult<Response> {
    let (size, idle) = state.db().pool_stats();
    let (engine, up) = state.feed_state();
    metrics::gauge!("scholia_feed_up", "engine" => engine).set(if up { 1.0 } else { 0.0 });
    metrics::gauge!("scholia_db_pool_connections").set(f64::from(size));
    metrics::gauge!("scholia_db_pool_idle_connections").set(idle as f64);
    let body = state.metrics().render();
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response())
}
