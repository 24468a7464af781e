//! The soak: half of S4's POST rate for an hour (by default), with connection churn and a few
//! sockets that never read beside the steady ones, sampled once a window. Its question is not
//! how fast but whether anything grows: resident memory, descriptors and latency at the end
//! should look like they did at the start. A benchmark, not a test: it reports, never asserts.

use std::time::Duration;

use serde_json::{Value, json};

use super::driver::{Placement, Received, Server, churn, drain, hold};
use super::post::post_paced;
use super::proc;
use super::scenarios::{PER_WORKER, quantiles_us};

/// The soak's shape; `rate` is POSTs per second, each to the ten sockets of one URI.
#[derive(Debug, Clone)]
pub struct Soak {
    pub conns: usize,
    pub rate: f64,
    pub secs: f64,
    pub window_secs: f64,
    /// Sockets that subscribe and then never read (the first ones, so whole URIs of them).
    pub slow: usize,
    /// Connections cycling connect → subscribe → one event → close all along.
    pub churn: usize,
    /// Events per second injected on the churn URI (what each churning socket waits for).
    pub churn_rate: f64,
}

const TEMPLATE: &str = "https://bench.example/soak/{n}";
const CHURN_URI: &str = "https://bench.example/soak/churn";

pub async fn soak(place: &Placement, s: &Soak) -> anyhow::Result<Value> {
    // `--stop-reading` counts each worker's own connections, so the never-reading sockets are
    // whole URIs only while one worker holds them all.
    anyhow::ensure!(
        s.slow == 0 || s.conns <= PER_WORKER,
        "--slow needs --conns of at most {PER_WORKER} (one worker process)"
    );
    let server = Server::start(place, &[]).await?;
    let uris = (s.conns / 10).max(1);
    // URIs below this one have only sockets that never read.
    let slow_uris = s.slow / 10;
    let extra = [format!("--stop-reading={}", slow_uris * 10)];
    let (mut workers, _) = hold(
        place,
        server.addr,
        s.conns,
        PER_WORKER,
        TEMPLATE,
        10,
        &extra,
    )
    .await?;
    let uri_index = |k: usize| (k * 7919) % uris;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (rss0, fds0) = (server.rss_kib(), server.fds());

    let events = (s.churn_rate, s.secs + 30.0);
    let (mut churner, publisher) = churn(place, &server, CHURN_URI, s.churn, s.secs, events)?;

    let per_window = (s.rate * s.window_secs) as usize;
    let windows = (s.secs / s.window_secs).ceil() as usize;
    let mut samples = vec![];
    for w in 0..windows {
        let first = w * per_window;
        let (cpu0, steal0) = (server.cpu(), proc::cpu_ticks(0));
        let uri = |k: usize| format!("https://bench.example/soak/{}", uri_index(first + k));
        let posted = post_paced(&server, s.rate, per_window, 0, uri).await;
        // Frames the reading sockets should get if every POST succeeded.
        let expected: u64 = (first..first + per_window)
            .filter(|&k| uri_index(k) >= slow_uris)
            .count() as u64
            * 10;
        drain(&mut workers, expected, Duration::from_secs(10)).await?;
        let cpu = server.cpu() - cpu0;
        let got = Received::collect(&mut workers).await?;
        let sample = json!({
            "window": w, "minute": (w + 1) as f64 * s.window_secs / 60.0,
            "posts": posted.ok, "post_errors": posted.errors,
            "expected": expected, "received": got.frames, "ended": got.ended,
            "latency_us": quantiles_us(&got.latency),
            "post_latency_us": quantiles_us(&posted.latency),
            "rss_kib": server.rss_kib(), "fds": server.fds(),
            "server_cpu_pct": cpu / posted.secs * 100.0,
            "steal_pct": proc::steal_share(steal0, proc::cpu_ticks(0)) * 100.0,
            "slow_closed": server.metric("scholia_ws_slow_closed_total").await,
        });
        eprintln!(
            "  soak {:>5.1} min: {} posts ({} errors), {}/{} frames, p50 {:.0} µs p99 {:.0} µs \
             max {:.0} µs, RSS {} KiB, {} fds, CPU {:.0}%",
            sample["minute"].as_f64().unwrap_or(0.0),
            posted.ok,
            posted.errors,
            got.frames,
            expected,
            sample["latency_us"]["p50"].as_f64().unwrap_or(0.0),
            sample["latency_us"]["p99"].as_f64().unwrap_or(0.0),
            sample["latency_us"]["max"].as_f64().unwrap_or(0.0),
            sample["rss_kib"],
            sample["fds"],
            sample["server_cpu_pct"].as_f64().unwrap_or(0.0),
        );
        samples.push(sample);
    }
    let churned = churner.next().await?;
    publisher.abort();
    for mut w in workers {
        let _ = w.send("quit").await;
    }
    server.stop().await;
    Ok(json!({
        "conns": s.conns, "rate": s.rate, "secs": s.secs, "window_secs": s.window_secs,
        "slow": slow_uris * 10, "churn_concurrency": s.churn, "churn_rate": s.churn_rate,
        "rss_start_kib": rss0, "fds_start": fds0,
        "churn_cycles": churned["cycles"], "churn_errors": churned["errors"],
        "windows": samples,
    }))
}
