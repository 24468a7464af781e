//! Spec §9 items 13–28: how each client message is answered, and quirk Q3 (malformed filters
//! get an error reply instead of silence).

use reqwest::Method;
use serde_json::{Value, json};

use super::{Probe, assert_no_event, filter, notification, uri_filter};
use crate::helpers::{Backend, spawn_app, spawn_app_with};

fn error(kind: &str, description: &str, id: i64) -> Value {
    json!({"type": "error", "error": {"type": kind, "description": description}, "ok": false, "reply_to": id})
}

/// Items 14–22, 26 and 28.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_follow_hs_rules() {
    let app = spawn_app(Backend::Sqlite).await;
    let mut ws = app.ws(None).await;
    // Non-objects, id-less requests and successful client_id/filter messages get no reply.
    for quiet in [
        json!([1, 2]),
        json!("x"),
        Value::Null,
        json!({"type": "ping"}),
        json!({"type": "ping", "id": "a string"}),
        json!({"type": "ping", "id": [1, 2, 3]}),
        json!({"type": "ping", "id": null}),
        json!({"type": "whoami"}),
        json!({"type": "client_id"}),
        json!({"type": "donkeys"}),
        json!({"messageType": "client_id", "value": "abc"}),
        json!({"type": "client_id", "value": "abc", "id": 3}),
        uri_filter(&["http://example.com"]),
        json!({"type": "filter", "id": 9, "filter": uri_filter(&["http://example.com"])["filter"]}),
    ] {
        ws.apply(&quiet).await;
    }
    let cases = [
        (
            json!({"type": "ping", "id": 123}),
            json!({"type": "pong", "ok": true, "reply_to": 123}),
        ),
        (
            json!({"type": "ping", "id": 1.5}),
            json!({"type": "pong", "ok": true, "reply_to": 1.5}),
        ),
        (
            json!({"type": "ping", "id": true}),
            json!({"type": "pong", "ok": true, "reply_to": true}),
        ),
        (
            json!({"type": "ping", "id": 7, "ok": false, "reply_to": "x"}),
            json!({"type": "pong", "ok": true, "reply_to": 7}),
        ),
        (
            json!({"id": 4, "type": "donkeys"}),
            error("invalid_type", "invalid message type: \"donkeys\"", 4),
        ),
        (
            json!({"id": 4, "foo": "bar"}),
            error("invalid_type", "invalid message type: null", 4),
        ),
        (
            json!({"id": 4, "type": "client_id"}),
            error("invalid_data", "\"value\" is missing", 4),
        ),
        (
            json!({"type": "filter", "id": 9}),
            error("invalid_data", "\"filter\" is missing", 9),
        ),
        (
            json!({"type": "filter", "id": 9, "filter": {"wibble": "giraffe"}}),
            error("invalid_data", "failed to parse filter", 9),
        ),
    ];
    for (request, expected) in cases {
        ws.send_json(&request).await;
        assert_eq!(ws.json().await, expected, "reply to {request}");
    }
}

/// Item 13: invalid JSON closes with 1000 `invalid message format` and no reply.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_json_closes_the_socket() {
    let app = spawn_app(Backend::Sqlite).await;
    let mut ws = app.ws(None).await;
    ws.send_text("{\"type\": \"ping\", \"id\": 1").await;
    assert_eq!(
        ws.close_frame().await,
        Some((1000, "invalid message format".to_owned()))
    );
}

/// Items 23–25 and 27: rejected filters leave the previous one in force; a message with both
/// legacy forms is a filter and does not set the client id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_filters_keep_the_previous_one() {
    let app = spawn_app(Backend::Sqlite).await;
    let (_, t) = app.user("alice").await;
    let mut probe = Probe::new(&app).await;
    let mut ws = app.ws(None).await;
    ws.subscribe_uri("http://a.example").await;
    let bad_filters = [
        json!({"match_policy": "include_all", "clauses": [], "actions": {}}),
        json!({"match_policy": "include_any", "clauses": []}),
        json!({"match_policy": "include_any", "clauses": {}, "actions": {}}),
    ];
    for (i, f) in bad_filters.into_iter().enumerate() {
        ws.send_json(&json!({"type": "filter", "id": i, "filter": f}))
            .await;
        assert_eq!(
            ws.json().await,
            error("invalid_data", "failed to parse filter", i as i64)
        );
        // Without an id the refusal is silent (h's rule), and still nothing changes.
        ws.apply(&json!({"filter": {"match_policy": "include_all", "clauses": [], "actions": {}}}))
            .await;
    }
    // Q3: clauses that crashed h's compiler are refused with a reason.
    for (i, clauses) in [
        json!(["not an object"]),
        json!([{"field": "/uri"}]),
        json!([{"field": "/uri", "value": 5}]),
        json!([{"field": "/references", "value": {"a": 1}}]),
        json!([{"field": "/uri", "value": "http://example.com:abc/"}]),
    ]
    .into_iter()
    .enumerate()
    {
        let mut f = filter(clauses);
        f["type"] = json!("filter");
        f["id"] = json!(100 + i);
        ws.send_json(&f).await;
        let reply = ws.json().await;
        assert_eq!(reply["error"]["type"], "invalid_data", "{reply}");
        assert!(
            reply["error"]["description"]
                .as_str()
                .unwrap()
                .starts_with("failed to parse filter: clauses[0]"),
            "{reply}"
        );
    }
    // The legacy message with both forms is a filter for b.example, and sets no client id: an
    // event written with X-Client-Id "x" still arrives.
    ws.apply(&json!({"filter": filter(json!([{"field": "/uri", "value": ["http://b.example", super::MARKER_URI]}]))["filter"], "messageType": "client_id", "value": "x"}))
        .await;
    let r = app
        .req(Method::POST, "/api/annotations", Some(&t))
        .header("X-Client-Id", "x")
        .json(&json!({"uri": "http://b.example", "text": "b", "permissions": {"read": ["group:__world__"]}}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let ev = ws.event().await;
    assert_eq!(notification(&ev).1["text"], "b");
    // And the old filter is gone.
    app.shared(&t, "__world__", "http://a.example", "a").await;
    assert_no_event(&app, &mut probe, &mut [&mut ws]).await;
}

/// Oversized filters are refused with `invalid_data`, and the socket keeps working.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filter_size_limits() {
    let app = spawn_app_with(Backend::Sqlite, |c| {
        c.ws.max_filter_clauses = 2;
        c.ws.max_filter_values = 3;
    })
    .await;
    let mut ws = app.ws(None).await;
    let clauses = json!([{"field": "/id", "value": "a"}, {"field": "/id", "value": "b"}, {"field": "/id", "value": "c"}]);
    let values = json!([{"field": "/id", "value": ["a", "b", "c", "d"]}]);
    for (id, clauses) in [(1, clauses), (2, values)] {
        let mut f = filter(clauses);
        f["type"] = json!("filter");
        f["id"] = json!(id);
        ws.send_json(&f).await;
        let reply = ws.json().await;
        assert_eq!(reply["error"]["type"], "invalid_data");
        assert!(
            reply["error"]["description"]
                .as_str()
                .unwrap()
                .contains("at most"),
            "{reply}"
        );
    }
    ws.apply(&filter(json!([{"field": "/id", "value": ["a", "b", "c"]}])))
        .await;
}
