//! Fan-out micro-benchmark: the router's per-event work that could depend on how many sockets
//! are connected (index lookup, the per-candidate check, the hand-off of shared bytes to a
//! socket's queue), in isolation, with N sockets each subscribed to a URI of its own. Measured
//! as this process's CPU time (utime + stime from `/proc/self/stat`) over many events; no
//! network, no database, so the figure is stable enough to compare socket counts directly.
//!
//! Run: `cargo run --release --example fanout -- 1000 15000 100000`
//! (env `EVENTS`, default 500000; `REPEAT`, default 3).

use axum::extract::ws::Utf8Bytes;
use tokio_util::sync::CancellationToken;

use scholia::realtime::filter::{Key, event_keys};
use scholia::realtime::outbox;
use scholia::realtime::registry::Registry;

#[path = "support/common.rs"]
mod common;
use common::{cpu_seconds, env_or, median, rss_kib, socket_counts};

fn uri(i: usize) -> String {
    format!("httpx://bench.example/doc/{i}")
}

/// CPU microseconds per event with `n` sockets.
fn run(n: usize, events: usize) -> (f64, u64) {
    let registry = Registry::default();
    let mut queues = Vec::with_capacity(n);
    for i in 0..n {
        let (tx, rx) = outbox::channel(16);
        let id = registry.register(None, tx, CancellationToken::new());
        registry.set_filter(id, vec![Key::Uri(uri(i))]);
        queues.push(rx);
    }
    let frame = Utf8Bytes::from("x".repeat(1024));
    let me = std::process::id();
    let rss = rss_kib(me);
    let before = cpu_seconds(me);
    for k in 0..events {
        let target = (k * 7919) % n;
        // What the router computes per event: the keys (id, group, URI scope keys).
        let keys = event_keys(&format!("ann{k}"), "__world__", &[], &[uri(target)], None);
        let targets = registry.classify(&keys, |socket| socket.client_id.is_none().then_some(()));
        let handoff = registry.hand_off(&targets, |_| frame.clone());
        assert_eq!(handoff.delivered, 1);
        // The socket's task would take the frame off its queue.
        queues[target].try_recv().expect("delivered");
    }
    let cpu = cpu_seconds(me) - before;
    (cpu / events as f64 * 1e6, rss)
}

fn main() {
    let counts = socket_counts();
    let events = env_or("EVENTS", 500_000);
    let repeat = env_or("REPEAT", 3);
    let mut medians = vec![];
    for &n in &counts {
        let runs: Vec<f64> = (0..repeat).map(|_| run(n, events).0).collect();
        let (lo, hi) = (
            runs.iter().copied().fold(f64::INFINITY, f64::min),
            runs.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        );
        let med = median(runs);
        println!(
            "{n} sockets: fan-out CPU per event median {med:.3} µs (range {lo:.3}–{hi:.3}), {events} events × {repeat}"
        );
        medians.push(med);
    }
    if let [first, .., last] = medians.as_slice() {
        println!(
            "from fewest to most sockets: {:+.1}%",
            (last / first - 1.0) * 100.0
        );
    }
}
