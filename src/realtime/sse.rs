//! Server-sent events: `GET /api/stream` (issue 16). The same subscription as a WebSocket filter,
//! from query parameters, with the same token rules, the same routing, the same bounded queue
//! and the same resume: `Last-Event-ID` (or `last_event_id`) replays from the change log exactly
//! like a filter's `since`. Each event is `id: <seq>`, `event: <type>` and `data: <the
//! WebSocket frame>`; `docs/realtime-protocol.md` §12 is the client's reference.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::filter::compile;
use super::hub::Hub;
use super::index::SocketId;
use super::outbox;
use super::registry::Registry;
use super::replay::Replay;

/// How often a comment keeps an idle stream (and the proxies on its way) alive.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// Events between the stream's task and the response body; the socket queue is the real bound.
const HANDOFF: usize = 16;
/// The filter fields a query parameter may name, as on the WebSocket.
const FIELDS: [(&str, &str); 4] = [
    ("uri", "/uri"),
    ("group", "/group"),
    ("id", "/id"),
    ("references", "/references"),
];

/// h's API error body (`{"status": "failure", "reason": ...}`), as the rest of `/api` answers.
fn failure(status: StatusCode, reason: String) -> Response {
    (
        status,
        axum::Json(json!({"status": "failure", "reason": reason})),
    )
        .into_response()
}

/// What the query and headers ask for.
#[derive(Debug)]
struct Asked {
    filter: Value,
    since: Option<i64>,
    client_id: Option<String>,
}

fn parse(query: Option<&str>, headers: &HeaderMap) -> Result<Asked, String> {
    let mut values: Vec<(&str, Vec<String>)> = FIELDS.iter().map(|(_, f)| (*f, vec![])).collect();
    let mut since_query = None;
    let mut client_id = None;
    for (k, v) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        if let Some(i) = FIELDS.iter().position(|(name, _)| *name == k) {
            values[i].1.push(v.into_owned());
        } else if k == "last_event_id" {
            since_query = Some(v.into_owned());
        } else if k == "client_id" {
            client_id = Some(v.into_owned()).filter(|c| !c.is_empty());
        }
    }
    let clauses: Vec<Value> = values
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(field, v)| json!({"field": field, "operator": "one_of", "value": v}))
        .collect();
    if clauses.is_empty() {
        return Err(
            "Give at least one of the query parameters uri, group, id or references".into(),
        );
    }
    let header = match headers.get("last-event-id").map(|h| h.to_str()) {
        None => None,
        Some(Ok(h)) => Some(h.to_owned()),
        Some(Err(_)) => return Err("Last-Event-ID must be a non-negative integer (a seq)".into()),
    };
    // The header wins: a browser's EventSource sends it on every reconnect, carrying the id of
    // the last event it received, which is newer than the URL's.
    let since = match header.or(since_query).filter(|s| !s.trim().is_empty()) {
        None => None,
        Some(s) => Some(
            s.trim()
                .parse::<i64>()
                .ok()
                .filter(|n| *n >= 0)
                .ok_or_else(|| {
                    format!("Last-Event-ID must be a non-negative integer (a seq), got {s:?}")
                })?,
        ),
    };
    Ok(Asked {
        filter: json!({"match_policy": "include_any", "clauses": clauses, "actions": {}}),
        since,
        client_id,
    })
}

/// Whether the request accepts an event stream (no `Accept` at all counts as yes).
fn accepts_events(headers: &HeaderMap) -> bool {
    let Some(accept) = headers.get(header::ACCEPT) else {
        return true;
    };
    let accept = accept.to_str().unwrap_or("");
    accept.contains("text/event-stream") || accept.contains("*/*") || accept.contains("text/*")
}

/// `GET /api/stream`.
pub async fn stream(State(hub): State<Hub>, req: Request) -> Response {
    let (parts, _) = req.into_parts();
    if !accepts_events(&parts.headers) {
        return failure(
            StatusCode::NOT_ACCEPTABLE,
            "This endpoint sends text/event-stream; ask for it in Accept".into(),
        );
    }
    let asked = match parse(parts.uri.query(), &parts.headers) {
        Ok(a) => a,
        Err(reason) => return failure(StatusCode::BAD_REQUEST, reason),
    };
    let keys = match compile(&asked.filter, hub.limits().filter) {
        Ok(k) => k,
        Err(e) => return failure(StatusCode::BAD_REQUEST, e.to_string()),
    };
    let epoch = hub.registry().user_epoch();
    // The same token rules as `/ws`: an unknown or expired token gives an anonymous stream.
    let identity = match super::ws_token(&parts) {
        Some(t) => match hub.identity_for_token(&t).await {
            Ok(i) => i.map(Arc::new),
            Err(e) => {
                tracing::error!(error = %e, "token lookup failed for an event stream");
                return failure(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "An unexpected error occurred and has been reported.".into(),
                );
            }
        },
        None => None,
    };
    let (outbox_tx, outbox) = outbox::channel(hub.limits().queue);
    let registry = hub.registry().clone();
    let id = registry.register(identity, outbox_tx);
    let registered = Registered(registry.clone(), id);
    let userid = registry.viewer_userid(id);
    if let Some(userid) = userid.filter(|_| registry.user_epoch() != epoch) {
        // A membership change was routed while the user was being loaded (as on `/ws`).
        super::refresh_after_race(&hub, &userid).await;
    }
    if let Some(c) = asked.client_id {
        registry.set_client_id(id, Some(Value::String(c)));
    }
    let upto = registry.set_filter(id, keys);
    metrics::gauge!("scholia_sse_open_streams").increment(1.0);
    let (tx, mut rx) = mpsc::channel::<Event>(HANDOFF);
    hub.tasks()
        .spawn(pump(hub.clone(), registered, outbox, asked.since, upto, tx));
    let events = futures_util::stream::poll_fn(move |cx| {
        rx.poll_recv(cx).map(|e| e.map(Ok::<_, Infallible>))
    });
    let mut response = Sse::new(events)
        .keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
        .into_response();
    // nginx buffers responses unless told not to.
    response
        .headers_mut()
        .insert("x-accel-buffering", header::HeaderValue::from_static("no"));
    response
}

/// Unregisters the stream's subscription when its task ends, however it ends.
struct Registered(Arc<Registry>, SocketId);

impl Drop for Registered {
    fn drop(&mut self) {
        self.0.unregister(self.1);
        metrics::gauge!("scholia_sse_open_streams").decrement(1.0);
    }
}

/// The stream's task: the replay when one was asked for, then whatever routing queues, until the
/// client goes, the queue overflows (the stream then ends; the client resumes from its last
/// id), or the server stops.
async fn pump(
    hub: Hub,
    registered: Registered,
    outbox: outbox::Receiver,
    since: Option<i64>,
    upto: i64,
    tx: mpsc::Sender<Event>,
) {
    let stopping = hub.stopping().clone();
    // Never settled: a stream resumes by its Last-Event-ID, never from a client id's cursor
    // (`client_id` here serves echo suppression only).
    outbox.unsettle();
    if let Some(since) = since {
        let replayed = tokio::select! {
            _ = stopping.cancelled() => return,
            _ = tx.closed() => return,
            r = replay(&hub, registered.1, since, upto, &tx) => r,
        };
        if !replayed {
            return;
        }
    }
    loop {
        let frame = tokio::select! {
            _ = stopping.cancelled() => break,
            _ = tx.closed() => break,
            f = outbox.recv() => f,
        };
        let Some(frame) = frame else {
            if outbox.is_slow() {
                metrics::counter!("scholia_sse_closed_total", "reason" => "slow_consumer")
                    .increment(1);
            }
            break;
        };
        // A client that stops reading must not hold its stream (and the server's shutdown)
        // open: its queue fills and it is closed as slow, or the server stops.
        let sent = tokio::select! {
            _ = stopping.cancelled() => false,
            _ = outbox.slowed() => false,
            r = tx.send(event(&frame)) => r.is_ok(),
        };
        if !sent {
            break;
        }
    }
    drop(registered);
}

/// Sends the replay of `(since, upto]` and its `resumed` event; false if the client went.
async fn replay(hub: &Hub, id: SocketId, since: i64, upto: i64, tx: &mpsc::Sender<Event>) -> bool {
    let end = match Replay::plan(hub, id, since, upto).await {
        Ok(Some(mut replay)) => loop {
            match replay.next_page().await {
                Ok(Some(frames)) => {
                    for f in frames {
                        if tx.send(event(&f)).await.is_err() {
                            return false;
                        }
                    }
                }
                Ok(None) => break replay.resumed(),
                Err(e) => {
                    tracing::warn!(error = %e, "an event stream's replay failed part-way");
                    break Replay::failed(since, upto);
                }
            }
        },
        Ok(None) => return false,
        Err(e) => {
            tracing::warn!(error = %e, "could not plan an event stream's replay");
            Replay::failed(since, upto)
        }
    };
    tx.send(event(&end)).await.is_ok()
}

/// One frame as an event: its `type` as the event name and its `seq` as the id (the `resumed`
/// event's id is the seq the replay covered, so a reconnect resumes from there).
fn event(frame: &str) -> Event {
    #[derive(serde::Deserialize)]
    struct Head<'a> {
        #[serde(rename = "type", borrow)]
        kind: &'a str,
        seq: Option<i64>,
    }
    let head: Option<Head> = serde_json::from_str(frame).ok();
    let mut e = Event::default().data(frame);
    if let Some(h) = head {
        e = e.event(h.kind);
        if let Some(seq) = h.seq {
            e = e.id(seq.to_string());
        }
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parameters_make_a_filter_and_last_event_id_a_since() {
        let mut headers = HeaderMap::new();
        let a = parse(
            Some("uri=https%3A%2F%2Fa.example%2F&uri=https://b.example/&group=g1&last_event_id=7"),
            &headers,
        )
        .unwrap();
        assert_eq!(a.since, Some(7));
        assert_eq!(
            a.filter["clauses"],
            json!([
                {"field": "/uri", "operator": "one_of", "value": ["https://a.example/", "https://b.example/"]},
                {"field": "/group", "operator": "one_of", "value": ["g1"]},
            ])
        );
        headers.insert("last-event-id", "42".parse().unwrap());
        assert_eq!(
            parse(Some("id=x&last_event_id=7"), &headers).unwrap().since,
            Some(42)
        );
        headers.insert("last-event-id", "soon".parse().unwrap());
        assert!(
            parse(Some("id=x"), &headers)
                .unwrap_err()
                .contains("Last-Event-ID")
        );
        assert!(parse(Some("access_token=t"), &HeaderMap::new()).is_err());
    }

    #[test]
    fn events_carry_the_frame_type_and_seq() {
        let e = format!(
            "{:?}",
            event(r#"{"type":"annotation-notification","seq":12}"#)
        );
        assert!(
            e.contains("annotation-notification") && e.contains("12"),
            "{e}"
        );
    }
}
