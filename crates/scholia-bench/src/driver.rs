//! The driver's tools: start a server to measure (or attach to one), start worker processes,
//! post stamped annotations at a fixed rate, and read the server's own counters.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use super::hist::Histogram;
use super::proc;

/// What runs where: the server binary, and the CPUs of the server and of the load.
#[derive(Clone, Debug)]
pub struct Placement {
    /// The `scholia` binary started as the server under test (and for its admin commands).
    pub server_bin: PathBuf,
    /// CPU list for the server (`taskset -c`), or none to leave it unpinned.
    pub server_cpus: Option<String>,
    pub load_cpus: Option<String>,
}

pub(crate) fn command(cpus: &Option<String>, program: &PathBuf) -> Command {
    match cpus {
        Some(list) => {
            let mut c = Command::new("taskset");
            c.arg("-c").arg(list).arg(program);
            c
        }
        None => Command::new(program),
    }
}

/// This executable: workers and the calibration probe are `scholia-bench` processes too.
pub(crate) fn exe() -> anyhow::Result<PathBuf> {
    std::env::current_exe().context("locating the scholia-bench binary")
}

/// The server binary: the one given, or else `scholia` beside this executable (cargo builds both
/// into the same folder). Checked up front, so a missing build says so rather than failing later
/// as a server that never answers.
pub fn server_bin(given: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    let path = match given {
        Some(p) => p,
        None => exe()?.with_file_name(format!("scholia{}", std::env::consts::EXE_SUFFIX)),
    };
    anyhow::ensure!(
        path.is_file(),
        "no scholia server binary at {}: build it (`cargo build --release` at the repository \
         root builds both binaries) or name it with --server-bin PATH or SCHOLIA_BIN",
        path.display()
    );
    Ok(path)
}

/// A `scholia serve` started for one run, on a fresh SQLite database (removed when dropped) or
/// on a PostgreSQL URL the caller owns (S4 on PostgreSQL, S7's nodes).
pub struct Server {
    child: Child,
    /// The `scholia` binary, for the admin commands.
    bin: PathBuf,
    dir: PathBuf,
    database_url: Option<String>,
    pub addr: SocketAddr,
    pub pid: u32,
    pub token: String,
    pub(crate) http: reqwest::Client,
}

impl Server {
    /// Starts the server with the in-process publish path mounted, and a user `bench` with a
    /// developer token. `env` adds settings (`SCHOLIA_*`).
    pub async fn start(place: &Placement, env: &[(&str, String)]) -> anyhow::Result<Server> {
        Server::start_on(place, None, None, env).await
    }

    /// As [`Server::start`], on `database_url` when given (else a fresh SQLite file). A node
    /// that joins a database another node seeded takes that node's token (`token`) rather
    /// than adding the user again.
    pub async fn start_on(
        place: &Placement,
        database_url: Option<&str>,
        token: Option<&str>,
        env: &[(&str, String)],
    ) -> anyhow::Result<Server> {
        static RUN: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = RUN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("scholia-bench-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let mut cmd = command(&place.server_cpus, &place.server_bin);
        cmd.arg("--data-dir").arg(&dir);
        if let Some(url) = database_url {
            cmd.arg("--database-url").arg(url);
        }
        cmd.args(["serve", "--bench-endpoints", "--listen", &addr.to_string()])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().context("starting scholia serve")?;
        let pid = child.id().context("server pid")?;
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(512)
            .build()?;
        let mut server = Server {
            child,
            bin: place.server_bin.clone(),
            dir,
            database_url: database_url.map(str::to_owned),
            addr,
            pid,
            token: String::new(),
            http,
        };
        let up = Instant::now();
        while server.get("/_status").await.is_err() {
            if up.elapsed() > Duration::from_secs(30) {
                bail!("the server did not answer /_status within 30 s");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        server.token = match token {
            Some(t) => t.to_owned(),
            None => {
                server.admin(&["user", "add", "bench"]).await?;
                server.admin(&["token", "create", "bench"]).await?
            }
        };
        Ok(server)
    }

    async fn admin(&self, args: &[&str]) -> anyhow::Result<String> {
        let mut cmd = Command::new(&self.bin);
        cmd.arg("--data-dir").arg(&self.dir);
        if let Some(url) = &self.database_url {
            cmd.arg("--database-url").arg(url);
        }
        let out = cmd.args(args).output().await?;
        if !out.status.success() {
            bail!("scholia {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        }
        let text = String::from_utf8_lossy(&out.stdout);
        Ok(text.lines().last().unwrap_or_default().trim().to_owned())
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub async fn get(&self, path: &str) -> anyhow::Result<String> {
        let r = self
            .http
            .get(self.url(path))
            .send()
            .await?
            .error_for_status()?;
        Ok(r.text().await?)
    }

    /// A counter or gauge from `/metrics`, summed over its labels.
    pub async fn metric(&self, name: &str) -> f64 {
        let Ok(text) = self.get("/metrics").await else {
            return f64::NAN;
        };
        text.lines()
            .filter(|l| {
                l.starts_with(name) && matches!(l.as_bytes().get(name.len()), Some(b' ' | b'{'))
            })
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }

    /// Routes synthetic events through the in-process publish path; returns the server's reply.
    pub async fn inject(&self, body: Value) -> anyhow::Result<Value> {
        let r = self
            .http
            .post(self.url("/_bench/inject"))
            .json(&body)
            .send()
            .await?;
        let r = r.error_for_status()?;
        Ok(r.json().await?)
    }

    pub fn cpu(&self) -> f64 {
        proc::cpu_seconds(self.pid).unwrap_or(f64::NAN)
    }

    pub fn rss_kib(&self) -> u64 {
        proc::rss_kib(self.pid)
    }

    pub fn fds(&self) -> usize {
        proc::fd_count(self.pid)
    }
}

impl Server {
    /// Kills the server and waits until it has exited, so that its database connections are
    /// gone before the caller drops the schema they used.
    pub async fn stop(mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A worker process and its JSON-lines conversation.
pub struct Worker {
    _child: Child,
    stdin: ChildStdin,
    lines: Lines<BufReader<ChildStdout>>,
}

impl Worker {
    /// Starts `scholia-bench worker <args>` on the load CPUs.
    pub fn start(place: &Placement, args: &[String]) -> anyhow::Result<Worker> {
        let mut cmd = command(&place.load_cpus, &exe()?);
        cmd.arg("worker")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        let mut child = cmd.spawn().context("starting a bench worker")?;
        let stdin = child.stdin.take().context("worker stdin")?;
        let stdout = child.stdout.take().context("worker stdout")?;
        Ok(Worker {
            _child: child,
            stdin,
            lines: BufReader::new(stdout).lines(),
        })
    }

    /// The next JSON line the worker prints.
    pub async fn next(&mut self) -> anyhow::Result<Value> {
        let line = self
            .lines
            .next_line()
            .await?
            .context("a bench worker exited early")?;
        Ok(serde_json::from_str(&line)?)
    }

    pub async fn send(&mut self, command: &str) -> anyhow::Result<()> {
        self.stdin
            .write_all(format!("{command}\n").as_bytes())
            .await?;
        self.stdin.flush().await?;
        Ok(())
    }

    /// Frames received since the last report.
    pub async fn count(&mut self) -> anyhow::Result<u64> {
        self.send("count").await?;
        Ok(self.next().await?["frames"].as_u64().unwrap_or(0))
    }

    pub async fn report(&mut self) -> anyhow::Result<Value> {
        self.send("report").await?;
        self.next().await
    }
}

/// What `hold` workers saw between two reports, merged.
#[derive(Default)]
pub struct Received {
    pub frames: u64,
    pub bytes: u64,
    pub latency: Histogram,
    /// Latency at sockets on a node other than the one the POST went through (S7).
    pub cross: Histogram,
    /// Per event: publish → arrival at the last socket, in ns.
    pub last_arrival: Histogram,
    pub ended: u64,
}

impl Received {
    pub async fn collect(workers: &mut [Worker]) -> anyhow::Result<Received> {
        let mut out = Received::default();
        let mut last = std::collections::HashMap::<u64, u64>::new();
        for w in workers.iter_mut() {
            let r = w.report().await?;
            out.frames += r["frames"].as_u64().unwrap_or(0);
            out.bytes += r["bytes"].as_u64().unwrap_or(0);
            out.ended += r["ended"].as_u64().unwrap_or(0);
            let h: Histogram = serde_json::from_value(r["latency"].clone())?;
            out.latency.merge(&h);
            if let Ok(c) = serde_json::from_value::<Histogram>(r["cross"].clone()) {
                out.cross.merge(&c);
            }
            for pair in r["last_arrival"].as_array().into_iter().flatten() {
                let (s, l) = (pair[0].as_u64().unwrap_or(0), pair[1].as_u64().unwrap_or(0));
                let e = last.entry(s).or_default();
                *e = (*e).max(l);
            }
        }
        for l in last.into_values() {
            out.last_arrival.record(l);
        }
        Ok(out)
    }
}

/// A `churn` worker: `concurrency` connections cycling connect → subscribe to `uri` → one event
/// → close for `secs`, beside `rate` events/s published on `uri` for `publish_secs` through the
/// in-process path (each cycle waits for one). Returns the worker and the publishing request.
pub fn churn(
    place: &Placement,
    server: &Server,
    uri: &str,
    concurrency: usize,
    secs: f64,
    (rate, publish_secs): (f64, f64),
) -> anyhow::Result<(
    Worker,
    tokio::task::JoinHandle<reqwest::Result<reqwest::Response>>,
)> {
    let inject = json!({"uri_template": uri, "events": (rate * publish_secs) as u64, "rate": rate});
    let url = server.url("/_bench/inject");
    let publisher =
        tokio::spawn(async move { reqwest::Client::new().post(url).json(&inject).send().await });
    let args = vec![
        "churn".to_owned(),
        format!("--server={}", server.addr),
        format!("--uri={uri}"),
        format!("--concurrency={concurrency}"),
        format!("--secs={secs}"),
    ];
    Ok((Worker::start(place, &args)?, publisher))
}

/// Waits until the workers have received `expected` frames in all (for at most `limit`);
/// returns how long that took.
pub async fn drain(workers: &mut [Worker], expected: u64, limit: Duration) -> anyhow::Result<f64> {
    let started = Instant::now();
    loop {
        let mut n = 0;
        for w in workers.iter_mut() {
            n += w.count().await?;
        }
        if n >= expected || started.elapsed() > limit {
            return Ok(started.elapsed().as_secs_f64());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Opens `total` subscribed connections to `server` (scholia or a peer) over as many workers as
/// the file limit needs, waits until all are subscribed; returns the workers and the seconds.
pub async fn hold(
    place: &Placement,
    server: SocketAddr,
    total: usize,
    per_worker: usize,
    uri_template: &str,
    uri_divisor: usize,
    extra: &[String],
) -> anyhow::Result<(Vec<Worker>, f64)> {
    let started = Instant::now();
    let mut workers = vec![];
    let mut offset = 0;
    let mut block = 1u8;
    while offset < total {
        let n = per_worker.min(total - offset);
        let mut args = vec![
            "hold".to_owned(),
            format!("--server={server}"),
            format!("--conns={n}"),
            format!("--offset={offset}"),
            format!("--uri-template={uri_template}"),
            format!("--uri-divisor={uri_divisor}"),
            format!("--source-block={block}"),
        ];
        args.extend_from_slice(extra);
        workers.push(Worker::start(place, &args)?);
        offset += n;
        block += 1;
    }
    let mut failed = 0;
    for w in &mut workers {
        let ready = w.next().await?;
        failed += ready["failed"].as_u64().unwrap_or(0);
    }
    if failed > 0 {
        bail!("{failed} of {total} connections could not be opened and subscribed");
    }
    Ok((workers, started.elapsed().as_secs_f64()))
}

/// Waits until `check` holds, for at most `limit`.
pub async fn wait_for(limit: Duration, mut check: impl AsyncFnMut() -> bool) -> bool {
    let until = Instant::now() + limit;
    while Instant::now() < until {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}
