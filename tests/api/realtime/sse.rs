//! Server-sent events, `GET /api/stream` (issue 16): the WebSocket's subscriptions and frames as
//! `id:`/`event:`/`data:` events, resumable with `Last-Event-ID` like a filter's `since`.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::WAIT;
use crate::helpers::{Backend, spawn_app};

const URI: &str = "https://sse.example/page";

/// One event of a stream.
#[derive(Debug)]
pub struct SseEvent {
    pub id: Option<String>,
    pub event: String,
    pub data: Value,
}

/// A test client of an event stream.
pub struct SseClient {
    resp: reqwest::Response,
    buf: String,
}

impl SseClient {
    /// Opens `base`/api/stream?`query`, with a token and a `Last-Event-ID` when given.
    pub async fn open(
        base: &str,
        query: &str,
        token: Option<&str>,
        last: Option<i64>,
    ) -> SseClient {
        let mut req = reqwest::Client::new()
            .get(format!("{base}/api/stream?{query}"))
            .header("accept", "text/event-stream");
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(l) = last {
            req = req.header("last-event-id", l.to_string());
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(resp.headers()["content-type"], "text/event-stream");
        SseClient {
            resp,
            buf: String::new(),
        }
    }

    /// The next event (keep-alive comments skipped).
    pub async fn next(&mut self) -> SseEvent {
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                let (mut id, mut event, mut data) = (None, String::new(), String::new());
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("id:") {
                        id = Some(v.trim().to_owned());
                    } else if let Some(v) = line.strip_prefix("event:") {
                        event = v.trim().to_owned();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.strip_prefix(' ').unwrap_or(v));
                    }
                }
                if data.is_empty() {
                    continue;
                }
                let data = serde_json::from_str(&data).expect("JSON data");
                return SseEvent { id, event, data };
            }
            let chunk = tokio::time::timeout(WAIT, self.resp.chunk())
                .await
                .expect("an event in time")
                .expect("stream open")
                .expect("stream not ended");
            self.buf.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    }

    /// The next event, which must be an annotation event: (action, id, seq).
    pub async fn annotation(&mut self) -> (String, String, i64) {
        let e = self.next().await;
        assert_eq!(e.event, "annotation-notification", "{e:?}");
        let seq = e.data["seq"].as_i64().unwrap();
        assert_eq!(e.id, Some(seq.to_string()));
        (
            e.data["options"]["action"].as_str().unwrap().to_owned(),
            e.data["payload"][0]["id"].as_str().unwrap().to_owned(),
            seq,
        )
    }
}

crate::on_both_engines!(an_event_stream_delivers_and_resumes_from_its_last_event_id);

async fn an_event_stream_delivers_and_resumes_from_its_last_event_id(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, alice) = app.user("alice").await;
    let (bob_user, bob) = app.user("bob").await;
    let query = format!("uri={}", urlencode(URI));

    let mut stream = SseClient::open(&app.base, &query, Some(&alice), None).await;
    // A subscription holds once a marker arrives: post until the first one does.
    let first = app.shared(&bob, "__world__", URI, "first").await;
    let (action, id, seen) = stream.annotation().await;
    assert_eq!(
        (action.as_str(), id.as_str()),
        ("create", first["id"].as_str().unwrap())
    );
    drop(stream);

    // Away: a public note, a private one of Bob's, and a delete.
    let public = app.shared(&bob, "__world__", URI, "public").await;
    let private = app
        .annotate(
            &bob,
            json!({"uri": URI, "text": "private", "group": "__world__",
                   "permissions": {"read": [bob_user.userid().to_string()]}}),
        )
        .await;
    let fid = first["id"].as_str().unwrap();
    assert_eq!(
        app.delete(&format!("/api/annotations/{fid}"), Some(&bob))
            .await
            .0,
        StatusCode::OK
    );
    let upto = app.db.last_seq().await.unwrap();

    let mut stream = SseClient::open(&app.base, &query, Some(&alice), Some(seen)).await;
    let (a1, id1, _) = stream.annotation().await;
    assert_eq!(
        (a1.as_str(), id1.as_str()),
        ("create", public["id"].as_str().unwrap())
    );
    let (a2, id2, _) = stream.annotation().await;
    assert_eq!((a2.as_str(), id2.as_str()), ("delete", fid));
    let resumed = stream.next().await;
    assert_eq!(
        resumed.event, "resumed",
        "private {} leaked? {resumed:?}",
        private["id"]
    );
    assert_eq!(resumed.id, Some(upto.to_string()));
    assert_eq!(
        resumed.data,
        json!({"type": "resumed", "since": seen, "seq": upto, "recovered": true})
    );
    // Live from there.
    let live = app.shared(&bob, "__world__", URI, "live").await;
    let (a3, id3, seq3) = stream.annotation().await;
    assert_eq!(
        (a3.as_str(), id3.as_str()),
        ("create", live["id"].as_str().unwrap())
    );
    assert!(seq3 > upto);

    // The same resume from the query parameter, for EventSource polyfills.
    let mut again = SseClient::open(
        &app.base,
        &format!("{query}&last_event_id={seq3}"),
        Some(&alice),
        None,
    )
    .await;
    let resumed = again.next().await;
    assert_eq!(resumed.data["recovered"], true);
    assert_eq!(resumed.data["since"], seq3);
}

crate::on_both_engines!(a_bad_stream_request_gets_a_reason);

async fn a_bad_stream_request_gets_a_reason(backend: Backend) {
    let app = spawn_app(backend).await;
    let http = reqwest::Client::new();
    let get = |query: &str, accept: &str, last: Option<&str>| {
        let mut r = http
            .get(app.url(&format!("/api/stream?{query}")))
            .header("accept", accept)
            .timeout(Duration::from_secs(10));
        if let Some(l) = last {
            r = r.header("last-event-id", l);
        }
        r.send()
    };
    let r = get("", "text/event-stream", None).await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["status"], "failure");
    assert!(body["reason"].as_str().unwrap().contains("uri"), "{body}");
    let r = get("uri=x", "text/event-stream", Some("-3")).await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body: Value = r.json().await.unwrap();
    assert!(
        body["reason"].as_str().unwrap().contains("Last-Event-ID"),
        "{body}"
    );
    let r = get("uri=x", "application/json", None).await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_ACCEPTABLE);
    // Listed in the index.
    let (_, index) = app.get("/api/", None).await;
    assert_eq!(index["links"]["stream"]["url"], app.url("/api/stream"));
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
