//! The in-process publish path `scholia bench` measures routing with (`/_bench/inject`): absent
//! unless asked for, and when mounted its synthetic events take the router's own path (index
//! lookup, permission check, render, hand-off) to exactly the sockets whose filters match.

use serde_json::json;

use super::{Probe, assert_no_event, notification};
use crate::helpers::{Backend, spawn_app, spawn_app_with};

#[tokio::test]
async fn the_bench_endpoint_is_not_mounted_by_default() {
    let app = spawn_app(Backend::Sqlite).await;
    let r = app
        .client
        .post(app.url("/_bench/inject"))
        .json(&json!({"uri_template": "https://x.example/", "events": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn injected_events_reach_only_matching_sockets() {
    let app = spawn_app_with(Backend::Sqlite, |c| c.bench_endpoints = true).await;
    let mut probe = Probe::new(&app).await;
    let mut zero = app.ws(None).await;
    zero.subscribe_uri("https://bench.example/x/0").await;
    let mut one = app.ws(None).await;
    one.subscribe_uri("https://bench.example/x/1").await;
    let mut other = app.ws(None).await;
    other.subscribe_uri("https://bench.example/elsewhere").await;

    let reply: serde_json::Value = app
        .client
        .post(app.url("/_bench/inject"))
        .json(
            &json!({"uri_template": "https://bench.example/x/{n}", "uri_count": 2,
                      "events": 4, "text_bytes": 10}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(reply["events"], 4);
    assert_eq!(reply["delivered"], 4, "{reply}");
    for (ws, uri) in [
        (&mut zero, "https://bench.example/x/0"),
        (&mut one, "https://bench.example/x/1"),
    ] {
        for _ in 0..2 {
            let ev = ws.event().await;
            let (action, ann) = notification(&ev);
            assert_eq!(action, "create");
            assert_eq!(ev["seq"], 0, "synthetic events are not change-log rows");
            assert_eq!(ann["uri"], uri);
            let text = ann["text"].as_str().unwrap();
            assert!(
                text.starts_with("bstamp:") && text.ends_with("xxxxxxxxxx"),
                "{text}"
            );
        }
    }
    // Nothing for the socket on another URI, nor more for the others.
    assert_no_event(&app, &mut probe, &mut [&mut other, &mut zero, &mut one]).await;
}

#[tokio::test]
async fn bad_inject_requests_get_h_error_bodies() {
    let app = spawn_app_with(Backend::Sqlite, |c| c.bench_endpoints = true).await;
    let r = app
        .client
        .post(app.url("/_bench/inject"))
        .json(&json!({"uri_template": "https://x.example/", "uri_count": 0, "events": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["status"], "failure", "{body}");
    // Not JSON, and JSON of the wrong shape: h's error body with a reason, never a panic.
    for bad in ["{not json", r#"{"events": "many"}"#] {
        let r = app
            .client
            .post(app.url("/_bench/inject"))
            .header("content-type", "application/json")
            .body(bad)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{bad}");
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["status"], "failure", "{body}");
        assert!(
            body["reason"].as_str().is_some_and(|r| !r.is_empty()),
            "{body}"
        );
    }
}
