//! `scholia-bench` end to end, small: a real server, a worker process, the in-process publish
//! path, the JSON result and the report built from it. Speed is not asserted (benchmarks
//! measure it); that the instrument counts every event is.

use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_scholia-bench");

/// Makes sure the `scholia` server binary the bench starts by default is there. Cargo builds another package's binaries only
/// when that package is selected: `cargo nextest run` at the repository root selects both and
/// builds it beside `scholia-bench`, but `-p scholia-bench` alone does not. So when it is not
/// there the test builds it itself, into that same folder, and fails loudly if it cannot: a
/// missing server must never pass for a working bench. `SCHOLIA_BIN` (which the bench reads too)
/// names another one.
fn ensure_server_bin() {
    if let Some(given) = std::env::var_os("SCHOLIA_BIN") {
        let given = PathBuf::from(given);
        assert!(
            given.is_file(),
            "SCHOLIA_BIN names no file: {}",
            given.display()
        );
        return;
    }
    let bench = Path::new(BIN);
    let dir = bench.parent().expect("the bench binary's folder");
    let server = dir.join(format!("scholia{}", std::env::consts::EXE_SUFFIX));
    if server.is_file() {
        return;
    }
    // The folder is <target dir>/<profile folder>; building into that target dir with the same
    // profile puts `scholia` exactly there.
    let profile = match dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") => "dev",
        Some(other) => other,
        None => panic!("cannot tell the profile from {}", dir.display()),
    };
    let target = dir.parent().expect("the target folder");
    eprintln!(
        "{} is missing: building it with cargo (minutes on a clean target dir)",
        server.display()
    );
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| env!("CARGO").into());
    let built = Command::new(cargo)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .args([
            "build",
            "-p",
            "scholia",
            "--bin",
            "scholia",
            "--profile",
            profile,
        ])
        .arg("--target-dir")
        .arg(target)
        .output()
        .expect("running cargo to build the scholia server binary");
    assert!(
        built.status.success() && server.is_file(),
        "the scholia server binary is not at {} and building it failed \
         (run `cargo build -p scholia` first, or set SCHOLIA_BIN):\n{}",
        server.display(),
        String::from_utf8_lossy(&built.stderr)
    );
}

#[test]
fn a_small_s3_run_counts_every_event_and_reports() {
    ensure_server_bin();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("results");
    let run = Command::new(BIN)
        .args(["s3", "--counts", "20", "--events", "300", "--paced", "20"])
        .args([
            "--runs",
            "1",
            "--server-cpus",
            "none",
            "--load-cpus",
            "none",
            "--out",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let result: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("s3.json")).unwrap()).unwrap();
    let point = &result["runs"][0]["points"][0];
    assert_eq!(point["sockets"], 20);
    assert_eq!(point["received"], 300, "{point}");
    assert!(point["cpu_us_per_event"].as_f64().unwrap() > 0.0, "{point}");
    assert!(
        point["latency_us"]["count"].as_u64() == Some(300),
        "{point}"
    );
    // Each run records how fast the machine was just before it.
    let probe = &result["runs"][0]["calibration"];
    assert!(
        probe["roundtrip_us"].as_f64().is_some_and(|v| v > 0.0),
        "{probe}"
    );
    assert!(
        probe["compute_ms"].as_f64().is_some_and(|v| v > 0.0),
        "{probe}"
    );

    let report = dir.path().join("BENCHMARKS.md");
    let written = Command::new(BIN)
        .args(["report", "--out"])
        .arg(&out)
        .arg("--report")
        .arg(&report)
        .output()
        .unwrap();
    assert!(
        written.status.success(),
        "{}",
        String::from_utf8_lossy(&written.stderr)
    );
    let md = std::fs::read_to_string(&report).unwrap();
    assert!(md.contains("| S3 | routed events/s in process"), "{md}");
    assert!(
        md.contains("loopback TCP round trip between two threads"),
        "{md}"
    );
    let svg = std::fs::read_to_string(dir.path().join("docs/benchmarks.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("S3"), "{svg}");
}

#[test]
fn report_without_results_says_what_to_run() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(["report", "--out"])
        .arg(dir.path().join("none"))
        .arg("--report")
        .arg(dir.path().join("B.md"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("scholia-bench all"));
}

#[test]
fn a_missing_server_binary_is_named_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-scholia");
    let out = Command::new(BIN)
        .args(["s3", "--counts", "1", "--runs", "1", "--load-cpus", "none"])
        .arg("--server-bin")
        .arg(&missing)
        .arg("--out")
        .arg(dir.path().join("results"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no scholia server binary at") && stderr.contains("no-such-scholia"),
        "{stderr}"
    );
    assert!(!dir.path().join("results").exists());
}

/// The PostgreSQL to run the cluster smoke test on: `SCHOLIA_TEST_POSTGRES_URL`. Without it the
/// test says so and passes, except under CI, where a missing database must fail.
fn postgres_url() -> Option<String> {
    match std::env::var("SCHOLIA_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI=true but SCHOLIA_TEST_POSTGRES_URL is unset: the S7 smoke test needs PostgreSQL"
            );
            eprintln!("SCHOLIA_TEST_POSTGRES_URL is unset: skipping the S7 smoke test");
            None
        }
    }
}

/// S7 at its smallest (3 × 4 sockets, 10 POST/s for a second, one ramp step): three real nodes
/// on a real PostgreSQL schema, the shared NATS, then a private nats-server that is stopped.
/// Every POST must reach every socket of its URI on every node in both phases, and the schemas
/// must be gone afterwards.
#[test]
fn pg_nats_a_small_s7_run_delivers_every_post_on_every_node() {
    let Some(pg) = postgres_url() else { return };
    ensure_server_bin();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("results");
    let child = Command::new(BIN)
        .args(["s7", "--per-node", "4", "--rate", "10", "--secs", "1"])
        .args(["--ramp", "10", "--ramp-secs", "1", "--runs", "1"])
        .args(["--server-cpus", "none", "--load-cpus", "none"])
        .arg("--postgres-url")
        .arg(&pg)
        .arg("--out")
        .arg(&out)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let run = child.wait_with_output().unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let result: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("s7.json")).unwrap()).unwrap();
    let r = &result["runs"][0];
    assert_eq!(r["sockets"], 12, "{r}");
    // URI 0 has ten subscribers and URI 1 two; ten POSTs alternate between them.
    for phase in [&r["with_bus"]["steady"], &r["bus_stopped"]["steady"]] {
        assert_eq!(phase["posts"], 10, "{phase}");
        assert_eq!(phase["post_errors"], 0, "{phase}");
        assert_eq!(phase["expected"], 60, "{phase}");
        assert_eq!(phase["received"], 60, "{phase}");
        let per_node: Vec<u64> = (0..3)
            .map(|j| phase["nodes"][j]["deliveries"].as_u64().unwrap())
            .collect();
        assert!(per_node.iter().all(|&n| n > 0), "{phase}");
        assert!(
            phase["cross_latency_us"]["count"].as_u64().unwrap() > 0,
            "{phase}"
        );
    }
    assert_eq!(r["bus_stopped"]["feed_down_seen"], true, "{r}");
    assert_eq!(r["with_bus"]["ramp"][0]["lost"], 0, "{r}");
    let left = Command::new("psql")
        .arg(&pg)
        .args(["-Atc"])
        .arg(format!(
            "SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'scholia_bench_{pid}\\_%'"
        ))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&left.stdout).trim(), "0");
}
