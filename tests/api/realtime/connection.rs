//! Spec §9 items 1–12: the handshake, token resolution, keep-alive, and how sockets end.

use futures_util::{SinkExt, StreamExt};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use super::{WAIT, Ws};
use crate::helpers::{Backend, TestApp, spawn_app, spawn_app_with};

async fn whoami(ws: &mut Ws) -> Value {
    ws.send_json(&json!({"type": "whoami", "id": 1})).await;
    ws.json().await
}

async fn ws_with_header(app: &TestApp, query: &str, auth: &str) -> Ws {
    let mut req = format!("{}{query}", app.ws_url())
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("authorization", auth.parse().unwrap());
    app.ws_request(req).await
}

async fn userid_of(ws: &mut Ws) -> Value {
    whoami(ws).await["userid"].clone()
}

/// Items 1–6 and 12.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_resolve_as_in_h_and_never_refuse_the_upgrade() {
    let app = spawn_app(Backend::Sqlite).await;
    let (alice, alice_t) = app.user("alice").await;
    let (_, bob_t) = app.user("bob").await;
    let alice_id = json!("acct:alice@example.com");

    let mut anon = app.ws(None).await;
    assert_eq!(
        whoami(&mut anon).await,
        json!({"type": "whoyouare", "userid": null, "ok": true, "reply_to": 1})
    );
    assert_eq!(userid_of(&mut app.ws(Some(&alice_t)).await).await, alice_id);
    let mut header = ws_with_header(&app, "", &format!("Bearer {alice_t}")).await;
    assert_eq!(userid_of(&mut header).await, alice_id);
    // The query parameter wins over the header; an empty one hides the header.
    let mut both = ws_with_header(
        &app,
        &format!("?access_token={bob_t}"),
        &format!("Bearer {alice_t}"),
    )
    .await;
    assert_eq!(userid_of(&mut both).await, "acct:bob@example.com");
    let mut empty = ws_with_header(&app, "?access_token=", &format!("Bearer {alice_t}")).await;
    assert_eq!(userid_of(&mut empty).await, Value::Null);
    for bad in [format!("bearer {alice_t}"), "Bearer   ".to_owned()] {
        assert_eq!(
            userid_of(&mut ws_with_header(&app, "", &bad).await).await,
            Value::Null
        );
    }
    assert_eq!(
        userid_of(&mut app.ws(Some("nope")).await).await,
        Value::Null
    );

    // Refresh tokens are not access tokens; expired tokens are anonymous.
    let client = app.db.create_authclient("example.com", None).await.unwrap();
    let issued = app.db.issue_oauth_tokens(&alice, &client).await.unwrap();
    assert_eq!(
        userid_of(&mut app.ws(Some(&issued.refresh_token)).await).await,
        Value::Null
    );
    let mut early = app.ws(Some(&issued.access_token)).await;
    assert_eq!(userid_of(&mut early).await, alice_id);
    app.exec(&format!(
        "UPDATE tokens SET expires = 1 WHERE value = '{}'",
        issued.access_token
    ))
    .await;
    assert_eq!(
        userid_of(&mut app.ws(Some(&issued.access_token)).await).await,
        Value::Null
    );
    // Checked once, at connect (item 12).
    assert_eq!(userid_of(&mut early).await, alice_id);

    // A deleted user's token is anonymous.
    app.exec("UPDATE users SET deleted = TRUE WHERE username = 'alice'")
        .await;
    assert_eq!(
        userid_of(&mut app.ws(Some(&alice_t)).await).await,
        Value::Null
    );
}

/// Items 7–9.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_websocket_requests_get_hs_json_errors() {
    let app = spawn_app(Backend::Sqlite).await;
    let (status, body) = app.get("/ws", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({"ok": false, "error": "bad_handshake", "reason": "Handshake failed. Are you a WebSocket client?"})
    );
    let (status, body) = app.get("/ws/nope", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"], "not_found");

    let upgrade = |version: &'static str| {
        app.client
            .get(app.url("/ws"))
            .header("connection", "Upgrade")
            .header("upgrade", "websocket")
            .header("sec-websocket-version", version)
            .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
            .header("origin", "https://evil.example")
            .send()
    };
    let r = upgrade("7").await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "bad_handshake");
    // Versions 8 and 13 are accepted, from any Origin.
    for v in ["8", "13"] {
        assert_eq!(
            upgrade(v).await.unwrap().status(),
            StatusCode::SWITCHING_PROTOCOLS
        );
    }
}

/// Items 10 and 11, with a short heartbeat so the test need not wait 30 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeat_beeps_and_pings_are_answered() {
    let app = spawn_app_with(Backend::Sqlite, |c| c.ws.heartbeat_ms = 100).await;
    let mut ws = app.ws(None).await;
    ws.ping_frame(b"hello").await;
    let mut got_pong = false;
    let mut got_beep = false;
    while !(got_pong && got_beep) {
        match ws.frame().await {
            Message::Pong(p) if &p[..] == b"hello" => got_pong = true,
            Message::Pong(p) if &p[..] == b"beep" => got_beep = true,
            Message::Ping(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
}

/// A peer that stops answering is closed (code 4000) and its socket freed. The peer here is
/// a raw TCP client that completes the handshake and then never writes again, so it answers no
/// Ping.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_peer_is_closed_after_the_idle_timeout() {
    let app = spawn_app_with(Backend::Sqlite, |c| {
        c.ws.heartbeat_ms = 50;
        c.ws.idle_timeout_ms = 200;
    })
    .await;
    // Read until EOF; the server's last frame must be Close 4000.
    let seen = raw_ws(&app, &[], None).await;
    // A server frame is unmasked: 0x88 (FIN + Close), the payload length, then the code.
    let code = 4000u16.to_be_bytes();
    assert!(
        seen.windows(4).any(|w| w[0] == 0x88 && w[2..4] == code),
        "no Close 4000 in {seen:?}"
    );
    let metrics = app.metrics_text().await;
    assert!(metrics.contains("reason=\"idle_timeout\""), "{metrics}");
}

/// Quirk Q11 fixed: an empty Close is answered with an empty Close (h sends 1005). A frame
/// over the size limit closes with 1009.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_handshakes_and_size_limit() {
    let app = spawn_app_with(Backend::Sqlite, |c| c.ws.max_message_bytes = 2048).await;
    let mut ws = app.ws(None).await;
    ws.inner.send(Message::Close(None)).await.unwrap();
    assert_eq!(ws.close_frame().await, None);

    let mut ws = app.ws(None).await;
    ws.send_text(&format!(
        "{{\"type\":\"ping\",\"id\":1,\"pad\":\"{}\"}}",
        "x".repeat(4096)
    ))
    .await;
    assert_eq!(ws.close_frame().await.map(|c| c.0), Some(1009));
}

/// On shutdown every socket is closed with 1012, which the official client reconnects after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_sockets_with_service_restart() {
    let app = spawn_app(Backend::Sqlite).await;
    let mut a = app.ws(None).await;
    let mut b = app.ws(None).await;
    a.drain().await;
    b.drain().await;
    let stopping = tokio::spawn(app.stop());
    for ws in [&mut a, &mut b] {
        assert_eq!(ws.close_frame().await.map(|c| c.0), Some(1012));
    }
    stopping.await.unwrap().unwrap();
}

/// A restart loses nothing committed before it began (issue 18, finding 4): with the default
/// write pacing most of a burst of events is still queued when the server is told to stop, and
/// every one of them, and the events the log holds but the hub had not yet routed, arrives
/// before the 1012 close.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_writes_every_committed_event_before_closing() {
    let app = spawn_app(Backend::Sqlite).await;
    let (_, token) = app.user("alice").await;
    let uri = "http://example.com/restart";
    let mut ws = app.ws(None).await;
    ws.subscribe_uri(uri).await;
    let mut committed = vec![];
    for i in 0..40 {
        let ann = app.shared(&token, "__world__", uri, &format!("{i}")).await;
        committed.push(ann["id"].as_str().unwrap().to_owned());
    }
    let stopping = tokio::spawn(app.stop());
    let mut received = vec![];
    let code = loop {
        match tokio::time::timeout(WAIT, ws.inner.next())
            .await
            .expect("close in time")
        {
            Some(Ok(Message::Text(t))) => {
                let ev: Value = serde_json::from_str(t.as_str()).unwrap();
                received.push(ev["payload"][0]["id"].as_str().unwrap().to_owned());
            }
            Some(Ok(Message::Close(f))) => break f.map(|f| u16::from(f.code)),
            Some(Ok(_)) => continue,
            other => panic!("socket ended without a close frame: {other:?}"),
        }
    };
    assert_eq!(code, Some(1012));
    assert_eq!(received, committed);
    stopping.await.unwrap().unwrap();
}

/// A Ping flood from a client that never reads (issue 18, finding 1: one such socket took the
/// server from 16 MB to 2.5 GB): Pings draw on the message budget, so past the burst the
/// server stops reading the socket, and what it owes in Pongs stays bounded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ping_flood_is_read_no_faster_than_messages() {
    let app = spawn_app(Backend::Sqlite).await;
    let mut ws = app.ws(None).await;
    let flood = async {
        for _ in 0..5_000 {
            let ping = Message::Ping(vec![7u8; 125].into());
            if ws.inner.feed(ping).await.is_err() {
                break;
            }
        }
        let _ = ws.inner.flush().await;
    };
    // The server stops reading once throttled, so the flood may never get out in full.
    let _ = tokio::time::timeout(std::time::Duration::from_secs(3), flood).await;
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let metrics = app.metrics_text().await;
        let throttled = metrics
            .lines()
            .find_map(|l| l.strip_prefix("scholia_ws_throttled_total "))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .unwrap_or(0.0);
        if throttled >= 1.0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "5,000 Pings were read without throttling"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// `/_echo` (for RFC 6455 conformance runs, RELIABILITY.md) exists only with `echo_endpoint`, and
/// sends every data message back as it came, text as text and binary as binary, on the socket
/// task `/ws` runs (where text that is not JSON would close the socket).
#[tokio::test]
async fn the_echo_endpoint_exists_only_when_asked_and_echoes_both_kinds() {
    let app = spawn_app(Backend::Sqlite).await;
    let status = app.client.get(app.url("/_echo")).send().await.unwrap();
    assert_eq!(status.status(), StatusCode::NOT_FOUND);

    let app = spawn_app_with(Backend::Sqlite, |c| c.echo_endpoint = true).await;
    let mut ws = super::ws_at(&format!("ws://{}/_echo", app.addr)).await;
    ws.inner
        .send(Message::text("not JSON at all"))
        .await
        .unwrap();
    assert_eq!(ws.frame().await, Message::text("not JSON at all"));
    let bytes = vec![0u8, 0xff, 0x9f, 0x92];
    ws.inner.send(Message::binary(bytes.clone())).await.unwrap();
    assert_eq!(ws.frame().await, Message::binary(bytes));
    ws.inner.send(Message::Close(None)).await.unwrap();
    assert!(matches!(ws.frame().await, Message::Close(_)));
}

/// A client frame, masked as RFC 6455 requires (`mask` false: unmasked, a protocol violation).
fn client_frame(opcode: u8, payload: &[u8], mask: bool) -> Vec<u8> {
    let key = [9u8, 8, 7, 6];
    let mut f = vec![0x80 | opcode, (mask as u8) << 7 | payload.len() as u8];
    if mask {
        f.extend_from_slice(&key);
        f.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    } else {
        f.extend_from_slice(payload);
    }
    f
}

/// A raw TCP connection to `/ws`, `extra` sent in the same write as the request; returns it
/// and everything the server sent until EOF (or `until` appears).
async fn raw_ws(app: &TestApp, extra: &[u8], until: Option<&[u8]>) -> Vec<u8> {
    let mut tcp = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let mut req = format!(
        "GET /ws HTTP/1.1\r\nHost: {}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
        app.addr
    )
    .into_bytes();
    req.extend_from_slice(extra);
    tcp.write_all(&req).await.unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = tokio::time::timeout(WAIT, tcp.read(&mut buf))
            .await
            .expect("the server answers in time")
            .unwrap_or(0);
        seen.extend_from_slice(&buf[..n]);
        let found = until.is_some_and(|u| seen.windows(u.len()).any(|w| w == u));
        if n == 0 || found {
            return seen;
        }
    }
}

/// The socket runs on the listener's own TCP connection (no hyper layer left under it), and a
/// message sent in the same packet as the handshake is read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_runs_on_the_listeners_connection_and_reads_what_came_with_the_handshake() {
    let app = spawn_app(Backend::Sqlite).await;
    let ping = client_frame(0x1, br#"{"type":"ping","id":7}"#, true);
    let seen = raw_ws(&app, &ping, Some(b"\"reply_to\":7")).await;
    let text = String::from_utf8_lossy(&seen);
    assert!(text.starts_with("HTTP/1.1 101"), "{text}");
    assert!(text.contains("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), "{text}");
    let metrics = app.metrics_text().await;
    assert!(
        metrics.contains("scholia_ws_upgrades_total{io=\"direct\"} 1"),
        "{metrics}"
    );
    assert!(!metrics.contains("io=\"wrapped\""), "{metrics}");
}

/// Frames that break RFC 6455 close with 1002, text that is not UTF-8 with 1007; a key that is
/// not 16 bytes of base64 is a bad handshake.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_frames_close_with_their_codes_and_a_bad_key_is_refused() {
    let app = spawn_app(Backend::Sqlite).await;
    for (frame, code) in [
        (client_frame(0x1, b"{}", false), 1002u16),
        (client_frame(0x3, b"", true), 1002),
        (client_frame(0x1, b"\xff\xfe", true), 1007),
    ] {
        let seen = raw_ws(&app, &frame, None).await;
        let code = code.to_be_bytes();
        assert!(
            seen.windows(4).any(|w| w[0] == 0x88 && w[2..4] == code),
            "no Close {code:?} in {:?}",
            String::from_utf8_lossy(&seen)
        );
    }
    let r = app
        .client
        .get(app.ws_url().replace("ws://", "http://"))
        .header("connection", "Upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-version", "13")
        .header("sec-websocket-key", "c2hvcnQ=")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}
