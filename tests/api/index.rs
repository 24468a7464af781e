use reqwest::StatusCode;

use crate::helpers::{Backend, NOT_FOUND, spawn_app};
use crate::on_both_engines;

on_both_engines!(
    index_links_status_and_metrics,
    health_is_503_while_the_database_is_unreachable
);

async fn index_links_status_and_metrics(backend: Backend) {
    let app = spawn_app(backend).await;

    let (status, index) = app.get("/api/", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(index["links"]["annotation"]["create"]["method"], "POST");
    assert_eq!(
        index["links"]["annotation"]["read"]["url"],
        app.url("/api/annotations/:id")
    );
    assert_eq!(index["links"]["search"]["url"], app.url("/api/search"));

    let (_, links) = app.get("/api/links", None).await;
    assert_eq!(links["websocket"], format!("ws://{}/ws", app.addr));
    assert_eq!(links["oauth.authorize"], app.url("/oauth/authorize"));

    // Versioning by Accept (spec §9 item 82).
    let r = app
        .client
        .get(app.url("/api/"))
        .header("Accept", "application/vnd.hypothesis.v3+json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_ACCEPTABLE);
    let r = app
        .client
        .get(app.url("/api/"))
        .header("Accept", "nonsensical")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.headers()["hypothesis-media-type"],
        "application/vnd.hypothesis.v1+json"
    );
    assert_eq!(r.headers()["access-control-allow-origin"], "*");

    // Preflight.
    let r = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/api/annotations"))
        .header("Origin", "https://page.example")
        .header("Access-Control-Request-Method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "https://page.example"
    );
    let r = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/api/annotations"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);

    let (status, body) = app.get("/api/nope", None).await;
    assert_eq!(
        (status, body["reason"].as_str()),
        (StatusCode::NOT_FOUND, Some(NOT_FOUND))
    );
    assert_eq!(body["status"], "failure");

    // Wrong method on a known path, and a malformed form: h's JSON shape, not axum's text.
    let (status, body) = app.delete("/api/search", None).await;
    assert_eq!(
        (status, body["reason"].as_str()),
        (StatusCode::NOT_FOUND, Some(NOT_FOUND))
    );
    let r = app
        .client
        .post(app.url("/api/token"))
        .header("content-type", "text/plain")
        .body("x")
        .send()
        .await
        .unwrap();
    let (status, body) = crate::helpers::json_of(r).await;
    assert!(status.is_client_error());
    assert_eq!(body["status"], "failure", "{body}");

    let (status, health) = app.get("/_status", None).await;
    assert_eq!(
        (status, health["status"].as_str()),
        (StatusCode::OK, Some("okay"))
    );

    let metrics = app.metrics_text().await;
    assert!(metrics.contains("scholia_http_requests_total"), "{metrics}");
    assert!(metrics.contains("route=\"/api/links\""), "{metrics}");

    app.stop().await.expect("clean shutdown");
}

/// A load balancer takes a node whose database is gone out of rotation: h's failure body, 503.
async fn health_is_503_while_the_database_is_unreachable(backend: Backend) {
    let app = spawn_app(backend).await;
    let (status, health) = app.get("/_status", None).await;
    assert_eq!(status, StatusCode::OK, "{health}");
    assert_eq!(health["bus"], "local", "{health}");
    assert_eq!(health["bus_state"], "up", "{health}");
    // The server's pool is this one: closing it is a database that cannot be reached.
    app.db.close().await;
    let (status, health) = app.get("/_status", None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{health}");
    assert_eq!(
        health,
        serde_json::json!({"status": "failure", "reason": "Database connection failed"})
    );
}
