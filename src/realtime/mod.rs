//! The Real Time API: the WebSocket at `/ws` (spec §1–§7; h's `h/streamer/`), documented for
//! clients in `docs/realtime-protocol.md`.
//!
//! - [`protocol`]: client messages and replies (pure).
//! - [`filter`]: filter messages compiled into index keys, and an event's keys (pure).
//! - [`index`]: keys → sockets, so routing never scans every socket.
//! - [`registry`]: the open sockets, their filters, identities and outbound queues.
//! - [`outbox`]: a socket's bounded outbound queue.
//! - [`socket`]: one socket's task: read, write, keep alive, close.
//! - [`audience`]: who receives an annotation event, and as which viewer class (pure).
//! - [`hub`]: the sockets' shared state and the routing task, fed in `seq` order by the
//!   [`crate::bus`] sequencer; it also routes synthetic events for load tests
//!   (`--bench-endpoints`).
//! - [`fanout`]: routing one change: what the write handed over or what the store holds →
//!   authorised, rendered frames → queues.
//! - [`replay`]: what a resuming client missed, read from the change log (`since`, or the
//!   cursor remembered for its client id).
//! - [`cursors`]: keeps each client id's resume cursor in the database.
//! - [`sse`]: the same subscriptions as server-sent events, `GET /api/stream`.
//! - [`webhooks`]: the same events POSTed to a user's URLs, from a durable cursor per hook.
//! - [`route`]: the synchronous part of routing one event (lookup, check, render, hand-off).
//!
//! This module holds the handshake: token resolution as h does it, h's JSON errors for requests
//! that are not WebSocket upgrades, and the hand-over of an upgraded connection to its task.

pub mod audience;
pub mod cursors;
pub mod fanout;
pub mod filter;
pub mod hub;
pub mod index;
pub mod outbox;
pub mod protocol;
pub mod registry;
pub mod replay;
pub mod route;
pub mod socket;
pub mod sse;
pub mod webhooks;
pub mod wire;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use serde_json::json;
use tokio::time::Instant;

use crate::auth::bearer_token;
use crate::domain::Identity;
use hub::Hub;
use socket::{Limits, Socket};
use wire::conn::Conn;
use wire::handshake::Io;

/// `/ws`, plus h's streamer 404 for paths below it, and `/api/stream` (server-sent events);
/// with `echo`, also `/_echo`.
pub fn router<S>(hub: Hub, echo: bool) -> Router<S> {
    let mut routes = Router::new()
        .route("/ws", any(handshake))
        .route("/api/stream", axum::routing::get(sse::stream))
        .route("/ws/", any(not_found))
        .route("/ws/{*rest}", any(not_found));
    if echo {
        routes = routes.route("/_echo", any(echo_handshake));
    }
    routes.with_state(hub)
}

/// h's streamer error bodies (`h/streamer/views.py`).
fn ws_error(status: StatusCode, error: &str, reason: &str) -> Response {
    let body = json!({"ok": false, "error": error, "reason": reason});
    (status, axum::Json(body)).into_response()
}

fn bad_handshake() -> Response {
    ws_error(
        StatusCode::BAD_REQUEST,
        "bad_handshake",
        "Handshake failed. Are you a WebSocket client?",
    )
}

async fn not_found() -> Response {
    ws_error(
        StatusCode::NOT_FOUND,
        "not_found",
        "These are not the droids you are looking for.",
    )
}

/// The token of a `/ws` request (`h/security/policy/_bearer_token.py`): the `access_token` query
/// parameter if present at all (even empty, which then means "anonymous" and hides the header),
/// else `Authorization: Bearer`.
pub(crate) fn ws_token(req: &axum::http::request::Parts) -> Option<String> {
    let from_query = req.uri.query().and_then(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .filter(|(k, _)| k == "access_token")
            .last()
            .map(|(_, v)| v.into_owned())
    });
    match from_query {
        Some(t) => Some(t).filter(|t| !t.is_empty()),
        None => bearer_token(&req.headers),
    }
}

async fn handshake(State(hub): State<Hub>, req: Request) -> Response {
    upgrade(hub, req, false).await
}

/// `/_echo` (`echo_endpoint`, for RFC 6455 conformance runs): an anonymous socket on the same
/// handshake, limits and socket task as `/ws`, that sends every data message back.
async fn echo_handshake(State(hub): State<Hub>, req: Request) -> Response {
    upgrade(hub, req, true).await
}

async fn upgrade(hub: Hub, req: Request, echo: bool) -> Response {
    let (mut parts, _body) = req.into_parts();
    if parts.method != Method::GET {
        return bad_handshake();
    }
    // ws4py also accepts protocol version 8, whose handshake is the same as 13's.
    if parts
        .headers
        .get(header::SEC_WEBSOCKET_VERSION)
        .is_some_and(|v| v == "8")
    {
        parts.headers.insert(
            header::SEC_WEBSOCKET_VERSION,
            HeaderValue::from_static("13"),
        );
    }
    let token = ws_token(&parts).filter(|_| !echo);
    let Some((response, on_upgrade)) = wire::handshake::accept(&mut parts) else {
        return bad_handshake();
    };
    let epoch = hub.registry().user_epoch();
    // An unknown, expired or revoked token gives an anonymous socket, never a refusal.
    let identity = match token {
        Some(t) => match hub.identity_for_token(&t).await {
            Ok(i) => i,
            Err(e) => {
                tracing::error!(error = %e, "token lookup failed during a WebSocket handshake");
                return ws_error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "server_error",
                    "An unexpected error occurred and has been reported.",
                );
            }
        },
        None => None,
    };
    // Shared from here on: a socket's tasks hold a pointer, not a copy of the user and roles.
    let identity = identity.map(Arc::new);
    // Held until the socket's task ends, so shutdown waits for sockets to close (the listener's
    // graceful shutdown does not track upgraded connections).
    let tracked = hub.tasks().token();
    // One task per socket, from the handshake to the close: nothing else of the socket's stays
    // alive beside it.
    tokio::spawn(async move {
        let limits = hub.limits();
        let (max, chunk) = (limits.max_message_bytes, limits.read_buffer_bytes);
        let Some(conn) = wire::handshake::connect(on_upgrade, max, chunk).await else {
            return;
        };
        // Boxed: passed by value, each async layer below would keep its own slot for it for
        // the socket's whole life.
        serve(Box::new(conn), hub, identity, epoch, echo).await;
        drop(tracked);
    });
    response
}

/// Registers an upgraded socket, runs it, and accounts for it.
///
/// Everything passed by value here stays in the socket's task for its whole life, so it is
/// kept to pointers: the socket and the identity come boxed and shared, the limits are read
/// from the hub (only `echo`, one byte, comes from the route).
async fn serve(
    ws: Box<Conn<Io>>,
    hub: Hub,
    identity: Option<Arc<Identity>>,
    epoch: u64,
    echo: bool,
) {
    let (outbox_tx, outbox) = outbox::channel(hub.limits().queue);
    let userid = identity.as_ref().map(|i| i.userid.clone());
    let auth = if userid.is_some() {
        "authenticated"
    } else {
        "anonymous"
    };
    let registry = hub.registry().clone();
    let id = registry.register(identity, outbox_tx);
    if let Some(userid) = &userid
        && registry.user_epoch() != epoch
    {
        // A membership change was routed while this socket's user was being loaded.
        // Boxed: rare, and its database future would otherwise enlarge every socket's task.
        Box::pin(refresh_after_race(&hub, userid)).await;
    }
    metrics::gauge!("scholia_ws_open_sockets", "auth" => auth).increment(1.0);
    tracing::info!(
        socket = id,
        user = userid.as_deref().unwrap_or("-"),
        "websocket opened"
    );
    let started = Instant::now();

    let sock = Socket {
        id,
        hub: Some(hub.clone()),
        registry: registry.clone(),
        userid: userid.clone(),
        outbox,
        shutdown: hub.shutdown_token().clone(),
        // Copied here rather than earlier: a copy held across the await above would take room
        // in every socket's task for its whole life.
        limits: Limits {
            echo,
            ..*hub.limits()
        },
    };
    let ending = socket::drive(ws, sock).await;

    registry.unregister(id);
    metrics::gauge!("scholia_ws_open_sockets", "auth" => auth).decrement(1.0);
    metrics::counter!("scholia_ws_closed_total", "reason" => ending.as_str()).increment(1);
    tracing::info!(
        socket = id,
        user = userid.as_deref().unwrap_or("-"),
        duration_ms = started.elapsed().as_millis() as u64,
        reason = ending.as_str(),
        "websocket closed"
    );
}

/// Reloads a just-registered socket's user (see [`registry::Registry::user_epoch`]).
pub(crate) async fn refresh_after_race(hub: &Hub, userid: &str) {
    let db = hub.db();
    match db.user_by_userid(userid).await {
        Ok(Some(user)) if !user.deleted => match db.identity_of(user).await {
            Ok(i) => hub.registry().refresh_identity(userid, Some(Arc::new(i))),
            Err(e) => tracing::warn!(error = %e, "could not reload a user's memberships"),
        },
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "could not reload a user's memberships"),
    }
}

#[cfg(test)]
mod tests {
    use axum::http::Request;

    use super::ws_token;

    fn token(uri: &str, auth: Option<&str>) -> Option<String> {
        let mut b = Request::builder().uri(uri);
        if let Some(a) = auth {
            b = b.header("authorization", a);
        }
        let (parts, _) = b.body(()).unwrap().into_parts();
        ws_token(&parts)
    }

    #[test]
    fn query_parameter_wins_and_empty_means_anonymous() {
        assert_eq!(
            token("/ws?access_token=q", Some("Bearer h")),
            Some("q".into())
        );
        assert_eq!(token("/ws?access_token=", Some("Bearer h")), None);
        assert_eq!(token("/ws", Some("Bearer h")), Some("h".into()));
        assert_eq!(token("/ws", Some("bearer h")), None);
        assert_eq!(token("/ws", Some("Bearer   ")), None);
        assert_eq!(token("/ws?debug=1", None), None);
    }
}
