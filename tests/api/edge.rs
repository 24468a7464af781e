//! What the listener and the request guard refuse (src/serve.rs, src/serve/guard.rs), over raw
//! TCP where a client must misbehave in ways an HTTP library will not: trickled headers and
//! bodies, too many connections from one address, oversized requests, more requests in
//! progress than the server takes on.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{Backend, spawn_app_with};
use crate::realtime::WAIT;

/// Reads until the server closes the connection (or `limit` passes); what it sent.
async fn read_to_close(tcp: &mut TcpStream, limit: Duration) -> Option<Vec<u8>> {
    let mut got = vec![];
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, tcp.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(got),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
}

#[tokio::test]
async fn a_client_trickling_its_headers_is_closed_at_the_deadline() {
    let app = spawn_app_with(Backend::Sqlite, |c| c.request_timeout_secs = 1).await;
    let mut tcp = TcpStream::connect(app.addr).await.unwrap();
    let started = Instant::now();
    let head =
        b"GET /api/ HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    let mut closed = false;
    // One byte every 100 ms would take 7 s; the server must cut it off after about 1 s.
    for byte in head {
        if tcp.write_all(&[*byte]).await.is_err() {
            closed = true;
            break;
        }
        let mut buf = [0u8; 512];
        match tokio::time::timeout(Duration::from_millis(100), tcp.read(&mut buf)).await {
            Ok(Ok(_)) | Ok(Err(_)) => {
                closed = true;
                break;
            }
            Err(_) => {}
        }
    }
    assert!(closed, "the connection outlived its header deadline");
    let took = started.elapsed();
    assert!(took < Duration::from_secs(5), "closed only after {took:?}");
}

#[tokio::test]
async fn a_body_that_does_not_arrive_in_time_is_a_408_in_hs_shape() {
    let app = spawn_app_with(Backend::Sqlite, |c| c.request_timeout_secs = 1).await;
    let (_, token) = app.user("alice").await;
    let mut tcp = TcpStream::connect(app.addr).await.unwrap();
    let head = format!(
        "POST /api/annotations HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"uri\": "
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    let answer = read_to_close(&mut tcp, WAIT)
        .await
        .expect("an answer in time");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(
        answer.contains(
            r#"{"status":"failure","reason":"The request body did not arrive within 1 s"}"#
        ),
        "{answer}"
    );
    assert_eq!(app.row_counts().await.0, 0);
}

#[tokio::test]
async fn oversized_request_lines_and_headers_answer_hs_json() {
    let app = spawn_app_with(Backend::Sqlite, |_| {}).await;
    let long_query = format!("/api/search?uri={}", "a".repeat(61 * 1024));
    let r = app.client.get(app.url(&long_query)).send().await.unwrap();
    let (status, body) = crate::helpers::json_of(r).await;
    assert_eq!(status, StatusCode::URI_TOO_LONG);
    assert_eq!(body["status"], "failure");
    assert!(
        body["reason"].as_str().unwrap().contains("at most 61440"),
        "{body}"
    );

    let mut req = app.client.get(app.url("/api/"));
    for i in 0..150 {
        req = req.header(format!("x-h{i}"), "v");
    }
    let (status, body) = crate::helpers::json_of(req.send().await.unwrap()).await;
    assert_eq!(status, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
    assert!(
        body["reason"]
            .as_str()
            .unwrap()
            .contains("at most 100 headers"),
        "{body}"
    );

    let big = "b".repeat(70 * 1024);
    let r = app
        .client
        .get(app.url("/api/"))
        .header("x-big", big)
        .send()
        .await
        .unwrap();
    let (status, body) = crate::helpers::json_of(r).await;
    assert_eq!(status, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
    assert_eq!(body["status"], "failure");
}

/// A TCP connection to `app` from 127.0.0.2, an address nothing else in the test uses.
async fn connect_from_second_address(app: &crate::helpers::TestApp) -> TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.2:0".parse().unwrap()).unwrap();
    socket.connect(app.addr).await.unwrap()
}

#[tokio::test]
async fn one_address_holds_at_most_its_share_of_connections() {
    let app = spawn_app_with(Backend::Sqlite, |c| {
        c.max_connections_per_address = 3;
        c.limit_loopback_connections = true;
    })
    .await;
    let mut sockets = vec![];
    for _ in 0..3 {
        let tcp = connect_from_second_address(&app).await;
        let (ws, resp) = tokio_tungstenite::client_async(app.ws_url(), tcp)
            .await
            .expect("handshake");
        assert_eq!(resp.status(), 101);
        sockets.push(ws);
    }
    // A fourth connection is closed without an answer: WebSockets count while they are open.
    let mut tcp = connect_from_second_address(&app).await;
    let _ = tcp
        .write_all(b"GET /api/ HTTP/1.1\r\nHost: x\r\n\r\n")
        .await;
    assert_eq!(read_to_close(&mut tcp, WAIT).await, Some(vec![]));
    // Another address is not affected.
    assert_eq!(
        app.client
            .get(app.url("/api/"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    // Closing one gives its place back.
    sockets.pop().unwrap().close(None).await.unwrap();
    let deadline = Instant::now() + WAIT;
    loop {
        let mut tcp = connect_from_second_address(&app).await;
        let _ = tcp
            .write_all(b"GET /api/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await;
        let got = read_to_close(&mut tcp, WAIT).await.unwrap();
        if got.starts_with(b"HTTP/1.1 200") {
            break;
        }
        assert!(Instant::now() < deadline, "the place was never given back");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn past_the_requests_in_progress_limit_the_answer_is_503_at_once() {
    let app = spawn_app_with(Backend::Sqlite, |c| c.max_requests_in_flight = 2).await;
    let (_, token) = app.user("alice").await;
    // Another connection holds SQLite's write lock, so writes wait inside the server.
    let scholia::store::Db::Sqlite(pool) = &app.db else {
        unreachable!()
    };
    let mut lock = pool.acquire().await.unwrap();
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut *lock)
        .await
        .unwrap();
    let mut writes = vec![];
    for i in 0..2 {
        let client = app.client.clone();
        let url = app.url("/api/annotations");
        let token = token.clone();
        writes.push(tokio::spawn(async move {
            client
                .post(url)
                .bearer_auth(token)
                .json(&json!({"uri": format!("http://example.com/{i}")}))
                .send()
                .await
                .unwrap()
                .status()
        }));
    }
    // Once both writes hold their places, the next request is shed.
    let deadline = Instant::now() + WAIT;
    let shed = loop {
        let r = app.client.get(app.url("/api/")).send().await.unwrap();
        if r.status() == StatusCode::SERVICE_UNAVAILABLE {
            break r;
        }
        assert!(Instant::now() < deadline, "never shed");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert_eq!(shed.headers()["retry-after"], "1");
    let (_, body) = crate::helpers::json_of(shed).await;
    assert_eq!(body["status"], "failure");
    assert!(
        body["reason"]
            .as_str()
            .unwrap()
            .contains("limit of 2 requests"),
        "{body}"
    );

    sqlx::query("ROLLBACK").execute(&mut *lock).await.unwrap();
    for w in writes {
        assert_eq!(w.await.unwrap(), StatusCode::OK);
    }
    assert_eq!(
        app.client
            .get(app.url("/api/"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}
