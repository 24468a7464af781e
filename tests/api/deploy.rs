//! The shipped nginx configuration (`deploy/nginx.conf`), run by a real nginx in front of a real
//! three-node cluster: WebSocket upgrades and API calls go through it, events written through
//! any node arrive in change-log order, and `/metrics` stays private.

use std::process::Stdio;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use crate::cluster::logged_creates;
use crate::helpers::{Backend, TestApp, fresh_database, postgres_url, spawn_on};
use crate::realtime::{notification, ws_at};

/// nginx's path. Missing locally: a notice and a skip; missing under CI: a failure.
fn nginx() -> Option<&'static str> {
    let path = "/usr/sbin/nginx";
    if std::path::Path::new(path).exists() {
        return Some(path);
    }
    assert!(
        std::env::var("CI").map_or(true, |v| v != "true"),
        "CI=true but nginx is not installed: the deployment test cannot be skipped in CI"
    );
    eprintln!("NOTICE: nginx is not installed; skipping the deployment test");
    None
}

/// nginx running `deploy/nginx.conf` with its upstreams pointed at `nodes`, listening on a free
/// port. Killed when dropped.
struct Nginx {
    _child: tokio::process::Child,
    bin: &'static str,
    prefix: tempfile::TempDir,
    base: String,
}

impl Drop for Nginx {
    /// Stops the master and its workers (killing the master alone would orphan them).
    fn drop(&mut self) {
        let conf = self.prefix.path().join("nginx.conf");
        let _ = std::process::Command::new(self.bin)
            .arg("-p")
            .arg(self.prefix.path())
            .arg("-c")
            .arg(conf)
            .args(["-g", "pid nginx.pid; error_log stderr warn;", "-s", "stop"])
            .stderr(Stdio::null())
            .status();
    }
}

async fn start_nginx(bin: &'static str, nodes: &[TestApp]) -> Nginx {
    let shipped = include_str!("../../deploy/nginx.conf");
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    // TLS is the browser test's part (e2e/tests/tls.test.js, with a certificate); here the
    // HTTPS server block listens in plain HTTP so the test's clients need no TLS.
    let free = || {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    assert!(shipped.contains("listen 443 ssl;") && shipped.contains("listen 80;"));
    let mut conf: String = shipped
        .replace("listen 443 ssl;", &format!("listen 127.0.0.1:{port};"))
        .replace("listen 80;", &format!("listen 127.0.0.1:{};", free()))
        .lines()
        .filter(|l| !l.trim_start().starts_with("ssl_"))
        .map(|l| format!("{l}\n"))
        .collect();
    for (i, node) in nodes.iter().enumerate() {
        let shipped_addr = format!("127.0.0.1:500{}", i + 1);
        assert!(
            conf.contains(&shipped_addr),
            "the shipped config names {shipped_addr}"
        );
        conf = conf.replace(&shipped_addr, &node.addr.to_string());
    }
    let prefix = tempfile::tempdir().unwrap();
    // nginx's workers drop to an unprivileged user and write temp files under the prefix.
    std::fs::set_permissions(
        prefix.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .unwrap();
    let conf_path = prefix.path().join("nginx.conf");
    std::fs::write(&conf_path, conf).unwrap();
    let child = tokio::process::Command::new(bin)
        .arg("-p")
        .arg(prefix.path())
        .arg("-c")
        .arg(&conf_path)
        .args(["-g", "daemon off; pid nginx.pid; error_log stderr warn;"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Nginx {
                _child: child,
                bin,
                prefix,
                base: format!("127.0.0.1:{port}"),
            };
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("nginx did not start");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nginx_pg_the_shipped_config_serves_a_three_node_cluster() {
    let Some(bin) = nginx() else { return };
    if postgres_url().is_none() {
        return;
    }
    let (db_url, _dir) = fresh_database(Backend::Postgres).await;
    let mut nodes = Vec::new();
    for _ in 0..3 {
        let dir = tempfile::tempdir().unwrap();
        nodes.push(
            spawn_on(&db_url, dir, |c| {
                c.bus = "postgres".into();
                c.bus_poll_ms = 600_000;
                c.public_url = Some("http://annotations.example".into());
            })
            .await,
        );
    }
    let (_, alice) = nodes[0].user("alice").await;
    let proxy = start_nginx(bin, &nodes).await;
    let uri = "https://deploy.example/page";

    let mut ws = ws_at(&format!("ws://{}/ws?access_token={alice}", proxy.base)).await;
    ws.subscribe_uri(uri).await;
    let http = reqwest::Client::new();
    let mut posted = vec![];
    for k in 0..6 {
        let r = http
            .post(format!("http://{}/api/annotations", proxy.base))
            .bearer_auth(&alice)
            .json(
                &serde_json::json!({"uri": uri, "text": format!("via nginx {k}"),
                "permissions": {"read": ["group:__world__"]}}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let body: Value = r.json().await.unwrap();
        posted.push(body["id"].as_str().unwrap().to_owned());
    }
    let logged = logged_creates(&nodes[0].db).await;
    assert_eq!(
        logged.iter().map(|(_, id)| id.clone()).collect::<Vec<_>>(),
        posted
    );
    for want in &logged {
        let ev = ws.event().await;
        let (_, payload) = notification(&ev);
        assert_eq!(
            (ev["seq"].as_i64().unwrap(), payload["id"].as_str().unwrap()),
            (want.0, want.1.as_str()),
            "{ev}"
        );
    }
    // Every node served some of the writes (nginx spreads them round robin).
    for node in &nodes {
        let m = node.metrics_text().await;
        assert!(
            m.lines()
                .any(|l| l.starts_with("scholia_http_requests_total")
                    && l.contains("route=\"/api/annotations\"")
                    && l.contains("method=\"POST\"")),
            "a node got no POST: {m}"
        );
    }
    let r = http
        .get(format!("http://{}/metrics", proxy.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    for node in nodes {
        node.stop().await.unwrap();
    }
}
