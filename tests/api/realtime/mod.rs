//! The Real Time API over real sockets: spec §9 items 1–69, the official
//! client's message sequence, back-pressure and shutdown.
//!
//! Proving that a socket did *not* get an event never needs a sleep: a [`Probe`] socket
//! subscribed to a marker URI receives a marker annotation made after the event under test.
//! The router handles changes in `seq` order and hands each one to every socket before the
//! next, so once the probe has the marker, every earlier event is in its sockets' queues. A
//! socket's task drains its queue before reading the client's next message, so a `ping` whose
//! `pong` comes back first proves the queue held nothing.

mod checkpoints;
mod client;
mod connection;
mod delivery;
mod filtering;
mod inject;
mod messages;
mod moderation;
mod operations;
pub mod resume;
pub mod sse;

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Bytes, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::helpers::TestApp;

/// How long any expected frame may take before the test fails.
pub const WAIT: Duration = Duration::from_secs(10);
pub const MARKER_URI: &str = "http://marker.example/";

pub type Stream = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A test WebSocket client.
pub struct Ws {
    pub inner: Stream,
    next_ping: u64,
}

/// Connects to the WebSocket at `url` (any server, not only a [`TestApp`]).
pub async fn ws_at(url: &str) -> Ws {
    ws_connect(url.into_client_request().unwrap()).await
}

async fn ws_connect(req: tokio_tungstenite::tungstenite::handshake::client::Request) -> Ws {
    let (inner, resp) = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(req))
        .await
        .expect("handshake in time")
        .expect("handshake");
    assert_eq!(resp.status(), 101);
    Ws {
        inner,
        next_ping: 1_000_000,
    }
}

impl TestApp {
    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    /// Connects to `/ws` with `?access_token=` when a token is given.
    pub async fn ws(&self, token: Option<&str>) -> Ws {
        let url = match token {
            Some(t) => format!("{}?access_token={t}", self.ws_url()),
            None => self.ws_url(),
        };
        self.ws_request(url.into_client_request().unwrap()).await
    }

    pub async fn ws_request(
        &self,
        req: tokio_tungstenite::tungstenite::handshake::client::Request,
    ) -> Ws {
        ws_connect(req).await
    }

    /// Runs one SQL statement on the test database (for states no API reaches: expiry,
    /// deleted users).
    pub async fn exec(&self, sql: &str) {
        let sql = sqlx::AssertSqlSafe(sql.to_owned());
        match &self.db {
            scholia::store::Db::Sqlite(p) => sqlx::query(sql).execute(p).await.map(|_| ()),
            scholia::store::Db::Postgres(p) => sqlx::query(sql).execute(p).await.map(|_| ()),
        }
        .unwrap();
    }
}

/// A `/uri` filter message in the official client's legacy form.
pub fn uri_filter(uris: &[&str]) -> Value {
    filter(json!([{"field": "/uri", "operator": "one_of", "value": uris, "case_sensitive": false}]))
}

/// A legacy filter message with these clauses.
pub fn filter(clauses: Value) -> Value {
    json!({"filter": {"match_policy": "include_any", "clauses": clauses, "actions": {"create": true, "update": true, "delete": true}}})
}

impl Ws {
    pub async fn send_json(&mut self, v: &Value) {
        self.send_text(&v.to_string()).await;
    }

    pub async fn send_text(&mut self, s: &str) {
        self.inner.send(Message::text(s)).await.unwrap();
    }

    /// The next frame of any kind.
    pub async fn frame(&mut self) -> Message {
        tokio::time::timeout(WAIT, self.inner.next())
            .await
            .expect("a frame in time")
            .expect("socket open")
            .expect("frame")
    }

    /// The next JSON message, skipping control frames.
    pub async fn json(&mut self) -> Value {
        loop {
            match self.frame().await {
                Message::Text(t) => return serde_json::from_str(t.as_str()).expect("JSON"),
                Message::Ping(_) | Message::Pong(_) => continue,
                other => panic!("expected a JSON message, got {other:?}"),
            }
        }
    }

    /// Waits until everything sent so far has been handled (a `ping` round trip), and returns
    /// whatever events arrived before the `pong`.
    pub async fn drain(&mut self) -> Vec<Value> {
        self.next_ping += 1;
        let id = self.next_ping;
        self.send_json(&json!({"type": "ping", "id": id})).await;
        let mut before = vec![];
        loop {
            let m = self.json().await;
            if m["type"] == "pong" && m["reply_to"] == id {
                return before;
            }
            before.push(m);
        }
    }

    /// Sends a message and proves it was handled, failing if anything else arrived meanwhile.
    pub async fn apply(&mut self, v: &Value) {
        self.send_json(v).await;
        let extra = self.drain().await;
        assert!(extra.is_empty(), "unexpected messages: {extra:?}");
    }

    /// Subscribes with a filter (plus the marker URI, so a [`Probe`] can vouch for it).
    pub async fn subscribe(&mut self, clauses: Value) {
        let mut clauses = clauses.as_array().cloned().unwrap_or_default();
        clauses.push(json!({"field": "/uri", "value": MARKER_URI}));
        self.apply(&filter(Value::Array(clauses))).await;
    }

    pub async fn subscribe_uri(&mut self, uri: &str) {
        self.subscribe(json!([{"field": "/uri", "operator": "one_of", "value": [uri]}]))
            .await;
    }

    /// The next `annotation-notification` or `session-change`.
    pub async fn event(&mut self) -> Value {
        let m = self.json().await;
        assert!(
            m["type"] == "annotation-notification" || m["type"] == "session-change",
            "expected an event, got {m}"
        );
        m
    }

    /// Asserts nothing is queued for this socket (call after [`Probe::sync`]).
    pub async fn assert_quiet(&mut self) {
        let got = self.drain().await;
        assert!(got.is_empty(), "expected no event, got {got:?}");
    }

    /// Reads until the server's Close frame; returns its code and reason.
    pub async fn close_frame(&mut self) -> Option<(u16, String)> {
        loop {
            match tokio::time::timeout(WAIT, self.inner.next())
                .await
                .expect("close in time")
            {
                Some(Ok(Message::Close(f))) => {
                    return f.map(|f: CloseFrame| (u16::from(f.code), f.reason.to_string()));
                }
                Some(Ok(_)) => continue,
                Some(Err(e)) => panic!("socket error before close: {e}"),
                None => panic!("socket ended without a Close frame"),
            }
        }
    }

    pub async fn ping_frame(&mut self, payload: &'static [u8]) {
        self.inner
            .send(Message::Ping(Bytes::from_static(payload)))
            .await
            .unwrap();
    }
}

/// Vouches that every change so far has been routed (see the module docs).
pub struct Probe {
    token: String,
    ws: Ws,
    n: u32,
}

impl Probe {
    pub async fn new(app: &TestApp) -> Probe {
        let (_, token) = app.user("marker").await;
        let mut ws = app.ws(None).await;
        ws.apply(&uri_filter(&[MARKER_URI])).await;
        Probe { token, ws, n: 0 }
    }

    /// Makes a marker annotation and waits for it; every socket subscribed to the marker URI
    /// gets it too, after everything before it.
    pub async fn sync(&mut self, app: &TestApp) -> String {
        self.n += 1;
        let text = format!("marker {}", self.n);
        let ann = app
            .shared(&self.token, "__world__", MARKER_URI, &text)
            .await;
        let ev = self.ws.event().await;
        assert_eq!(ev["payload"][0]["text"], text.as_str());
        ann["id"].as_str().unwrap().to_owned()
    }
}

/// Asserts `ws`'s next events are: nothing, then the marker (for sockets that subscribed with
/// [`Ws::subscribe`]).
pub async fn assert_no_event(app: &TestApp, probe: &mut Probe, sockets: &mut [&mut Ws]) {
    let marker = probe.sync(app).await;
    for ws in sockets.iter_mut() {
        let ev = ws.event().await;
        assert_eq!(
            ev["payload"][0]["id"], marker,
            "expected no event before the marker, got {ev}"
        );
    }
}

/// The action and payload of an annotation event, checked for shape.
pub fn notification(ev: &Value) -> (&str, &Value) {
    assert_eq!(ev["type"], "annotation-notification", "{ev}");
    let payload = ev["payload"].as_array().expect("payload is a list");
    assert_eq!(payload.len(), 1, "{ev}");
    assert!(ev["seq"].as_i64().is_some(), "seq missing: {ev}");
    (ev["options"]["action"].as_str().unwrap(), &payload[0])
}
