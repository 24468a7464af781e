//! `--trusted-proxy`: forwarding headers count only from a trusted peer, as the access log and
//! the per-address connection cap show. The test connects from two loopback addresses:
//! 127.0.0.2 is the trusted proxy, 127.0.0.1 anyone else.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::process::{ServerProcess, scholia, start};

const PROXY: [u8; 4] = [127, 0, 0, 2];
const OTHER: [u8; 4] = [127, 0, 0, 1];

/// A connection to the server from `local`.
async fn connect_from(local: [u8; 4], server: &ServerProcess) -> TcpStream {
    let addr: SocketAddr = server.base.trim_start_matches("http://").parse().unwrap();
    let socket = TcpSocket::new_v4().unwrap();
    socket
        .bind(SocketAddr::new(IpAddr::from(local), 0))
        .unwrap();
    socket.connect(addr).await.unwrap()
}

/// Sends one request on `conn` (kept alive) and returns the response's first line, or `None`
/// when the server closed the connection instead.
async fn request(conn: &mut TcpStream, id: &str, forwarded_for: &str) -> Option<String> {
    let head = format!(
        "GET /_status HTTP/1.1\r\nHost: scholia\r\nX-Request-Id: {id}\r\n\
         X-Forwarded-For: {forwarded_for}\r\n\r\n"
    );
    conn.write_all(head.as_bytes()).await.ok()?;
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(10), conn.read(&mut buf))
        .await
        .expect("an answer or a close within 10 s")
        .unwrap_or(0);
    let text = String::from_utf8_lossy(&buf[..n]).into_owned();
    text.lines().next().map(str::to_owned)
}

/// The client address in the access line of request `id`.
async fn logged_client(server: &mut ServerProcess, id: &str) -> String {
    loop {
        let line = server.line_with(id).await;
        let json: Value = serde_json::from_str(&line).unwrap();
        if json["target"] == "scholia::http_log" {
            return json["span"]["client"].as_str().unwrap().to_owned();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_a_trusted_proxy_speaks_for_its_clients() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = scholia(&["serve", "--listen", "127.0.0.1:0", "--data-dir"]);
    cmd.arg(dir.path())
        .env("SCHOLIA_LOG_FORMAT", "json")
        // The comma-separated form, as a service manager's environment gives it.
        .env("SCHOLIA_TRUSTED_PROXY", "127.0.0.2, 10.0.0.0/8")
        // One connection per address, loopback included: the cap is visible.
        .env("SCHOLIA_MAX_CONNECTIONS_PER_ADDRESS", "1")
        .env("SCHOLIA_LIMIT_LOOPBACK_CONNECTIONS", "true");
    let mut server = start(cmd).await;

    // Anyone else: the header is the client's own say-so and is ignored.
    let mut other = connect_from(OTHER, &server).await;
    let status = request(&mut other, "from-other", "198.51.100.7").await;
    assert_eq!(status.as_deref(), Some("HTTP/1.1 200 OK"));
    assert_eq!(logged_client(&mut server, "from-other").await, "127.0.0.1");

    // The proxy: the rightmost hop that is not a trusted proxy (the client wrote 1.1.1.1).
    let mut proxy = connect_from(PROXY, &server).await;
    let status = request(&mut proxy, "via-proxy", "1.1.1.1, 198.51.100.9, 10.0.0.3").await;
    assert_eq!(status.as_deref(), Some("HTTP/1.1 200 OK"));
    assert_eq!(
        logged_client(&mut server, "via-proxy").await,
        "198.51.100.9"
    );

    // The cap of one connection holds for anyone else, not for the proxy, which connects for
    // all its clients.
    let mut second_other = connect_from(OTHER, &server).await;
    assert_eq!(request(&mut second_other, "other-2", "x").await, None);
    let mut second_proxy = connect_from(PROXY, &server).await;
    let status = request(&mut second_proxy, "proxy-2", "203.0.113.4").await;
    assert_eq!(status.as_deref(), Some("HTTP/1.1 200 OK"));
    assert_eq!(logged_client(&mut server, "proxy-2").await, "203.0.113.4");
    drop((other, proxy, second_proxy));
    server.stop().await;
}
