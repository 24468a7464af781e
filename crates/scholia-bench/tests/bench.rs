//! `scholia bench` end to end, small: a real server, a worker process, the in-process publish
//! path, the JSON result and the report built from it. Speed is not asserted (benchmarks
//! measure it); that the instrument counts every event is.

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_scholia");

#[test]
fn a_small_s3_run_counts_every_event_and_reports() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("results");
    let run = Command::new(BIN)
        .args([
            "bench", "s3", "--counts", "20", "--events", "300", "--paced", "20",
        ])
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
        .args(["bench", "report", "--out"])
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
        .args(["bench", "report", "--out"])
        .arg(dir.path().join("none"))
        .arg("--report")
        .arg(dir.path().join("B.md"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("scholia bench all"));
}
