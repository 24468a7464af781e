//! `scholia-bench`: the load generator. It runs the six scenarios of
//! `shared/design/performance.md` §5 against a `scholia` server it starts itself (SQLite,
//! in-process bus, pinned to one CPU and the load to another), reads the server's CPU time and
//! memory from `/proc` around each phase, writes one JSON file per scenario, and `all` turns them
//! into `BENCHMARKS.md` and an SVG plot. It is a workspace member of its own so that the server
//! does not link its HTTP client; it only talks to the server binary (`--server-bin`, by default
//! the `scholia` next to this executable) over processes, HTTP and WebSockets.
//!
//! - [`wsclient`]: a minimal WebSocket client, cheap enough to hold tens of thousands of sockets.
//! - [`worker`]: worker processes (connections spread over several, 127.x.y.z sources).
//! - [`driver`]: the server under test, workers, the server's metrics; [`post`]: paced POSTs.
//! - [`scenarios`]: S1–S6 ([`s1s2`]: S1 and S2 for any server); [`peers`] (with [`peer`] and
//!   [`pusher`]): S1 and S2 against Sockudo and a naive broadcast server in the same run;
//!   [`soak`]: an hour at half S4's rate, sampled per window; [`s7`] (with [`cluster`]): three
//!   nodes on PostgreSQL, with and without the bus (S4 also runs on PostgreSQL, `--database
//!   postgres`).
//! - [`report`] (with `table`): medians, ranges, the table and the plot.
//! - [`hist`], [`proc`]: latency histograms and `/proc` readings; [`calibrate`]: how fast the
//!   machine is before each run.
#![forbid(unsafe_code)]

pub mod calibrate;
pub mod cluster;
pub mod driver;
pub mod hist;
pub mod peer;
pub mod peers;
pub mod post;
pub mod proc;
pub mod pusher;
pub mod report;
mod report_svg;
pub mod resume;
mod runner;
pub mod s1s2;
pub mod s7;
pub mod scenarios;
pub mod soak;
mod table;
mod table_broadcast;
mod table_cluster;
pub mod worker;
pub mod wsclient;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use driver::Placement;

/// Load-test a scholia server: the six benchmark scenarios (see BENCHMARKS.md).
#[derive(Parser, Debug)]
#[command(name = "scholia-bench", version)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub scenario: Scenario,
    /// Fresh-server repetitions per scenario (the report gives the median and the range).
    #[arg(long, global = true, default_value_t = 3)]
    pub runs: usize,
    /// Folder for the JSON results (and, with `all`, BENCHMARKS.md's data).
    #[arg(long, global = true, default_value = "bench-results")]
    pub out: PathBuf,
    /// CPUs for the server (taskset list); `none` leaves it unpinned.
    #[arg(long, global = true, default_value = "0")]
    pub server_cpus: String,
    /// CPUs for the load generator's workers.
    #[arg(long, global = true, default_value = "1")]
    pub load_cpus: String,
    /// The `scholia` server binary to start (default: `scholia` next to this executable).
    #[arg(long, global = true, env = "SCHOLIA_BIN", value_name = "PATH")]
    pub server_bin: Option<PathBuf>,
    /// The PostgreSQL for S7 and S4 on PostgreSQL; each run gets a schema of its own there.
    #[arg(long, global = true, env = "SCHOLIA_BENCH_POSTGRES_URL",
          default_value = cluster::DEFAULT_POSTGRES)]
    pub postgres_url: String,
    /// Which peers `all` and `peers` run S1 and S2 against: `sockudo`, `naive`, or `none`.
    #[arg(
        long,
        global = true,
        value_delimiter = ',',
        default_value = "sockudo,naive"
    )]
    pub peers: Vec<String>,
    /// Run no peers (the same as --peers none).
    #[arg(long, global = true)]
    pub no_peers: bool,
    /// Where Sockudo is installed (DIR/bin/sockudo); when it is missing, the bench runs
    /// `cargo install --root DIR --locked --version 5.2.0 sockudo` before anything else.
    #[arg(
        long,
        global = true,
        env = "SCHOLIA_BENCH_SOCKUDO_ROOT",
        default_value = "target/peers/sockudo",
        value_name = "DIR"
    )]
    pub sockudo_root: PathBuf,
    /// Never build a peer: skip (with a message) each one whose binary is missing.
    #[arg(long, global = true)]
    pub no_peer_build: bool,
}

#[derive(Subcommand, Debug)]
pub enum Scenario {
    /// S1: idle subscribed sockets; server memory per connection.
    S1 {
        #[arg(long, default_value_t = 19_000)]
        conns: usize,
    },
    /// S2: one URI, every socket subscribed; POSTs at rising rates; deliveries/s and CPU each.
    /// Events/s climb while a step keeps up (no frame lost, publish → last socket p99 within
    /// 1 s); sustained means within 100 ms. First, 100 sockets at the first rate (a busy page).
    S2 {
        #[arg(long, default_value_t = 10_000)]
        conns: usize,
        #[arg(long, value_delimiter = ',', default_value = s1s2::S2_RATES)]
        rates: Vec<f64>,
        #[arg(long, default_value_t = 5.0)]
        secs: f64,
    },
    /// S1 and S2 against the peers (--peers; Sockudo and the naive broadcast server), a fresh
    /// peer per run; results in peer_<name>.json.
    Peers {
        /// S1's sockets (as scholia's S1).
        #[arg(long, default_value_t = 19_000)]
        s1_conns: usize,
        /// S2's sockets.
        #[arg(long, default_value_t = 10_000)]
        conns: usize,
        #[arg(long, value_delimiter = ',', default_value = s1s2::S2_RATES)]
        rates: Vec<f64>,
        #[arg(long, default_value_t = 5.0)]
        secs: f64,
    },
    /// S3: one URI per socket; in-process events to one socket each; CPU per event by count.
    S3 {
        #[arg(long, value_delimiter = ',', default_value = "1000,5000,19000")]
        counts: Vec<usize>,
        #[arg(long, default_value_t = 200_000)]
        events: u64,
        /// Events/s for the paced phase (CPU per event compared between counts).
        #[arg(long, default_value_t = 20_000.0)]
        paced: f64,
    },
    /// S4: ten sockets per URI; steady POSTs; POST → frame latency.
    S4 {
        #[arg(long, default_value_t = 10_000)]
        conns: usize,
        /// POSTs per second: the scenario's rate, then any others to compare (a fresh server
        /// for each).
        #[arg(long, value_delimiter = ',', default_value = "1000,200")]
        rates: Vec<f64>,
        #[arg(long, default_value_t = 10.0)]
        secs: f64,
        /// `sqlite` (a fresh file) or `postgres` (one node on a fresh schema of
        /// --postgres-url; results go to s4pg.json, beside the SQLite ones).
        #[arg(long, default_value = "sqlite", value_parser = ["sqlite", "postgres"])]
        database: String,
    },
    /// S5: connect/subscribe/receive/close churn beside idle sockets.
    S5 {
        #[arg(long, default_value_t = 10_000)]
        idle: usize,
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
        #[arg(long, default_value_t = 10.0)]
        secs: f64,
    },
    /// S6: 1% of sockets stop reading; healthy sockets' latency against a clean run.
    S6 {
        #[arg(long, default_value_t = 10_000)]
        conns: usize,
        /// Events per second (each to every socket).
        #[arg(long, default_value_t = 5.0)]
        rate: f64,
        #[arg(long, default_value_t = 30.0)]
        secs: f64,
    },
    /// S7: three nodes on one PostgreSQL schema; cross-node POST → socket latency with the
    /// bus up, a write-throughput ramp, then the same with the bus stopped.
    S7 {
        /// Sockets on each of the three nodes (ten per URI, interleaved over the nodes).
        #[arg(long, default_value_t = 5_000)]
        per_node: usize,
        /// POSTs per second, round-robin over the nodes.
        #[arg(long, default_value_t = 300.0)]
        rate: f64,
        #[arg(long, default_value_t = 30.0)]
        secs: f64,
        /// The bus of the first phase: `nats` (the shared server on 127.0.0.1:4222),
        /// `nats://HOST:PORT` or `postgres`. The bus-stopped phase always uses a private
        /// nats-server it stops.
        #[arg(long, default_value = "nats")]
        bus: String,
        /// POST/s steps of the write-throughput ramp, until p99 passes 100 ms.
        #[arg(
            long,
            value_delimiter = ',',
            default_value = "300,500,750,1000,1500,2000,3000"
        )]
        ramp: Vec<f64>,
        #[arg(long, default_value_t = 10.0)]
        ramp_secs: f64,
        /// A smoke run: 3 × 200 sockets, 50 POST/s for 5 s, ramp 50,100 for 2 s each (60 URIs,
        /// so no socket is sent more than the server's 2 writes/s pacing).
        #[arg(long)]
        quick: bool,
    },
    /// Resume: one client replayed `changes` missed changes (a filter with `since`); time to
    /// `resumed` and server CPU, over `rounds` fresh sockets on one seeded server.
    Resume {
        #[arg(long, default_value_t = 10_000)]
        changes: usize,
        #[arg(long, default_value_t = 5)]
        rounds: usize,
    },
    /// The soak: half of S4's rate for an hour with churn and sockets that never read; RSS,
    /// descriptors and latency per window (use --runs 1).
    Soak {
        #[arg(long, default_value_t = 10_000)]
        conns: usize,
        #[arg(long, default_value_t = 500.0)]
        rate: f64,
        #[arg(long, default_value_t = 3600.0)]
        secs: f64,
        #[arg(long, default_value_t = 60.0)]
        window_secs: f64,
        /// Sockets that never read (rounded down to whole URIs of ten).
        #[arg(long, default_value_t = 100)]
        slow: usize,
        /// Connections churning (connect, subscribe, one event, close) all along.
        #[arg(long, default_value_t = 8)]
        churn: usize,
        #[arg(long, default_value_t = 20.0)]
        churn_rate: f64,
    },
    /// Every scenario with its defaults (S1, S2, the peers, S3–S6), then BENCHMARKS.md and the
    /// SVG plot.
    All {
        /// Where to write the report.
        #[arg(long, default_value = "BENCHMARKS.md")]
        report: PathBuf,
    },
    /// Rewrites BENCHMARKS.md and the plot from the JSON results in --out.
    Report {
        #[arg(long, default_value = "BENCHMARKS.md")]
        report: PathBuf,
    },
    /// A worker process (started by the driver).
    #[command(subcommand, hide = true)]
    Worker(WorkerMode),
    /// The machine-speed probes, printed as JSON (started by the driver on the server's CPUs).
    #[command(hide = true)]
    Calibrate,
}

#[derive(Subcommand, Debug)]
pub enum WorkerMode {
    Hold(worker::HoldArgs),
    Churn(worker::ChurnArgs),
}

fn cpus(list: &str) -> Option<String> {
    (list != "none" && std::path::Path::new("/usr/bin/taskset").exists()).then(|| list.to_owned())
}

/// The whole of `scholia-bench`; it builds its own runtime (a worker uses one thread, as it
/// runs on one CPU).
pub fn main(args: BenchArgs) -> ExitCode {
    // The driver itself belongs with the load, off the server's CPU: pin this process before
    // any runtime thread exists, so every thread inherits it (workers are started pinned).
    if let Scenario::Calibrate = args.scenario {
        return match calibrate::measure() {
            Ok(v) => {
                println!("{v}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e:#}");
                ExitCode::FAILURE
            }
        };
    }
    if !matches!(args.scenario, Scenario::Worker(_) | Scenario::Report { .. })
        && let Some(list) = cpus(&args.load_cpus)
    {
        let pinned = std::process::Command::new("taskset")
            .args(["-p", "-c", &list, &std::process::id().to_string()])
            .stdout(std::process::Stdio::null())
            .status();
        if !pinned.is_ok_and(|s| s.success()) {
            eprintln!("warning: could not pin the load generator to CPUs {list}");
        }
    }
    let runtime = match &args.scenario {
        Scenario::Worker(_) => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
        _ => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build(),
    };
    let result = match runtime {
        Ok(rt) => rt.block_on(run(args)),
        Err(e) => Err(e.into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: BenchArgs) -> anyhow::Result<()> {
    // Only the scenarios start a server, so only they need its binary to exist.
    let place = || -> anyhow::Result<Placement> {
        Ok(Placement {
            server_bin: driver::server_bin(args.server_bin.clone())?,
            server_cpus: cpus(&args.server_cpus),
            load_cpus: cpus(&args.load_cpus),
        })
    };
    let pg = &args.postgres_url;
    match &args.scenario {
        Scenario::Worker(WorkerMode::Hold(a)) => worker::hold(a.clone()).await,
        Scenario::Worker(WorkerMode::Churn(a)) => worker::churn(a.clone()).await,
        Scenario::Report { report } => report::write(&args.out, report),
        Scenario::All { report } => {
            let place = place()?;
            // Peers are found (or built) before anything is measured: a build in between
            // would run on the machine the scenarios share.
            let peers = peer_bins(&args)?;
            for s in ["s1", "s2", "peers", "s3", "s4", "s5", "s6"] {
                let p = runner::default_of(s);
                if s == "peers" {
                    peers::run(&place, &peers, &p, args.runs, &args.out).await?;
                } else {
                    runner::scenario(s, &p, &place, args.runs, &args.out, pg).await?;
                }
            }
            report::write(&args.out, report)
        }
        Scenario::Peers { .. } => {
            // The peers never start scholia: its binary need not exist for them.
            let place = Placement {
                server_bin: args.server_bin.clone().unwrap_or_default(),
                server_cpus: cpus(&args.server_cpus),
                load_cpus: cpus(&args.load_cpus),
            };
            let peers = peer_bins(&args)?;
            let (_, p) = runner::params_of(&args.scenario);
            peers::run(&place, &peers, &p, args.runs, &args.out).await
        }
        s => {
            let (name, params) = runner::params_of(s);
            runner::scenario(name, &params, &place()?, args.runs, &args.out, pg).await
        }
    }
}

/// The peers asked for (`--peers`, `--no-peers`), found or built (`--sockudo-root`,
/// `--no-peer-build`).
fn peer_bins(args: &BenchArgs) -> anyhow::Result<Vec<peer::PeerBin>> {
    let mut kinds = vec![];
    if !args.no_peers {
        for name in args.peers.iter().filter(|n| n.as_str() != "none") {
            match peer::PeerKind::parse(name) {
                Some(k) => kinds.push(k),
                None => anyhow::bail!("unknown peer {name:?} (sockudo, naive or none)"),
            }
        }
    }
    peers::locate(&kinds, &args.sockudo_root, !args.no_peer_build)
}
