//! The six scenarios of `shared/design/performance.md` §5, one function each. Every run starts
//! a fresh server (SQLite, in-process bus), measures it from `/proc` before and after each
//! phase, and returns its figures as JSON; [`super::report`] turns runs into medians and ranges.
//! S1 and S2 live in [`super::s1s2`], which runs them against the peers too.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::cluster::Schema;
use super::driver::{self, Placement, Received, Server, Worker, drain, hold, wait_for};
use super::hist::Histogram;
use super::post::post_paced;
use super::proc;
pub use super::s1s2::{s1, s2};

/// Connections per worker process (the open-file cap is 20,000 per process).
pub(crate) const PER_WORKER: usize = 10_000;

fn us(ns: u64) -> f64 {
    ns as f64 / 1000.0
}

/// Quantiles plus a percentile curve (for the plot).
pub(crate) fn quantiles_us(h: &Histogram) -> Value {
    let qs = [
        0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.995, 0.999, 1.0,
    ];
    let curve: Vec<(f64, f64)> = qs.iter().map(|&q| (q, us(h.quantile(q)))).collect();
    json!({"p50": us(h.quantile(0.5)), "p99": us(h.quantile(0.99)),
           "p999": us(h.quantile(0.999)), "max": us(h.quantile(1.0)), "count": h.count(),
           "curve": curve})
}

pub(crate) async fn quit(workers: Vec<Worker>) {
    for mut w in workers {
        let _ = w.send("quit").await;
    }
}

/// How long S3's paced phase lasts. Its CPU per event is the ratio's numerator and denominator,
/// read from clock ticks of a shared VM: 10 s rather than 5 halves the tick rounding and evens
/// out more of the neighbours' bursts.
const S3_PACED_SECS: f64 = 10.0;

/// S3: each socket on a URI of its own; events routed through the in-process publish path,
/// each to exactly one socket.
pub async fn s3(
    place: &Placement,
    counts: &[usize],
    events: u64,
    paced_rate: f64,
) -> anyhow::Result<Value> {
    let mut points = vec![];
    for &n in counts {
        // Writes unpaced: with pacing, the 1k run (20 events/s per socket) would batch its
        // writes and the 19k run (about 1/s) would not, and the comparison is of routing cost
        // at one write per event.
        let server = Server::start(place, &[("SCHOLIA_WS_WRITE_RATE", "0".into())]).await?;
        let template = "https://bench.example/s3/{n}";
        let (mut workers, _) = hold(place, server.addr, n, PER_WORKER, template, 1, &[]).await?;
        // Warm-up: every socket gets one event (allocator, caches).
        let warm = json!({"uri_template": template, "uri_count": n, "events": n, "rate": 0});
        server.inject(warm).await?;
        drain(&mut workers, n as u64, Duration::from_secs(30)).await?;
        Received::collect(&mut workers).await?;
        // Paced well below saturation, so no queue builds up anywhere: CPU per event is then
        // what routing and delivery cost, comparable between socket counts.
        let paced = paced_rate.min(events as f64);
        let paced_events = (paced * S3_PACED_SECS) as u64;
        let (cpu0, steal0) = (server.cpu(), proc::cpu_ticks(0));
        let body = json!({"uri_template": template, "uri_count": n, "events": paced_events, "rate": paced});
        server.inject(body).await?;
        drain(&mut workers, paced_events, Duration::from_secs(60)).await?;
        let paced_cpu = (server.cpu() - cpu0) / paced_events as f64 * 1e6;
        let paced_got = Received::collect(&mut workers).await?;
        // Unpaced: as fast as the server can route them.
        let cpu1 = server.cpu();
        let body = json!({"uri_template": template, "uri_count": n, "events": events, "rate": 0});
        let reply = server.inject(body).await?;
        let drain_secs = drain(&mut workers, events, Duration::from_secs(60)).await?;
        let cpu = server.cpu() - cpu1;
        let got = Received::collect(&mut workers).await?;
        let secs = reply["secs"].as_f64().unwrap_or(f64::NAN);
        eprintln!(
            "  {n} sockets: {paced_cpu:.1} µs CPU/event at {paced}/s; {:.0} events/s unpaced",
            events as f64 / secs
        );
        points.push(json!({
            "sockets": n, "events": events, "received": got.frames,
            "paced_rate": paced, "paced_cpu_us_per_event": paced_cpu,
            "paced_latency_us": quantiles_us(&paced_got.latency),
            "routed_per_sec": events as f64 / secs,
            "delivered_per_sec": got.frames as f64 / (secs + drain_secs),
            "cpu_us_per_event": cpu / events as f64 * 1e6,
            "latency_us": quantiles_us(&got.latency),
            "rss_kib": server.rss_kib(),
            "steal_pct": proc::steal_share(steal0, proc::cpu_ticks(0)) * 100.0,
        }));
        quit(workers).await;
    }
    Ok(json!({"points": points}))
}

/// S4: 10 sockets per URI; annotations POSTed at a steady rate, each matching one URI. On
/// SQLite, or with `postgres` (a base URL) on a fresh schema there, dropped afterwards.
pub async fn s4(
    place: &Placement,
    conns: usize,
    rate: f64,
    secs: f64,
    postgres: Option<&str>,
) -> anyhow::Result<Value> {
    let Some(base) = postgres else {
        let server = Server::start(place, &[]).await?;
        return s4_on(place, server, conns, rate, secs).await;
    };
    let schema = Schema::create(base).await?;
    let result = match Server::start_on(place, Some(&schema.url()), None, &[]).await {
        Ok(server) => s4_on(place, server, conns, rate, secs).await,
        Err(e) => Err(e),
    };
    schema.drop_now().await?;
    result
}

async fn s4_on(
    place: &Placement,
    server: Server,
    conns: usize,
    rate: f64,
    secs: f64,
) -> anyhow::Result<Value> {
    let uris = (conns / 10).max(1);
    let template = "https://bench.example/s4/{n}";
    let (mut workers, _) = hold(place, server.addr, conns, PER_WORKER, template, 10, &[]).await?;
    // Warm-up at a tenth of the rate.
    let uri = |k: usize| format!("https://bench.example/s4/{}", (k * 7919) % uris);
    let warm = post_paced(&server, rate / 10.0, (rate / 5.0) as usize, 0, uri).await;
    drain(&mut workers, warm.ok * 10, Duration::from_secs(30)).await?;
    Received::collect(&mut workers).await?;
    let (cpu0, steal0) = (server.cpu(), proc::cpu_ticks(0));
    let posted = post_paced(&server, rate, (rate * secs) as usize, 0, uri).await;
    drain(&mut workers, posted.ok * 10, Duration::from_secs(60)).await?;
    let cpu = server.cpu() - cpu0;
    let got = Received::collect(&mut workers).await?;
    quit(workers).await;
    // Exited before the caller drops its PostgreSQL schema.
    server.stop().await;
    Ok(json!({
        "conns": conns, "rate": rate, "posts": posted.ok, "post_errors": posted.errors,
        "achieved_rate": posted.ok as f64 / posted.secs,
        "expected": posted.ok * 10, "received": got.frames,
        "latency_us": quantiles_us(&got.latency),
        "post_latency_us": quantiles_us(&posted.latency),
        "cpu_us_per_post": cpu / posted.ok.max(1) as f64 * 1e6,
        "server_cpu_pct": cpu / posted.secs * 100.0,
        "steal_pct": proc::steal_share(steal0, proc::cpu_ticks(0)) * 100.0,
    }))
}

/// S5: connect → subscribe → receive one event → close, in a loop, beside idle sockets.
pub async fn s5(
    place: &Placement,
    idle: usize,
    concurrency: usize,
    secs: f64,
) -> anyhow::Result<Value> {
    let server = Server::start(place, &[]).await?;
    let (workers, _) = hold(
        place,
        server.addr,
        idle,
        PER_WORKER,
        "https://bench.example/s5/idle/{n}",
        1,
        &[],
    )
    .await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (rss0, fds0, cpu0) = (server.rss_kib(), server.fds(), server.cpu());
    let churn_uri = "https://bench.example/s5/churn";
    // Events on the churn URI for as long as the churn lasts (500 per second).
    let events = (500.0, secs + 3.0);
    let (mut churn, publisher) =
        driver::churn(place, &server, churn_uri, concurrency, secs, events)?;
    let result = churn.next().await?;
    let cpu = server.cpu() - cpu0;
    let _ = publisher.await;
    // Settled: every churned socket closed on the server too.
    wait_for(Duration::from_secs(15), async || server.fds() <= fds0).await;
    let (rss1, fds1) = (server.rss_kib(), server.fds());
    quit(workers).await;
    let handshake: Histogram = serde_json::from_value(result["handshake"].clone())?;
    let cycles = result["cycles"].as_u64().unwrap_or(0);
    let wall = result["secs"].as_f64().unwrap_or(secs);
    Ok(json!({
        "idle": idle, "concurrency": concurrency, "cycles": cycles,
        "errors": result["errors"], "cycles_per_sec": cycles as f64 / wall,
        "cpu_us_per_cycle": cpu / cycles.max(1) as f64 * 1e6,
        "handshake_us": quantiles_us(&handshake),
        "rss_before_kib": rss0, "rss_after_kib": rss1,
        "rss_change_pct": (rss1 as f64 / rss0 as f64 - 1.0) * 100.0,
        "fds_before": fds0, "fds_after": fds1,
    }))
}

/// S6: S2's setup with ~1.6 KB frames at a rate the server sustains, with and without 1% of
/// sockets that stop reading.
pub async fn s6(
    place: &Placement,
    conns: usize,
    slow: usize,
    rate: f64,
    secs: f64,
) -> anyhow::Result<Value> {
    let server = Server::start(place, &[]).await?;
    let extra = [format!("--stop-reading={slow}")];
    let (mut workers, _) = hold(
        place,
        server.addr,
        conns,
        PER_WORKER,
        "https://bench.example/s6",
        usize::MAX,
        &extra,
    )
    .await?;
    let rss0 = server.rss_kib();
    let t0 = Instant::now();
    let sampler = {
        let pid = server.pid;
        tokio::spawn(async move {
            let mut peak = 0;
            while t0.elapsed().as_secs_f64() < secs + 5.0 {
                peak = peak.max(proc::rss_kib(pid));
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            peak
        })
    };
    let posted = post_paced(&server, rate, (rate * secs) as usize, 620, |_| {
        "https://bench.example/s6".into()
    })
    .await;
    let healthy = (conns - slow) as u64;
    drain(&mut workers, posted.ok * healthy, Duration::from_secs(30)).await?;
    let got = Received::collect(&mut workers).await?;
    let shed = wait_for(Duration::from_secs(30), async || {
        server.metric("scholia_ws_slow_closed_total").await >= slow as f64
    })
    .await;
    let shed_secs = t0.elapsed().as_secs_f64();
    let peak = sampler.await.unwrap_or(0);
    quit(workers).await;
    Ok(json!({
        "conns": conns, "slow": slow, "events": posted.ok,
        "expected_healthy": posted.ok * healthy, "received": got.frames,
        "frame_bytes": got.bytes / got.frames.max(1),
        "connections_ended": got.ended,
        "latency_us": quantiles_us(&got.latency),
        "rss_before_kib": rss0, "rss_peak_kib": peak,
        "slow_closed": server.metric("scholia_ws_slow_closed_total").await,
        "all_slow_shed": shed, "shed_within_secs": if slow > 0 && shed { Some(shed_secs) } else { None },
    }))
}
