//! Faults under a running cluster of real `scholia serve` processes on one PostgreSQL schema:
//! a node killed with SIGKILL mid-stream, and the bus (a NATS server of the test's own) stopped
//! during writes and started again. Every surviving socket must receive every create of the
//! change log, in order, exactly once: the log is the oracle.

use std::process::Stdio;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use scholia::store::{Db, NewUser};

use crate::cluster::logged_creates;
use crate::helpers::{Backend, fresh_database, postgres_url};
use crate::realtime::{Ws, notification, ws_at};

const BIN: &str = env!("CARGO_BIN_EXE_scholia");
const URI: &str = "https://faults.example/page";

/// A `scholia serve` process; killed when dropped.
pub struct Node {
    child: Child,
    pub base: String,
}

impl Node {
    pub async fn start(db_url: &str, bus: &str, poll_ms: u64) -> Node {
        Node::start_with(db_url, bus, poll_ms, &[]).await
    }

    /// [`Node::start`] with extra environment variables (settings).
    pub async fn start_with(db_url: &str, bus: &str, poll_ms: u64, env: &[(&str, &str)]) -> Node {
        let dir = tempfile::tempdir().unwrap();
        let mut child = Command::new(BIN)
            .args(["serve", "--listen", "127.0.0.1:0", "--bus", bus])
            .args([
                "--public-url",
                "http://cluster.example",
                "--database-url",
                db_url,
            ])
            .arg("--data-dir")
            .arg(dir.path())
            .env("SCHOLIA_BUS_POLL_MS", poll_ms.to_string())
            .env("SCHOLIA_AUTHORITY", "example.com")
            .env("RUST_LOG", "info")
            .env_remove("SCHOLIA_LOG_FORMAT")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let addr = tokio::time::timeout(Duration::from_secs(30), async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some((_, rest)) = line.split_once("scholia listening on ") {
                    return rest.split(':').take(2).collect::<Vec<_>>().join(":");
                }
            }
            panic!("the node exited before listening");
        })
        .await
        .expect("the node listens in time");
        // Keep draining its output, so a full pipe never blocks it.
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                // Warnings and errors go to the test's output, for a failing run's story.
                if line.contains(" WARN ") || line.contains(" ERROR ") {
                    eprintln!("node: {line}");
                }
            }
        });
        Node {
            child,
            base: format!("http://{addr}"),
        }
    }

    /// SIGKILL: no goodbye to its sockets or its database; returns once it is gone.
    pub async fn kill(&mut self) {
        self.child.start_kill().unwrap();
        self.child.wait().await.unwrap();
    }

    /// The node's `/ws` URL.
    pub fn ws_url(&self) -> String {
        format!("{}/ws", self.base.replacen("http://", "ws://", 1))
    }

    pub async fn socket(&self) -> Ws {
        let url = format!("{}/ws", self.base.replacen("http://", "ws://", 1));
        let mut ws = ws_at(&url).await;
        ws.subscribe_uri(URI).await;
        ws
    }

    /// Waits (30 s at most) until `/_status` says the bus is up, or down.
    pub async fn wait_for_bus(&self, http: &reqwest::Client, up: bool) {
        for _ in 0..300 {
            let status: Value = http
                .get(format!("{}/_status", self.base))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if (status["bus_state"] == "up") == up {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "the bus of {} never became {}",
            self.base,
            if up { "up" } else { "down" }
        );
    }

    /// Posts a shared annotation on [`URI`]: the answer, or `None` if the node did not answer.
    pub async fn try_post(
        &self,
        http: &reqwest::Client,
        token: &str,
        text: &str,
    ) -> Option<(StatusCode, Value)> {
        let r = http
            .post(format!("{}/api/annotations", self.base))
            .bearer_auth(token)
            .json(&json!({"uri": URI, "text": text, "group": "__world__",
                "permissions": {"read": ["group:__world__"]}}))
            .send()
            .await
            .ok()?;
        let status = r.status();
        Some((status, r.json().await.unwrap_or(Value::Null)))
    }

    /// Posts a shared annotation on [`URI`], asserting success; false if the node did not
    /// answer.
    pub async fn post(&self, http: &reqwest::Client, token: &str, text: &str) -> bool {
        match self.try_post(http, token, text).await {
            Some((status, body)) => {
                assert_eq!(status, StatusCode::OK, "{body}");
                true
            }
            None => false,
        }
    }
}

/// A token for a fresh user, written straight to the shared database.
pub async fn token(db: &Db, name: &str) -> String {
    let user = db
        .create_user(&NewUser {
            username: name,
            authority: "example.com",
            ..Default::default()
        })
        .await
        .unwrap();
    db.create_developer_token(&user).await.unwrap()
}

pub async fn received(ws: &mut Ws, n: usize) -> Vec<(i64, String)> {
    let mut got = Vec::with_capacity(n);
    for _ in 0..n {
        let ev: Value = ws.event().await;
        let (action, payload) = notification(&ev);
        assert_eq!(action, "create", "{ev}");
        got.push((
            ev["seq"].as_i64().unwrap(),
            payload["id"].as_str().unwrap().to_owned(),
        ));
    }
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_a_node_killed_mid_stream_costs_the_others_nothing() {
    if postgres_url().is_none() {
        return;
    }
    let (db_url, _dir) = fresh_database(Backend::Postgres).await;
    let db = Db::connect(&db_url).await.unwrap();
    let mut nodes = Vec::new();
    for _ in 0..3 {
        nodes.push(Node::start(&db_url, "postgres", 600_000).await);
    }
    let alice = token(&db, "alice").await;
    let http = reqwest::Client::new();
    let mut survivors = vec![nodes[1].socket().await, nodes[2].socket().await];
    let _doomed = nodes[0].socket().await;
    for k in 0..30 {
        if k == 10 {
            // SIGKILL: no goodbye to its sockets, its bus connection or its database.
            nodes[0].child.start_kill().unwrap();
            nodes[0].child.wait().await.unwrap();
        }
        let node = &nodes[k % 3];
        if !node.post(&http, &alice, &format!("note {k}")).await {
            assert!(
                nodes[(k + 1) % 3]
                    .post(&http, &alice, &format!("note {k}"))
                    .await
            );
        }
    }
    let oracle = logged_creates(&db).await;
    assert_eq!(oracle.len(), 30);
    for ws in &mut survivors {
        assert_eq!(received(ws, oracle.len()).await, oracle);
    }
}

/// A NATS server of the test's own, on a free port, so stopping it disturbs no other test.
struct Nats {
    child: Child,
    port: u16,
}

impl Nats {
    async fn start(port: u16) -> Nats {
        let child = Command::new("nats-server")
            .args(["-a", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("nats-server on PATH (.ci/run installs it)");
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return Nats { child, port };
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("nats-server did not start on port {port}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_a_bus_stopped_during_writes_loses_nothing_and_comes_back() {
    if postgres_url().is_none() {
        return;
    }
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut nats = Nats::start(port).await;
    let bus = format!("nats://127.0.0.1:{}", nats.port);
    let (db_url, _dir) = fresh_database(Backend::Postgres).await;
    let db = Db::connect(&db_url).await.unwrap();
    let nodes = [
        Node::start(&db_url, &bus, 200).await,
        Node::start(&db_url, &bus, 200).await,
    ];
    let alice = token(&db, "alice").await;
    let http = reqwest::Client::new();
    let mut sockets = vec![nodes[0].socket().await, nodes[1].socket().await];
    let mut k = 0;
    let mut post_round = async |n: usize| {
        for _ in 0..n {
            assert!(nodes[k % 2].post(&http, &alice, &format!("note {k}")).await);
            k += 1;
        }
    };
    post_round(5).await;
    nats.child.start_kill().unwrap();
    nats.child.wait().await.unwrap();
    for node in &nodes {
        node.wait_for_bus(&http, false).await;
    }
    post_round(5).await;
    let _nats = Nats::start(port).await;
    for node in &nodes {
        node.wait_for_bus(&http, true).await;
    }
    post_round(5).await;
    let oracle = logged_creates(&db).await;
    assert_eq!(oracle.len(), 15);
    for ws in &mut sockets {
        assert_eq!(received(ws, oracle.len()).await, oracle);
    }
}
