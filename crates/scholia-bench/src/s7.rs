//! S7: three nodes on one PostgreSQL schema, sockets interleaved over the nodes (ten per URI,
//! so most of each URI's subscribers are on a node other than the writer's), POSTs round-robin
//! over the nodes. Phase one with the bus up, then a write-throughput ramp on the same cluster,
//! then phase two on a fresh cluster whose bus (a private `nats-server`) is stopped before the
//! POSTs, so every change reaches other nodes by polling the change log.

use std::ops::Range;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::cluster::{Cluster, PrivateNats, Schema};
use super::driver::{Placement, Received, Worker, drain, hold, wait_for};
use super::post::post_paced_over;
use super::scenarios::{PER_WORKER, quantiles_us};

const NODES: usize = 3;
const TEMPLATE: &str = "https://bench.example/s7/{n}";
/// Counters read from every node around each phase.
const COUNTERS: [&str; 5] = [
    "scholia_log_gap_reads_total",
    "scholia_log_polls_total",
    "scholia_feed_notices_total",
    "scholia_ws_deliveries_total",
    "scholia_route_read_backs_total",
];

/// S7's sizes.
#[derive(Clone, Debug)]
pub struct S7 {
    pub postgres: String,
    /// `nats://...` or `postgres`: the bus of the phase with the bus up.
    pub bus: String,
    pub per_node: usize,
    pub rate: f64,
    pub secs: f64,
    /// POST/s steps of the write-throughput ramp (empty: no ramp).
    pub ramp: Vec<f64>,
    pub ramp_secs: f64,
}

/// A cluster with its sockets: `workers[ranges[j]]` hold node j's.
struct Held {
    cluster: Cluster,
    workers: Vec<Worker>,
    ranges: Vec<Range<usize>>,
    sockets: usize,
    uris: usize,
}

impl Held {
    async fn start(
        place: &Placement,
        url: &str,
        bus: &str,
        per_node: usize,
    ) -> anyhow::Result<Held> {
        let cluster = Cluster::start(place, url, bus, NODES, &[]).await?;
        let (mut workers, mut ranges) = (vec![], vec![]);
        for (j, node) in cluster.nodes.iter().enumerate() {
            // Node j holds sockets j, j + 3, j + 6, …: URI k (sockets 10k … 10k + 9) has
            // subscribers on every node.
            let extra = [
                format!("--index-stride={NODES}"),
                format!("--index-phase={j}"),
                format!("--node={j}"),
            ];
            let (w, _) = hold(place, node.addr, per_node, PER_WORKER, TEMPLATE, 10, &extra).await?;
            let start = workers.len();
            workers.extend(w);
            ranges.push(start..workers.len());
        }
        let sockets = NODES * per_node;
        Ok(Held {
            cluster,
            workers,
            ranges,
            sockets,
            uris: sockets.div_ceil(10),
        })
    }

    /// URI of POST k, spread over all URIs (as S4 does).
    fn uri_index(&self, k: usize) -> usize {
        uri_index(self.uris, k)
    }

    /// Subscribers of URI u: ten, fewer on the last one when the sockets are not a multiple.
    fn reach(&self, u: usize) -> u64 {
        (self.sockets - u * 10).min(10) as u64
    }

    async fn quit(self) {
        for mut w in self.workers {
            let _ = w.send("quit").await;
        }
        self.cluster.stop().await;
    }
}

fn uri_index(uris: usize, k: usize) -> usize {
    (k * 7919) % uris
}

/// Every node's [`COUNTERS`], by counter then node.
async fn counters(c: &Cluster) -> Vec<Vec<f64>> {
    let mut v = vec![];
    for name in COUNTERS {
        v.push(c.metric(name).await);
    }
    v
}

/// POSTs at `rate` for `secs`, round-robin over the nodes, waits until every subscriber has
/// its frame (or a minute has passed), and reads latency, deliveries and the nodes' costs.
async fn measure(h: &mut Held, rate: f64, secs: f64) -> anyhow::Result<Value> {
    let count = (rate * secs).round() as usize;
    let before = counters(&h.cluster).await;
    let cpu0 = h.cluster.cpu();
    let t0 = Instant::now();
    let uris = h.uris;
    let uri = move |k: usize| TEMPLATE.replace("{n}", &uri_index(uris, k).to_string());
    let posted = post_paced_over(&h.cluster.refs(), rate, count, 0, uri).await;
    // Exact when every POST succeeded; a failed one is not known by index, so then ten each.
    let expected = if posted.errors == 0 {
        (0..count).map(|k| h.reach(h.uri_index(k))).sum()
    } else {
        posted.ok * 10
    };
    drain(&mut h.workers, expected, Duration::from_secs(60)).await?;
    let wall = t0.elapsed().as_secs_f64();
    let cpu1 = h.cluster.cpu();
    let after = counters(&h.cluster).await;
    let (mut all, mut nodes) = (Received::default(), vec![]);
    for (j, range) in h.ranges.clone().into_iter().enumerate() {
        let got = Received::collect(&mut h.workers[range]).await?;
        let cpu = cpu1[j] - cpu0[j];
        let delta = |c: usize| after[c][j] - before[c][j];
        nodes.push(json!({
            "node": j, "deliveries": got.frames,
            "deliveries_per_sec": got.frames as f64 / wall,
            "cpu_us_per_delivery": cpu / got.frames.max(1) as f64 * 1e6,
            "server_cpu_pct": cpu / wall * 100.0,
            "gap_reads": delta(0), "polls": delta(1), "feed_notices": delta(2),
            "ws_deliveries": delta(3), "read_backs": delta(4),
            "latency_us": quantiles_us(&got.latency),
            "cross_latency_us": quantiles_us(&got.cross),
        }));
        all.frames += got.frames;
        all.ended += got.ended;
        all.latency.merge(&got.latency);
        all.cross.merge(&got.cross);
    }
    let total = |c: usize| (0..NODES).map(|j| after[c][j] - before[c][j]).sum::<f64>();
    Ok(json!({
        "rate": rate, "posts": posted.ok, "post_errors": posted.errors,
        "achieved_rate": posted.ok as f64 / posted.secs,
        "expected": expected, "received": all.frames,
        "lost": expected.saturating_sub(all.frames),
        "connections_ended": all.ended,
        "latency_us": quantiles_us(&all.latency),
        "cross_latency_us": quantiles_us(&all.cross),
        "post_latency_us": quantiles_us(&posted.latency),
        "deliveries_per_sec": all.frames as f64 / wall,
        "cpu_us_per_delivery": (0..NODES).map(|j| cpu1[j] - cpu0[j]).sum::<f64>()
            / all.frames.max(1) as f64 * 1e6,
        "gap_reads": total(0), "polls": total(1), "feed_notices": total(2),
        "read_backs": total(4),
        "nodes": nodes,
    }))
}

/// One line of a phase's main figures, for the progress output.
fn summary(step: &Value) -> String {
    let ms = |k: &str, q: &str| step[k][q].as_f64().unwrap_or(f64::NAN) / 1000.0;
    format!(
        "{} POSTs ({} failed), {}/{} frames; POST → socket p50 {:.1} ms p99 {:.1} ms, \
         cross-node p50 {:.1} ms p99 {:.1} ms; {:.0} deliveries/s, {:.0} µs CPU per delivery; \
         gaps read {} polls {} read-backs {}",
        step["posts"],
        step["post_errors"],
        step["received"],
        step["expected"],
        ms("latency_us", "p50"),
        ms("latency_us", "p99"),
        ms("cross_latency_us", "p50"),
        ms("cross_latency_us", "p99"),
        step["deliveries_per_sec"].as_f64().unwrap_or(f64::NAN),
        step["cpu_us_per_delivery"].as_f64().unwrap_or(f64::NAN),
        step["gap_reads"],
        step["polls"],
        step["read_backs"]
    )
}

/// POSTs at a tenth of the rate for two seconds (as long as the phase, if shorter) and throws
/// the figures away (connection pools, caches).
async fn warm_up(h: &mut Held, rate: f64, secs: f64) -> anyhow::Result<()> {
    let warm = (rate / 10.0).max(1.0);
    measure(h, warm, secs.min(2.0)).await?;
    Ok(())
}

/// A ramp step holds when every POST succeeded at (nearly) the asked rate, every subscriber
/// got its frame, and POST → socket p99 stayed within 100 ms.
pub(crate) fn holds(step: &Value) -> bool {
    let rate = step["rate"].as_f64().unwrap_or(0.0);
    step["lost"].as_u64() == Some(0)
        && step["post_errors"].as_u64() == Some(0)
        && step["achieved_rate"].as_f64().unwrap_or(0.0) >= 0.9 * rate
        && step["latency_us"]["p99"].as_f64().unwrap_or(f64::INFINITY) <= 100_000.0
}

/// Phase one (bus up) and the ramp, on one cluster.
async fn with_bus(place: &Placement, p: &S7, url: &str) -> anyhow::Result<Value> {
    let bus = match p.bus.as_str() {
        "nats" => "nats://127.0.0.1:4222",
        other => other,
    };
    let mut h = Held::start(place, url, bus, p.per_node).await?;
    warm_up(&mut h, p.rate, p.secs).await?;
    let steady = measure(&mut h, p.rate, p.secs).await?;
    eprintln!("  s7 with the bus ({bus}): {}", summary(&steady));
    let mut ramp = vec![];
    for &rate in &p.ramp {
        let step = measure(&mut h, rate, p.ramp_secs).await?;
        let held = holds(&step);
        eprintln!(
            "  s7 ramp {rate} POST/s: p99 {} µs, {} lost, held: {held}",
            step["latency_us"]["p99"], step["lost"]
        );
        ramp.push(step);
        if !held {
            break;
        }
    }
    h.quit().await;
    let sustained = ramp
        .iter()
        .filter(|s| holds(s))
        .filter_map(|s| s["achieved_rate"].as_f64())
        .fold(f64::NAN, f64::max);
    Ok(json!({"bus": bus, "steady": steady, "ramp": ramp, "sustained_post_per_sec": sustained}))
}

/// Phase two: a cluster on a private `nats-server`, stopped once the sockets are up.
async fn bus_stopped(place: &Placement, p: &S7, url: &str) -> anyhow::Result<Value> {
    let nats = PrivateNats::start().await?;
    let bus = nats.url.clone();
    let mut h = Held::start(place, url, &bus, p.per_node).await?;
    warm_up(&mut h, p.rate, p.secs).await?;
    nats.stop().await;
    // Every node has noticed (its feed reports down) before the measured POSTs.
    let down = wait_for(Duration::from_secs(15), async || {
        h.cluster
            .metric("scholia_feed_up")
            .await
            .iter()
            .all(|&v| v == 0.0)
    })
    .await;
    let steady = measure(&mut h, p.rate, p.secs).await?;
    eprintln!("  s7 bus stopped: {}", summary(&steady));
    h.quit().await;
    Ok(json!({"bus": bus, "feed_down_seen": down, "steady": steady}))
}

/// S7: the phase with the bus and the ramp, then the phase with the bus stopped, each on a
/// fresh schema that is dropped afterwards (also when the phase failed).
pub async fn s7(place: &Placement, p: &S7) -> anyhow::Result<Value> {
    let schema = Schema::create(&p.postgres).await?;
    let up = with_bus(place, p, &schema.url()).await;
    schema.drop_now().await?;
    let up = up?;
    let schema = Schema::create(&p.postgres).await?;
    let stopped = bus_stopped(place, p, &schema.url()).await;
    schema.drop_now().await?;
    let stopped = stopped?;
    let poll_ms: f64 = std::env::var("SCHOLIA_BUS_POLL_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(250.0);
    Ok(json!({
        "nodes": NODES, "sockets": NODES * p.per_node, "per_node": p.per_node,
        "rate": p.rate, "secs": p.secs, "poll_ms": poll_ms,
        "with_bus": up, "bus_stopped": stopped,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ramp_step_holds_only_complete_on_time_and_at_rate() {
        let ok = json!({"rate": 1000.0, "lost": 0, "post_errors": 0, "achieved_rate": 990.0,
                        "latency_us": {"p99": 100_000.0}});
        assert!(holds(&ok));
        for (k, v) in [
            ("lost", json!(1)),
            ("post_errors", json!(2)),
            ("achieved_rate", json!(800.0)),
            ("latency_us", json!({"p99": 100_001.0})),
        ] {
            let mut bad = ok.clone();
            bad[k] = v;
            assert!(!holds(&bad), "{bad}");
        }
    }

    #[test]
    fn posts_spread_over_every_uri() {
        let uris = 1500;
        let hit: std::collections::HashSet<usize> = (0..uris).map(|k| uri_index(uris, k)).collect();
        assert_eq!(hit.len(), uris);
    }
}
