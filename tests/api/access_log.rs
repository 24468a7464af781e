//! The access log of the real binary at its default log level: one JSON line per request, with
//! the request's fields, for routed requests, unmatched ones, refused bodies and the WebSocket
//! handshake alike, and never the `access_token` query parameter.

use std::process::{Command, Stdio};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const BIN: &str = env!("CARGO_BIN_EXE_scholia");
const SECRET: &str = "query-secret-never-logged";

/// Runs an admin command against `dir` and returns its last line of output.
fn admin(dir: &std::path::Path, args: &[&str]) -> String {
    let out = Command::new(BIN)
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .env_remove("SCHOLIA_DATABASE_URL")
        .output()
        .expect("run scholia");
    assert!(out.status.success(), "{args:?} failed");
    let stdout = String::from_utf8(out.stdout).unwrap();
    stdout.lines().last().unwrap_or_default().to_owned()
}

/// The next log line, parsed; every line the server writes must be one JSON object.
async fn next_line(lines: &mut mpsc::UnboundedReceiver<String>) -> Value {
    let line = tokio::time::timeout(Duration::from_secs(30), lines.recv())
        .await
        .expect("a log line within 30 s")
        .expect("server still running");
    assert!(
        !line.contains(SECRET),
        "the query string was logged: {line}"
    );
    serde_json::from_str(&line).unwrap_or_else(|e| panic!("not one JSON object ({e}): {line}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_logs_one_json_access_line_with_its_fields() {
    let dir = tempfile::tempdir().unwrap();
    admin(dir.path(), &["user", "add", "alice"]);
    let token = admin(dir.path(), &["token", "create", "alice"]);
    let mut server = tokio::process::Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env("SCHOLIA_LOG_FORMAT", "json")
        .env("SCHOLIA_MAX_BODY_BYTES", "2048")
        // The default level, as an operator gets it.
        .env_remove("RUST_LOG")
        .env_remove("SCHOLIA_DATABASE_URL")
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(server.stdout.take().unwrap()).lines();
    let (tx, mut lines) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok(Some(line)) = stdout.next_line().await {
            let _ = tx.send(line);
        }
    });
    let addr = loop {
        let line = next_line(&mut lines).await;
        let message = line["fields"]["message"].as_str().unwrap_or_default();
        if let Some(rest) = message.strip_prefix("scholia listening on ") {
            break rest.split(':').take(2).collect::<Vec<_>>().join(":");
        }
    };
    let base = format!("http://{addr}");
    let http = reqwest::Client::new();

    // A client's own request id is kept and echoed; h's client names itself in X-Client-Id.
    let r = http
        .get(format!("{base}/api/"))
        .header("x-request-id", "t-index")
        .header("x-client-id", "sidebar-1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["x-request-id"], "t-index");
    let r = http
        .get(format!("{base}/no/such/route?access_token={SECRET}"))
        .header("x-request-id", "t-unmatched")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = http
        .post(format!("{base}/api/annotations"))
        .bearer_auth(&token)
        .header("x-request-id", "t-too-big")
        .json(&json!({"uri": "https://example.com/", "text": "x".repeat(4096)}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let mut ws = format!("ws://{addr}/ws?access_token={SECRET}")
        .into_client_request()
        .unwrap();
    ws.headers_mut()
        .insert("x-request-id", "t-ws".parse().unwrap());
    let (_socket, response) = tokio_tungstenite::connect_async(ws).await.unwrap();
    assert_eq!(response.headers()["x-request-id"], "t-ws");
    // Without an id of its own, a request gets a fresh one, echoed like a client's.
    let r = http.get(format!("{base}/_status")).send().await.unwrap();
    let generated = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(generated.len(), 36, "a UUID: {generated}");

    // (request id, method, route, status, client id) of each request above, in order.
    let expected = [
        ("t-index", "GET", "/api/", 200, Some("sidebar-1")),
        ("t-unmatched", "GET", "/no/such/route", 404, None),
        ("t-too-big", "POST", "/api/annotations", 413, None),
        ("t-ws", "GET", "/ws", 101, None),
        (generated.as_str(), "GET", "/_status", 200, None),
    ];
    let mut seen = Vec::new();
    while seen.len() < expected.len() {
        let line = next_line(&mut lines).await;
        if line["target"] == "scholia::http_log" {
            seen.push(line);
        }
    }
    // The last request's line came after every earlier one's: none had a second line.
    for (line, (id, method, route, status, client)) in seen.iter().zip(expected) {
        assert_eq!(line["level"], "INFO", "{line}");
        assert_eq!(line["span"]["name"], "request", "{line}");
        assert_eq!(line["span"]["request_id"], id, "{line}");
        assert_eq!(line["span"]["method"], method, "{line}");
        assert_eq!(line["span"]["route"], route, "{line}");
        assert_eq!(line["span"]["client_id"].as_str(), client, "{line}");
        assert_eq!(line["fields"]["status"], status, "{line}");
        assert!(
            line["fields"]["latency_ms"].as_f64().unwrap() >= 0.0,
            "{line}"
        );
    }
    server.kill().await.unwrap();
}
