//! Load-generator worker processes. The driver starts one per ~15,000 connections (the open-file
//! cap is 20,000 per process here) and talks to it over stdin/stdout in JSON lines.
//!
//! - `hold`: opens connections from rotating 127.x.y.z source addresses, each subscribed with
//!   its own filter, answers pings, and records each stamped event's delivery latency. Commands
//!   on stdin: `report` (print and reset the statistics), `quit`.
//!   With `--protocol pusher` it speaks the Pusher protocol instead (the peers of S1 and S2):
//!   the URI template names the channel, and `pusher:ping` is answered with `pusher:pong`.
//! - `churn`: loops connect → upgrade → subscribe → receive one event → close, for a while.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Args;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::{Semaphore, mpsc};

use super::hist::Histogram;
use super::pusher;
use super::wsclient::{Conn, OP_CLOSE, OP_TEXT, find, node_of, now_ns, stamp_of};

/// Source addresses rotated over per worker (each gives ~28k ports per destination).
const SOURCES: u32 = 64;

#[derive(Args, Debug, Clone)]
pub struct HoldArgs {
    /// Server address, host:port.
    #[arg(long)]
    pub server: SocketAddr,
    #[arg(long)]
    pub conns: usize,
    /// Index of this worker's first connection among all workers.
    #[arg(long, default_value_t = 0)]
    pub offset: usize,
    /// The URI each connection subscribes to; `{n}` becomes (index / uri-divisor).
    #[arg(long)]
    pub uri_template: String,
    #[arg(long, default_value_t = 1)]
    pub uri_divisor: usize,
    /// Also subscribe to a group (an extra `/group` clause).
    #[arg(long)]
    pub group: Option<String>,
    #[arg(long)]
    pub token: Option<String>,
    /// The first N connections stop reading once subscribed (slow consumers).
    #[arg(long, default_value_t = 0)]
    pub stop_reading: usize,
    /// Second octet of this worker's source addresses (127.B.x.y).
    #[arg(long, default_value_t = 1)]
    pub source_block: u8,
    /// Index of connection i is (offset + i) × stride + phase: S7 interleaves the sockets of
    /// three nodes (node j holds j, j + 3, …) so that each URI's ten sockets span the nodes.
    #[arg(long, default_value_t = 1)]
    pub index_stride: usize,
    #[arg(long, default_value_t = 0)]
    pub index_phase: usize,
    /// The node these connections are on: frames of POSTs tagged `bnode:` with another node
    /// count as cross-node too.
    #[arg(long)]
    pub node: Option<usize>,
    /// Connections being opened at once.
    #[arg(long, default_value_t = 500)]
    pub in_flight: usize,
    /// `hypothesis` (scholia's Real Time API, and the naive broadcast server's imitation of
    /// it) or `pusher` (Sockudo): then the URI template names the channel to subscribe to.
    #[arg(long, default_value = "hypothesis", value_parser = ["hypothesis", "pusher"])]
    pub protocol: String,
    /// The upgrade path with its query (default `/ws`, or `/ws?access_token=` with --token);
    /// for pusher, `/app/KEY?protocol=7&…`.
    #[arg(long)]
    pub path: Option<String>,
}

#[derive(Args, Debug, Clone)]
pub struct ChurnArgs {
    #[arg(long)]
    pub server: SocketAddr,
    /// The URI every churning connection subscribes to (events arrive on it).
    #[arg(long)]
    pub uri: String,
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    #[arg(long, default_value_t = 10.0)]
    pub secs: f64,
    #[arg(long, default_value_t = 200)]
    pub source_block: u8,
}

pub fn source(block: u8, i: usize) -> IpAddr {
    let j = i as u32 % SOURCES;
    IpAddr::V4(Ipv4Addr::new(
        127,
        block,
        (j / 250) as u8,
        (j % 250 + 1) as u8,
    ))
}

pub fn filter_message(uri: &str, group: Option<&str>) -> String {
    let mut clauses = vec![json!({
        "field": "/uri", "operator": "one_of", "value": [uri], "case_sensitive": false
    })];
    if let Some(g) = group {
        clauses.push(
            json!({"field": "/group", "operator": "equals", "value": g, "case_sensitive": false}),
        );
    }
    json!({"filter": {"match_policy": "include_any", "clauses": clauses,
        "actions": {"create": true, "update": true, "delete": true}}})
    .to_string()
}

#[derive(Default)]
struct Stats {
    frames: u64,
    bytes: u64,
    latency: Histogram,
    /// Latency of frames whose POST went through another node (with `--node`).
    cross: Histogram,
    /// Per event (by stamp): the latest arrival, to measure publish → last socket.
    last_arrival: HashMap<u64, u64>,
    ended: u64,
    errors: u64,
}

fn record(stats: &Mutex<Stats>, node: Option<usize>, payload: &[u8]) {
    let now = now_ns();
    let mut s = stats.lock().expect("stats");
    s.frames += 1;
    s.bytes += payload.len() as u64;
    if let Some(stamp) = stamp_of(payload) {
        let lat = now.saturating_sub(stamp);
        s.latency.record(lat);
        if let (Some(mine), Some(writer)) = (node, node_of(payload))
            && mine != writer
        {
            s.cross.record(lat);
        }
        let e = s.last_arrival.entry(stamp).or_default();
        *e = (*e).max(lat);
    }
}

/// Opens connection `i`, trying again twice after a pause: on a busy loopback an odd SYN or
/// handshake is lost now and then, and one lost connection should not abort a run of 19,000.
async fn open(args: &HoldArgs, i: usize) -> std::io::Result<Conn> {
    let mut attempt = 0;
    loop {
        match open_once(args, i).await {
            Ok(conn) => return Ok(conn),
            Err(e) if attempt >= 2 => return Err(e),
            Err(_) => {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(100 * attempt)).await;
            }
        }
    }
}

/// Upgrades, subscribes and waits for the reply to a ping sent after the filter, which the
/// server answers only once the filter is in force (with pusher: for the subscription's
/// confirmation).
async fn open_once(args: &HoldArgs, i: usize) -> std::io::Result<Conn> {
    let index = (args.offset + i) * args.index_stride.max(1) + args.index_phase;
    let uri = args
        .uri_template
        .replace("{n}", &(index / args.uri_divisor.max(1)).to_string());
    let src = Some(source(args.source_block, index));
    if args.protocol == "pusher" {
        let path = args.path.as_deref().unwrap_or("/");
        return pusher::open(args.server, src, path, &uri).await;
    }
    let path = match (&args.path, &args.token) {
        (Some(p), _) => p.clone(),
        (None, Some(t)) => format!("/ws?access_token={t}"),
        (None, None) => "/ws".to_owned(),
    };
    let mut conn = Conn::connect(args.server, src, &path).await?;
    conn.send_text(&filter_message(&uri, args.group.as_deref()))
        .await?;
    conn.send_text(r#"{"type":"ping","id":1}"#).await?;
    let mut ponged = false;
    while !ponged {
        if !conn
            .next_frame(|op, p| ponged = op == OP_TEXT && find(p, b"\"pong\"").is_some())
            .await?
        {
            return Err(std::io::Error::other("closed before subscribing"));
        }
    }
    Ok(conn)
}

pub async fn hold(args: HoldArgs) -> anyhow::Result<()> {
    let stats = Arc::new(Mutex::new(Stats::default()));
    let started = Instant::now();
    let gate = Arc::new(Semaphore::new(args.in_flight.max(1)));
    let (ready_tx, mut ready_rx) = mpsc::unbounded_channel::<bool>();
    let (held_tx, mut held_rx) = mpsc::unbounded_channel::<Conn>();
    let args = Arc::new(args);
    for i in 0..args.conns {
        let (gate, stats, ready, held, args) = (
            gate.clone(),
            stats.clone(),
            ready_tx.clone(),
            held_tx.clone(),
            args.clone(),
        );
        tokio::spawn(async move {
            let permit = gate.acquire_owned().await;
            let conn = open(&args, i).await;
            drop(permit);
            let mut conn = match conn {
                Ok(c) => c,
                Err(e) => {
                    if i < 3 {
                        eprintln!("connection {i}: {e}");
                    }
                    let _ = ready.send(false);
                    return;
                }
            };
            let _ = ready.send(true);
            if i < args.stop_reading {
                let _ = held.send(conn);
                return;
            }
            let pusher = args.protocol == "pusher";
            loop {
                let mut ping = false;
                match conn
                    .next_frame(|op, p| match op {
                        // Protocol messages are not deliveries; only a ping needs an answer.
                        OP_TEXT if pusher && pusher::is_control(p) => ping = pusher::is_ping(p),
                        OP_TEXT => record(&stats, args.node, p),
                        _ => {}
                    })
                    .await
                {
                    Ok(true) if ping => {
                        if conn.send_text(pusher::PONG).await.is_err() {
                            stats.lock().expect("stats").errors += 1;
                            break;
                        }
                    }
                    Ok(true) => {}
                    Ok(false) => break,
                    Err(_) => {
                        stats.lock().expect("stats").errors += 1;
                        break;
                    }
                }
            }
            stats.lock().expect("stats").ended += 1;
        });
    }
    drop(held_tx);
    let (mut ok, mut failed) = (0, 0);
    while ok + failed < args.conns {
        match ready_rx.recv().await {
            Some(true) => ok += 1,
            Some(false) => failed += 1,
            None => break,
        }
    }
    // Non-reading connections stay open (held here) until the worker quits.
    let mut held = vec![];
    while let Ok(c) = held_rx.try_recv() {
        held.push(c);
    }
    println!(
        "{}",
        json!({"event": "ready", "conns": ok, "failed": failed,
               "secs": started.elapsed().as_secs_f64(), "non_reading": held.len()})
    );
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Some(line) = lines.next_line().await? {
        match line.trim() {
            "report" => {
                let s = std::mem::take(&mut *stats.lock().expect("stats"));
                let last: Vec<(u64, u64)> = s.last_arrival.into_iter().collect();
                println!(
                    "{}",
                    json!({"event": "report", "frames": s.frames, "bytes": s.bytes,
                           "latency": s.latency, "cross": s.cross, "last_arrival": last,
                           "ended": s.ended, "errors": s.errors})
                );
            }
            "count" => {
                let frames = stats.lock().expect("stats").frames;
                println!("{}", json!({"event": "count", "frames": frames}));
            }
            "quit" => break,
            _ => {}
        }
    }
    drop(held);
    Ok(())
}

pub async fn churn(args: ChurnArgs) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs_f64(args.secs);
    let filter = Arc::new(filter_message(&args.uri, None));
    let mut tasks = vec![];
    for w in 0..args.concurrency {
        let (args, filter) = (args.clone(), filter.clone());
        tasks.push(tokio::spawn(async move {
            let mut handshakes = Histogram::default();
            let (mut cycles, mut errors, mut k) = (0u64, 0u64, w);
            while Instant::now() < deadline {
                k += args.concurrency;
                let t0 = Instant::now();
                let r: std::io::Result<()> = async {
                    let mut conn =
                        Conn::connect(args.server, Some(source(args.source_block, k)), "/ws")
                            .await?;
                    handshakes.record(t0.elapsed().as_nanos() as u64);
                    conn.send_text(&filter).await?;
                    let mut got_event = false;
                    while !got_event {
                        let open = conn
                            .next_frame(|op, p| {
                                got_event =
                                    op == OP_TEXT && find(p, b"annotation-notification").is_some();
                                if op == OP_CLOSE {
                                    got_event = false;
                                }
                            })
                            .await?;
                        if !open {
                            return Err(std::io::Error::other("closed by the server"));
                        }
                    }
                    conn.close().await
                }
                .await;
                match r {
                    Ok(()) => cycles += 1,
                    Err(e) => {
                        if errors < 3 {
                            eprintln!("churn: {e}");
                        }
                        errors += 1;
                    }
                }
            }
            (cycles, errors, handshakes)
        }));
    }
    let started = Instant::now();
    let (mut cycles, mut errors, mut handshakes) = (0, 0, Histogram::default());
    for t in tasks {
        let (c, e, h) = t.await?;
        cycles += c;
        errors += e;
        handshakes.merge(&h);
    }
    println!(
        "{}",
        json!({"event": "churn", "cycles": cycles, "errors": errors,
               "secs": started.elapsed().as_secs_f64().max(args.secs), "handshake": handshakes})
    );
    Ok(())
}
