//! PostgreSQL restarted under a running two-node cluster (a private PostgreSQL of the test's
//! own, so no other test loses its database): writes during the outage get h's error shape in
//! bounded time, the nodes reconnect by themselves, and every socket gets every committed
//! create, in log order.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::cluster::logged_creates;
use crate::cluster_faults::{Node, received, token};
use crate::helpers::postgres_url;

const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

/// A PostgreSQL cluster in a temp dir, run as the `postgres` user; stopped when dropped.
struct PrivatePg {
    dir: tempfile::TempDir,
    port: u16,
}

fn as_postgres(program: &str, args: &[&str]) {
    let out = Command::new("runuser")
        .args(["-u", "postgres", "--", &format!("{PG_BIN}/{program}")])
        .args(args)
        .output()
        .expect("runuser");
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl PrivatePg {
    fn init() -> PrivatePg {
        let dir = tempfile::tempdir().unwrap();
        let status = Command::new("chown")
            .arg("postgres")
            .arg(dir.path())
            .status()
            .unwrap();
        assert!(status.success());
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let data = dir.path().join("data");
        as_postgres(
            "initdb",
            &[
                "-D",
                data.to_str().unwrap(),
                "-A",
                "trust",
                "-U",
                "postgres",
            ],
        );
        let pg = PrivatePg { dir, port };
        pg.start();
        pg
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    fn start(&self) {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("log").display().to_string();
        as_postgres(
            "pg_ctl",
            &["-D", &self.data(), "-o", &opts, "-l", &log, "-w", "start"],
        );
    }

    fn stop(&self) {
        as_postgres("pg_ctl", &["-D", &self.data(), "-m", "fast", "-w", "stop"]);
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for PrivatePg {
    fn drop(&mut self) {
        let _ = Command::new("runuser")
            .args(["-u", "postgres", "--", &format!("{PG_BIN}/pg_ctl")])
            .args(["-D", &self.data(), "-m", "immediate", "stop"])
            .output();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_restart_costs_errors_during_the_outage_and_nothing_committed() {
    if postgres_url().is_none() {
        return;
    }
    // The machines that run the PostgreSQL tests have its server binaries; a machine without
    // them skips this test visibly, and CI never skips it.
    if !Path::new(PG_BIN).join("initdb").exists() {
        assert!(
            std::env::var("CI").map_or(true, |v| v != "true"),
            "CI=true but {PG_BIN}/initdb is missing: the PostgreSQL restart test cannot run"
        );
        eprintln!("NOTICE: {PG_BIN}/initdb is missing; skipping the PostgreSQL restart test");
        return;
    }
    let pg = PrivatePg::init();
    let db = scholia::store::Db::connect(&pg.url()).await.unwrap();
    let nodes = [
        Node::start(&pg.url(), "postgres", 200).await,
        Node::start(&pg.url(), "postgres", 200).await,
    ];
    let alice = token(&db, "alice").await;
    db.close().await;
    let http = reqwest::Client::new();
    let mut sockets = vec![nodes[0].socket().await, nodes[1].socket().await];
    for k in 0..4 {
        assert!(
            nodes[k % 2]
                .post(&http, &alice, &format!("before {k}"))
                .await
        );
    }

    pg.stop();
    // Writes while the database is down: h's failure shape, within the pool's wait, no panic.
    for (k, node) in nodes.iter().enumerate() {
        let answer = tokio::time::timeout(
            Duration::from_secs(30),
            node.try_post(&http, &alice, &format!("during {k}")),
        )
        .await
        .expect("an answer in bounded time, not a hang");
        let (status, body) = answer.expect("the node still answers");
        assert!(status.is_server_error(), "{status} {body}");
        assert_eq!(body["status"], "failure", "{body}");
        assert!(body["reason"].is_string(), "{body}");
    }

    pg.start();
    // The nodes find the database again by themselves (their pools reconnect).
    for node in &nodes {
        let mut healthy = false;
        for _ in 0..300 {
            if let Ok(r) = http.get(format!("{}/_status", node.base)).send().await
                && r.status().is_success()
            {
                healthy = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(healthy, "{} never became healthy again", node.base);
    }
    for k in 0..4 {
        assert!(
            nodes[k % 2]
                .post(&http, &alice, &format!("after {k}"))
                .await
        );
    }

    let db = scholia::store::Db::connect(&pg.url()).await.unwrap();
    let oracle = logged_creates(&db).await;
    assert_eq!(oracle.len(), 8, "the outage's writes failed whole");
    for ws in &mut sockets {
        assert_eq!(received(ws, oracle.len()).await, oracle);
    }
    db.close().await;
}
