//! The peers of S1 and S2: other servers, started, pinned and measured like scholia in the same
//! run, so the table can set scholia's figures beside them.
//!
//! - **Sockudo** (crates.io `sockudo`, a Rust Pusher-protocol server): configured by
//!   environment only, with single-node drivers (local adapter, memory cache, queue and app
//!   manager) and no rate limits; events go through its signed HTTP events API, as a Pusher
//!   backend would send them.
//! - **naive**: `examples/naive_broadcast.rs`, the broadcast server anyone would write first
//!   with tokio-tungstenite; it publishes when told on stdin (no HTTP), a floor rather than a
//!   product.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout};

use super::driver::{Placement, command};
use super::post::{Posted, paced};
use super::pusher::{self, EventsApi};
use super::wsclient::now_ns;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PeerKind {
    Sockudo,
    Naive,
}

impl PeerKind {
    pub fn name(self) -> &'static str {
        match self {
            PeerKind::Sockudo => "sockudo",
            PeerKind::Naive => "naive",
        }
    }

    pub fn parse(name: &str) -> Option<PeerKind> {
        match name.trim() {
            "sockudo" => Some(PeerKind::Sockudo),
            "naive" => Some(PeerKind::Naive),
            _ => None,
        }
    }

    /// The channel (Sockudo) every S2 socket subscribes to, or the S1 template: one channel
    /// per socket there, like scholia's one URI per socket. The naive server ignores both.
    pub fn channel(self, s1: bool) -> &'static str {
        match (self, s1) {
            (PeerKind::Sockudo, true) => "bench-s1-{n}",
            (PeerKind::Sockudo, false) => "bench",
            (PeerKind::Naive, true) => "https://bench.example/s1/{n}",
            (PeerKind::Naive, false) => "https://bench.example/s2",
        }
    }
}

/// A peer's binary and the version it reports in the results.
#[derive(Clone, Debug)]
pub struct PeerBin {
    pub kind: PeerKind,
    pub path: PathBuf,
    pub version: String,
}

/// The Sockudo app every run uses (created from the environment at start).
const APP: (&str, &str, &str) = ("bench", "bench-key", "bench-secret");

/// Sockudo's settings, all by environment (it reads no file: it runs in an empty folder, so
/// no `config/config.toml` is found). Everything else keeps Sockudo's defaults.
fn sockudo_env(port: u16, metrics_port: u16) -> Vec<(&'static str, String)> {
    let (id, key, secret) = APP;
    vec![
        ("HOST", "127.0.0.1".into()),
        ("PORT", port.to_string()),
        ("SOCKUDO_DEFAULT_APP_ID", id.into()),
        ("SOCKUDO_DEFAULT_APP_KEY", key.into()),
        ("SOCKUDO_DEFAULT_APP_SECRET", secret.into()),
        // The default app allows 100 connections and 100 backend events/s; S1 holds 19,000
        // sockets and S2 climbs to 150 events/s.
        ("SOCKUDO_DEFAULT_APP_MAX_CONNECTIONS", "1000000".into()),
        (
            "SOCKUDO_DEFAULT_APP_MAX_BACKEND_EVENTS_PER_SECOND",
            "1000000".into(),
        ),
        // One node: the local adapter, memory cache and app manager; the queue (webhooks only)
        // defaults to Redis, which is neither built in nor running.
        ("ADAPTER_DRIVER", "local".into()),
        ("CACHE_DRIVER", "memory".into()),
        ("QUEUE_DRIVER", "memory".into()),
        ("APP_MANAGER_DRIVER", "memory".into()),
        // On by default: 20 WebSocket connects a minute per IP and 100 API calls a minute.
        ("RATE_LIMITER_ENABLED", "false".into()),
        // Prometheus metrics stay on (its default; scholia counts its own too), on a port of
        // their own.
        ("METRICS_HOST", "127.0.0.1".into()),
        ("METRICS_PORT", metrics_port.to_string()),
        ("RUST_LOG", "warn".into()),
    ]
}

/// How the driver makes a peer publish.
enum Publisher {
    /// Signed `POST /apps/ID/events`, paced like scholia's annotation POSTs.
    Api {
        api: EventsApi,
        url: String,
        http: reqwest::Client,
    },
    /// `RATE COUNT` on the naive server's stdin; it prints `sent COUNT` when done.
    Stdin {
        stdin: ChildStdin,
        lines: Lines<BufReader<ChildStdout>>,
    },
}

/// A peer process started for one run (a fresh one per scenario run, like scholia's).
pub struct Peer {
    child: Child,
    dir: PathBuf,
    pub kind: PeerKind,
    pub pid: u32,
    pub addr: SocketAddr,
    /// Worker arguments for the peer's protocol.
    pub worker_args: Vec<String>,
    publisher: Publisher,
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

impl Peer {
    /// Starts the peer on the server's CPUs and waits until it answers.
    pub async fn start(place: &Placement, bin: &PeerBin) -> anyhow::Result<Peer> {
        static RUN: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = RUN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("scholia-bench-peer-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let port = free_port()?;
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let mut cmd = command(&place.server_cpus, &bin.path);
        cmd.current_dir(&dir).kill_on_drop(true);
        match bin.kind {
            PeerKind::Sockudo => {
                let log = std::fs::File::create(dir.join("sockudo.log"))?;
                // Nothing from the caller's environment (a REDIS_URL, say) reaches it.
                cmd.env_clear()
                    .env("PATH", std::env::var_os("PATH").unwrap_or_default())
                    .envs(sockudo_env(port, free_port()?))
                    .stdin(Stdio::null())
                    .stdout(log.try_clone()?)
                    .stderr(log);
            }
            PeerKind::Naive => {
                cmd.arg(port.to_string())
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::inherit());
            }
        }
        let mut child = cmd
            .spawn()
            .with_context(|| format!("starting {}", bin.path.display()))?;
        let pid = child.id().context("peer pid")?;
        let (publisher, worker_args) = match bin.kind {
            PeerKind::Sockudo => {
                let (id, key, secret) = APP;
                let api = EventsApi {
                    app_id: id.into(),
                    key: key.into(),
                    secret: secret.into(),
                };
                let url = format!("http://{addr}{}", api.events_path());
                let http = reqwest::Client::builder()
                    .pool_max_idle_per_host(512)
                    .build()?;
                let args = vec![
                    "--protocol=pusher".to_owned(),
                    format!("--path={}", pusher::path(key)),
                ];
                (Publisher::Api { api, url, http }, args)
            }
            PeerKind::Naive => {
                let stdin = child.stdin.take().context("naive stdin")?;
                let stdout = child.stdout.take().context("naive stdout")?;
                let lines = BufReader::new(stdout).lines();
                (Publisher::Stdin { stdin, lines }, vec![])
            }
        };
        let mut peer = Peer {
            child,
            dir,
            kind: bin.kind,
            pid,
            addr,
            worker_args,
            publisher,
        };
        peer.wait_ready().await?;
        Ok(peer)
    }

    /// Sockudo: `GET /up/APP` answers 200 once the app is loaded; naive: the port accepts.
    async fn wait_ready(&mut self) -> anyhow::Result<()> {
        let up = Instant::now();
        let health = format!("http://{}/up/{}", self.addr, APP.0);
        loop {
            let ready = match &self.publisher {
                Publisher::Api { http, .. } => http
                    .get(&health)
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success()),
                Publisher::Stdin { .. } => tokio::net::TcpStream::connect(self.addr).await.is_ok(),
            };
            if ready {
                return Ok(());
            }
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "{} exited at start ({status}){}",
                    self.kind.name(),
                    self.log_tail()
                );
            }
            if up.elapsed() > Duration::from_secs(30) {
                bail!(
                    "{} did not answer within 30 s{}",
                    self.kind.name(),
                    self.log_tail()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.join("sockudo.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        let tail = lines[lines.len().saturating_sub(20)..].join("\n");
        if tail.is_empty() {
            String::new()
        } else {
            format!("; its log ends:\n{tail}")
        }
    }

    /// Publishes `count` stamped events of about a kilobyte on S2's channel at `rate`/s.
    pub async fn publish(&mut self, rate: f64, count: usize) -> Posted {
        let channel = self.kind.channel(false);
        match &mut self.publisher {
            Publisher::Api { api, url, http } => {
                paced(rate, count, |_| {
                    let body = pusher::event_body(channel);
                    let query = api.signed_query(body.as_bytes(), now_ns() / 1_000_000_000);
                    http.post(format!("{url}?{query}"))
                        .header("content-type", "application/json")
                        .body(body)
                })
                .await
            }
            Publisher::Stdin { stdin, lines } => {
                let started = Instant::now();
                let asked = stdin
                    .write_all(format!("{rate} {count}\n").as_bytes())
                    .await;
                let sent = match asked {
                    Ok(()) => stdin.flush().await.ok().and(lines.next_line().await.ok()),
                    Err(_) => None,
                };
                // `sent N`: how many frames went into its broadcast channel.
                let ok = sent
                    .flatten()
                    .and_then(|l| l.strip_prefix("sent ")?.trim().parse::<u64>().ok())
                    .unwrap_or(0);
                Posted {
                    ok,
                    errors: count as u64 - ok.min(count as u64),
                    latency: Default::default(),
                    secs: started.elapsed().as_secs_f64(),
                }
            }
        }
    }
}

impl Peer {
    /// Kills the peer and waits until it has exited, so the next run's peer does not share
    /// the CPU with one still closing its sockets.
    pub async fn stop(mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The naive server's binary: cargo puts examples in `examples/` beside the bench binary.
pub fn naive_bin(bench_exe: &Path) -> PathBuf {
    bench_exe
        .with_file_name("examples")
        .join(format!("naive_broadcast{}", std::env::consts::EXE_SUFFIX))
}
