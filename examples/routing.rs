//! Routing benchmark: does the server's cost per event grow with the number of connected
//! sockets? (Issue 3's proof that routing is indexed, not a scan of every socket as in h.)
//!
//! For each socket count N it starts a fresh `scholia serve` (release build, SQLite, its own
//! data directory), opens N WebSockets that each subscribe to a URI of their own, then posts
//! annotations over HTTP, each on one socket's URI, and waits until every one has been
//! delivered. The server's CPU time (utime + stime from `/proc/PID/stat`, the kernel's own
//! accounting) is read before and after; an idle phase of the same length is measured too, so
//! the cost of keeping N sockets alive (heartbeats) can be told apart from the cost of events.
//!
//! Run: `cargo build --release && cargo run --release --example routing -- 1000 15000`, or
//! pinned: `PIN=1 taskset -c 1 target/release/examples/routing 1000 15000`
//! (optional env: `EVENTS`, default 2000; `REPEAT`, default 3; `POSTERS`, concurrent HTTP
//! writers, default 1: with more, SQLite writers queue on the write lock while holding pool
//! connections, and that contention, not routing, dominates what is measured).

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::Message;

#[path = "support/common.rs"]
mod common;
use common::{cpu_seconds, env_or, median, rss_kib, socket_counts};

struct Server {
    child: Child,
    port: u16,
    token: String,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn binary() -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("own path");
    // target/release/examples/routing → target/release/scholia
    exe.parent()
        .and_then(|p| p.parent())
        .map(|p| p.join("scholia"))
        .expect("target dir")
}

fn admin(dir: &std::path::Path, args: &[&str]) -> String {
    let out = Command::new(binary())
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .output()
        .expect("run scholia admin command");
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines().last().unwrap_or_default().trim().to_owned()
}

async fn start_server() -> Server {
    let dir = tempfile::tempdir().expect("temp dir");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    // With PIN=1 the server runs on core 0 (`taskset` execs it, so the pid is the server's);
    // run this program itself under `taskset -c 1` so load and server do not share a core.
    let mut cmd = if std::env::var("PIN").is_ok_and(|v| v == "1") {
        let mut c = Command::new("taskset");
        c.args(["-c", "0"]).arg(binary());
        c
    } else {
        Command::new(binary())
    };
    let child = cmd
        .arg("--data-dir")
        .arg(dir.path())
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start scholia serve (run `cargo build --release` first)");
    let client = reqwest::Client::new();
    let status = format!("http://127.0.0.1:{port}/_status");
    for _ in 0..500 {
        if client
            .get(&status)
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    admin(dir.path(), &["user", "add", "bench"]);
    let token = admin(dir.path(), &["token", "create", "bench"]);
    Server {
        child,
        port,
        token,
        _dir: dir,
    }
}

fn uri(i: usize) -> String {
    format!("https://bench.example/doc/{i}")
}

/// Opens `n` sockets, each subscribed to its own URI; returns the delivery counter.
async fn open_sockets(port: u16, n: usize, delivered: Arc<AtomicU64>) {
    let url = format!("ws://127.0.0.1:{port}/ws");
    let ready = Arc::new(Semaphore::new(0));
    let opening = Arc::new(Semaphore::new(200));
    for i in 0..n {
        let (url, ready, opening, delivered) = (
            url.clone(),
            ready.clone(),
            opening.clone(),
            delivered.clone(),
        );
        tokio::spawn(async move {
            let permit = opening.acquire_owned().await.unwrap();
            let (mut ws, _) = tokio_tungstenite::connect_async(url.as_str())
                .await
                .expect("connect");
            let filter = json!({"filter": {"match_policy": "include_any", "clauses": [{"field": "/uri", "operator": "one_of", "value": [uri(i)]}], "actions": {}}});
            ws.send(Message::text(filter.to_string())).await.unwrap();
            ws.send(Message::text(r#"{"type":"ping","id":1}"#))
                .await
                .unwrap();
            drop(permit);
            let mut subscribed = false;
            while let Some(Ok(msg)) = ws.next().await {
                if let Message::Text(t) = msg {
                    if !subscribed && t.as_str().contains("\"pong\"") {
                        subscribed = true;
                        ready.add_permits(1);
                    } else if t.as_str().contains("annotation-notification") {
                        delivered.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        });
    }
    let _all = ready.acquire_many(n as u32).await.unwrap();
}

/// Posts `events` annotations, each on a random socket's URI, and waits for every delivery.
async fn post_events(port: u16, token: &str, n: usize, events: usize, delivered: &AtomicU64) {
    let writers = env_or("POSTERS", 1);
    let client = reqwest::Client::new();
    let start = delivered.load(Ordering::Relaxed);
    let next = Arc::new(AtomicU64::new(0));
    let mut posters = vec![];
    for _ in 0..writers {
        let (client, next, token) = (client.clone(), next.clone(), token.to_owned());
        posters.push(tokio::spawn(async move {
            loop {
                let k = next.fetch_add(1, Ordering::Relaxed) as usize;
                if k >= events {
                    break;
                }
                let target = (k * 7919) % n;
                let body = json!({"uri": uri(target), "text": format!("event {k}"), "permissions": {"read": ["group:__world__"]}});
                let r = client
                    .post(format!("http://127.0.0.1:{port}/api/annotations"))
                    .bearer_auth(&token)
                    .json(&body)
                    .send()
                    .await
                    .expect("post");
                assert!(r.status().is_success(), "post failed: {}", r.status());
            }
        }));
    }
    for p in posters {
        p.await.unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while delivered.load(Ordering::Relaxed) - start < events as u64 {
        assert!(Instant::now() < deadline, "deliveries missing");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A histogram's sum and count from the server's `/metrics`.
async fn histogram(port: u16, name: &str) -> (f64, f64) {
    let text = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
        .await
        .expect("metrics")
        .text()
        .await
        .unwrap_or_default();
    let value = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().last()?.parse().ok())
            .unwrap_or(0.0)
    };
    (
        value(&format!("{name}_sum")),
        value(&format!("{name}_count")),
    )
}

/// Mean of a histogram between two readings, in microseconds.
fn mean_us(before: (f64, f64), after: (f64, f64)) -> f64 {
    (after.0 - before.0) / (after.1 - before.1).max(1.0) * 1e6
}

/// One measurement at one socket count; times in microseconds per event.
struct Run {
    /// Router wall time per annotation event (lookup, permission checks, render, hand-off and
    /// the router's own database reads).
    route_us_per_event: f64,
    /// The router's synchronous lookup, permission checks, render and hand-off per event:
    /// the only part whose cost could depend on how many sockets are connected.
    fanout_us_per_event: f64,
    /// Server CPU (utime + stime) during the event phase.
    busy_us_per_event: f64,
    /// Server CPU over an idle phase of the same length (keep-alives of the open sockets).
    idle_us_per_event: f64,
    wall: Duration,
    rss_kib: u64,
}

impl Run {
    /// Server CPU per event less what the open sockets cost by themselves over the same time.
    fn net_us_per_event(&self) -> f64 {
        self.busy_us_per_event - self.idle_us_per_event
    }
}

async fn measure(n: usize, events: usize) -> Run {
    let server = start_server().await;
    let pid = server.child.id();
    let delivered = Arc::new(AtomicU64::new(0));
    open_sockets(server.port, n, delivered.clone()).await;
    // Warm up (page cache, allocator, prepared statements) with a few events.
    post_events(server.port, &server.token, n, 200, &delivered).await;

    let route0 = histogram(server.port, "scholia_ws_route_seconds").await;
    let fanout0 = histogram(server.port, "scholia_ws_fanout_seconds").await;
    let cpu0 = cpu_seconds(pid);
    let t0 = Instant::now();
    post_events(server.port, &server.token, n, events, &delivered).await;
    let wall = t0.elapsed();
    let busy = cpu_seconds(pid) - cpu0;
    let route1 = histogram(server.port, "scholia_ws_route_seconds").await;
    let fanout1 = histogram(server.port, "scholia_ws_fanout_seconds").await;

    // The same wall time with no events: what N open sockets cost by themselves.
    let cpu1 = cpu_seconds(pid);
    tokio::time::sleep(wall).await;
    let idle = cpu_seconds(pid) - cpu1;
    Run {
        route_us_per_event: mean_us(route0, route1),
        fanout_us_per_event: mean_us(fanout0, fanout1),
        busy_us_per_event: busy / events as f64 * 1e6,
        idle_us_per_event: idle / events as f64 * 1e6,
        wall,
        rss_kib: rss_kib(pid),
    }
}

#[tokio::main]
async fn main() {
    let counts = socket_counts();
    let events = env_or("EVENTS", 2000);
    let repeat = env_or("REPEAT", 3);
    println!(
        "| sockets | run | server CPU/event (µs) | idle CPU/event-time (µs) | net CPU/event (µs) | router time/event (µs) | fan-out time/event (µs) | wall (s) | server RSS (MiB) |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    // Runs alternate between socket counts (1k, 15k, 1k, 15k, ...) so that a change in the
    // machine's background load over the minutes of a session hits every count alike.
    let mut runs: Vec<Vec<Run>> = counts.iter().map(|_| vec![]).collect();
    for r in 0..repeat {
        for (i, &n) in counts.iter().enumerate() {
            let run = measure(n, events).await;
            println!(
                "| {n} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.2} | {:.1} |",
                r + 1,
                run.busy_us_per_event,
                run.idle_us_per_event,
                run.net_us_per_event(),
                run.route_us_per_event,
                run.fanout_us_per_event,
                run.wall.as_secs_f64(),
                run.rss_kib as f64 / 1024.0
            );
            runs[i].push(run);
        }
    }
    let mut summary = vec![];
    for (&n, runs) in counts.iter().zip(&runs) {
        let nets: Vec<f64> = runs.iter().map(Run::net_us_per_event).collect();
        let (lo, hi) = (
            nets.iter().copied().fold(f64::INFINITY, f64::min),
            nets.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        );
        let routes = runs.iter().map(|r| r.route_us_per_event).collect();
        let fanouts = runs.iter().map(|r| r.fanout_us_per_event).collect();
        summary.push((n, median(nets), lo, hi, median(routes), median(fanouts)));
    }
    println!();
    for (n, med, lo, hi, route, fanout) in &summary {
        println!(
            "{n} sockets: net server CPU per event median {med:.1} µs (range {lo:.1}–{hi:.1}); router time per event median {route:.1} µs, of which fan-out {fanout:.1} µs; {events} events per run"
        );
    }
    if let [
        (_, first, _, _, r_first, f_first),
        ..,
        (_, last, _, _, r_last, f_last),
    ] = summary.as_slice()
    {
        println!(
            "from fewest to most sockets: server CPU per event {:+.1}%, router time {:+.1}%, fan-out time {:+.1}%",
            (last / first - 1.0) * 100.0,
            (r_last / r_first - 1.0) * 100.0,
            (f_last / f_first - 1.0) * 100.0
        );
    }
}
