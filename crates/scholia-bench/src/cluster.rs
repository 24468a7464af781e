//! Several `scholia serve` nodes on one PostgreSQL schema (S7, and S4 on PostgreSQL): a fresh
//! schema per run, dropped afterwards; a private `nats-server` that S7 may stop without touching
//! the shared one; the nodes themselves and their counters.

use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::process::{Child, Command};

use super::driver::{Placement, Server, wait_for};

/// The PostgreSQL the benchmarks use unless told otherwise (the project's test database).
pub const DEFAULT_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/test";

/// A schema of its own on a PostgreSQL server, so runs neither see each other's data nor
/// leave any behind. Created and dropped with `psql`, so the bench links no database driver.
pub struct Schema {
    base: String,
    name: String,
}

impl Schema {
    pub async fn create(base: &str) -> anyhow::Result<Schema> {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("scholia_bench_{}_{n}", std::process::id());
        let schema = Schema {
            base: base.to_owned(),
            name,
        };
        schema
            .psql(&format!(
                "DROP SCHEMA IF EXISTS {0} CASCADE; CREATE SCHEMA {0}",
                schema.name
            ))
            .await?;
        Ok(schema)
    }

    /// The database URL that puts the server's tables in this schema.
    pub fn url(&self) -> String {
        let sep = if self.base.contains('?') { '&' } else { '?' };
        format!("{}{sep}options=-c%20search_path%3D{}", self.base, self.name)
    }

    /// Drops the schema; call it once the servers on it have exited.
    pub async fn drop_now(self) -> anyhow::Result<()> {
        self.psql(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name))
            .await
    }

    async fn psql(&self, sql: &str) -> anyhow::Result<()> {
        let out = Command::new("psql")
            .args([&self.base, "-v", "ON_ERROR_STOP=1", "-q", "-c", sql])
            .output()
            .await
            .context("running psql (the bench creates and drops its schemas with it)")?;
        if !out.status.success() {
            bail!("psql {sql:?}: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(())
    }
}

/// A `nats-server` of the bench's own on a free port, so that S7 can stop "the bus" without
/// stopping the NATS other work on this machine shares.
pub struct PrivateNats {
    child: Child,
    pub url: String,
}

impl PrivateNats {
    pub async fn start() -> anyhow::Result<PrivateNats> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let child = Command::new("nats-server")
            .args(["-a", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .context("starting nats-server (it must be on PATH)")?;
        let addr = format!("127.0.0.1:{port}");
        let up = wait_for(Duration::from_secs(10), async || {
            tokio::net::TcpStream::connect(&addr).await.is_ok()
        })
        .await;
        anyhow::ensure!(up, "the private nats-server did not listen within 10 s");
        Ok(PrivateNats {
            child,
            url: format!("nats://{addr}"),
        })
    }

    /// Stops it (SIGKILL) and waits until it has exited.
    pub async fn stop(mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }
}

/// `n` nodes on one database, the first seeding the user and token the others share.
pub struct Cluster {
    pub nodes: Vec<Server>,
}

impl Cluster {
    /// Starts the nodes one after another (the first migrates the schema), each with
    /// `SCHOLIA_BUS=bus` and `env`.
    pub async fn start(
        place: &Placement,
        database_url: &str,
        bus: &str,
        n: usize,
        env: &[(&str, String)],
    ) -> anyhow::Result<Cluster> {
        let mut env = env.to_vec();
        env.push(("SCHOLIA_BUS", bus.to_owned()));
        let mut nodes: Vec<Server> = vec![];
        for _ in 0..n {
            let token = nodes.first().map(|s| s.token.clone());
            nodes.push(Server::start_on(place, Some(database_url), token.as_deref(), &env).await?);
        }
        Ok(Cluster { nodes })
    }

    pub fn refs(&self) -> Vec<&Server> {
        self.nodes.iter().collect()
    }

    /// A metric of every node, in node order.
    pub async fn metric(&self, name: &str) -> Vec<f64> {
        let mut v = vec![];
        for s in &self.nodes {
            v.push(s.metric(name).await);
        }
        v
    }

    pub fn cpu(&self) -> Vec<f64> {
        self.nodes.iter().map(Server::cpu).collect()
    }

    pub async fn stop(self) {
        for s in self.nodes {
            s.stop().await;
        }
    }
}
