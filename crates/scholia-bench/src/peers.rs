//! `scholia-bench peers`, and the peers' part of `all`: S1 and S2 against each peer of
//! [`super::peer`], a fresh peer process per scenario run, with the same sockets, workers,
//! pinning and measurements as scholia's own S1 and S2. Each peer's runs go to
//! `peer_<name>.json` beside the scenario results.
//!
//! The peers are not part of the workspace: Sockudo is installed with `cargo install` into a
//! folder of its own (`--sockudo-root`) the first time a benchmark needs it, never by a build or
//! a test of this repository.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde_json::{Value, json};

use super::driver::{Placement, exe};
use super::peer::{Peer, PeerBin, PeerKind, naive_bin};
use super::s1s2::{Target, idle, ladder};
use super::{calibrate, report};

/// The Sockudo release the peer runs are made with.
pub const SOCKUDO_VERSION: &str = "5.2.0";

/// The command that installs Sockudo into `root` (as printed and as run).
fn install_args(root: &Path) -> Vec<String> {
    vec![
        "install".into(),
        "--root".into(),
        root.display().to_string(),
        "--locked".into(),
        "--version".into(),
        SOCKUDO_VERSION.into(),
        "sockudo".into(),
    ]
}

/// The peers' binaries, in the order asked. Sockudo missing from `sockudo_root` is built there
/// (minutes), or with `build` false skipped with a message; the naive server must have been
/// built beside this binary (`cargo build --release -p scholia-bench --example
/// naive_broadcast`), or with `build` false is skipped too.
pub fn locate(
    kinds: &[PeerKind],
    sockudo_root: &Path,
    build: bool,
) -> anyhow::Result<Vec<PeerBin>> {
    let mut bins = vec![];
    for &kind in kinds {
        let bin = match kind {
            PeerKind::Sockudo => sockudo(sockudo_root, build)?,
            PeerKind::Naive => naive(build)?,
        };
        bins.extend(bin);
    }
    Ok(bins)
}

fn sockudo(root: &Path, build: bool) -> anyhow::Result<Option<PeerBin>> {
    let bin = root
        .join("bin")
        .join(format!("sockudo{}", std::env::consts::EXE_SUFFIX));
    let command = format!("cargo {}", install_args(root).join(" "));
    if !bin.is_file() {
        if !build {
            eprintln!(
                "peers: no Sockudo at {} and --no-peer-build: skipping it (build it with `{command}`)",
                bin.display()
            );
            return Ok(None);
        }
        // One of its dependencies (metrics-exporter-tcp) compiles protobuf definitions in its
        // build script: without protoc the build fails after minutes of compiling.
        let protoc = std::env::var_os("PROTOC")
            .map(PathBuf::from)
            .or_else(|| on_path("protoc"));
        anyhow::ensure!(
            protoc.is_some_and(|p| p.is_file()),
            "building Sockudo needs protoc (Debian: `apt-get install protobuf-compiler`, or set \
             PROTOC); or pass --peers naive, --no-peers or --no-peer-build"
        );
        eprintln!(
            "peers: {} is missing; building it: `{command}` (many minutes)",
            bin.display()
        );
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let built = unpinned(&PathBuf::from(cargo))
            .args(install_args(root))
            .status()
            .context("running cargo install for Sockudo")?;
        anyhow::ensure!(
            built.success() && bin.is_file(),
            "building Sockudo failed ({built}); run `{command}` by hand, or pass --peers naive \
             or --no-peers"
        );
    }
    Ok(Some(PeerBin {
        kind: PeerKind::Sockudo,
        version: installed_version(root).unwrap_or_else(|| "unknown version".into()),
        path: bin,
    }))
}

fn on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

/// The version `cargo install` recorded in `root/.crates.toml`.
fn installed_version(root: &Path) -> Option<String> {
    let text = std::fs::read_to_string(root.join(".crates.toml")).ok()?;
    let at = text.find("\"sockudo ")? + "\"sockudo ".len();
    Some(text[at..].split_whitespace().next()?.to_owned())
}

fn naive(build: bool) -> anyhow::Result<Option<PeerBin>> {
    let bin = naive_bin(&exe()?);
    if !bin.is_file() {
        let how = "cargo build --release -p scholia-bench --example naive_broadcast";
        if !build {
            eprintln!(
                "peers: no {} and --no-peer-build: skipping the naive server",
                bin.display()
            );
            return Ok(None);
        }
        anyhow::bail!(
            "no naive broadcast server at {}: build it with `{how}` (or pass --peers sockudo, \
             --no-peers or --no-peer-build)",
            bin.display()
        );
    }
    Ok(Some(PeerBin {
        kind: PeerKind::Naive,
        version: "examples/naive_broadcast.rs".into(),
        path: bin,
    }))
}

/// A command on every CPU of the machine: the driver pinned itself (and so its children) to
/// the load CPU, and a build there would take several times as long.
fn unpinned(program: &Path) -> std::process::Command {
    let cpus = std::fs::read_to_string("/proc/cpuinfo")
        .map(|c| c.lines().filter(|l| l.starts_with("processor")).count())
        .unwrap_or(0);
    if cpus > 0 && Path::new("/usr/bin/taskset").exists() {
        let mut c = std::process::Command::new("taskset");
        c.arg("-c").arg(format!("0-{}", cpus - 1)).arg(program);
        c
    } else {
        std::process::Command::new(program)
    }
}

/// `runs` runs of S1 and S2 against each peer; `p` holds `{"s1": {"conns"}, "s2": {"conns",
/// "rates", "secs"}}`.
pub async fn run(
    place: &Placement,
    bins: &[PeerBin],
    p: &Value,
    runs: usize,
    out: &Path,
) -> anyhow::Result<()> {
    let num = |v: &Value| v.as_f64().unwrap_or(0.0);
    let (s1_conns, s2_conns) = (
        num(&p["s1"]["conns"]) as usize,
        num(&p["s2"]["conns"]) as usize,
    );
    let rates: Vec<f64> = p["s2"]["rates"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_f64)
        .collect();
    let secs = num(&p["s2"]["secs"]);
    for bin in bins {
        let name = format!("peer_{}", bin.kind.name());
        let mut results = vec![];
        for r in 1..=runs {
            eprintln!(
                "{name}: run {r} of {runs} ({} {}; {p})",
                bin.kind.name(),
                bin.version
            );
            let calibration = calibrate::run(place).await?;
            let peer = Peer::start(place, bin).await?;
            let args = peer.worker_args.clone();
            let target = Target {
                pid: peer.pid,
                addr: peer.addr,
                worker_args: &args,
            };
            let s1 = idle(place, target, s1_conns, bin.kind.channel(true)).await?;
            eprintln!("{name}: run {r}: S1 {s1}");
            peer.stop().await;
            let mut peer = Peer::start(place, bin).await?;
            let target = Target {
                pid: peer.pid,
                addr: peer.addr,
                worker_args: &args,
            };
            let channel = bin.kind.channel(false);
            let publish = async |rate: f64, n: usize| peer.publish(rate, n).await;
            let s2 = ladder(place, target, s2_conns, channel, &rates, secs, publish).await?;
            peer.stop().await;
            results.push(json!({"calibration": calibration, "s1": s1, "s2": s2}));
        }
        std::fs::create_dir_all(out)?;
        let doc = json!({"scenario": name, "peer": bin.kind.name(), "version": bin.version,
                         "params": p, "machine": report::machine(place), "runs": results});
        let path = out.join(format!("{name}.json"));
        std::fs::write(&path, serde_json::to_string_pretty(&doc)?)?;
        eprintln!("{name}: wrote {}", path.display());
    }
    Ok(())
}
