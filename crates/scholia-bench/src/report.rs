//! `BENCHMARKS.md` and `docs/benchmarks.svg` from the scenario results: for each figure the
//! median of the runs with its range, against the minimum and goal.

use std::fmt::Write as _;
use std::path::Path;

use serde_json::{Value, json};

use super::driver::Placement;
use super::proc::median_range;
use super::table::{rows, runs};

pub fn machine(place: &Placement) -> Value {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .unwrap_or("unknown")
        .trim()
        .to_owned();
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    json!({
        // Counted from /proc: the driver has pinned itself, so its own parallelism is 1.
        "cpus": cpuinfo.lines().filter(|l| l.starts_with("processor")).count(),
        "model": model,
        "kernel": kernel.trim(),
        "server_cpus": place.server_cpus,
        "load_cpus": place.load_cpus,
        "date": time::OffsetDateTime::now_utc().date().to_string(),
    })
}

/// Everything in BENCHMARKS.md from this line on is kept when the report is rewritten.
const NOTES_MARKER: &str = "<!-- notes: written by hand; `scholia-bench report` keeps them -->\n";

pub(super) fn load(dir: &Path, name: &str) -> Option<Value> {
    let text = std::fs::read_to_string(dir.join(format!("{name}.json"))).ok()?;
    serde_json::from_str(&text).ok()
}

fn fmt(v: f64) -> String {
    if !v.is_finite() {
        return "n/a".into();
    }
    if v.abs() >= 10_000.0 {
        let s = format!("{:.0}", v);
        let mut out = String::new();
        for (i, c) in s.chars().enumerate() {
            if i > 0 && (s.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        out
    } else if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// Every scenario's results file, in the report's order.
const RESULTS: [&str; 10] = [
    "s1",
    "s2",
    "peer_sockudo",
    "peer_naive",
    "s3",
    "s4",
    "s4pg",
    "s5",
    "s6",
    "s7",
];

/// The machine-speed probes taken before every run (`calibrate`), as a sentence; `None` for
/// results recorded before the probes existed.
fn speed_line(dir: &Path) -> Option<String> {
    let (mut rt, mut compute) = (vec![], vec![]);
    // S4 on PostgreSQL and S7 run on their own (not in `all`), often on another day.
    for name in RESULTS.iter().filter(|n| !matches!(**n, "s4pg" | "s7")) {
        let Some(doc) = load(dir, name) else { continue };
        for run in runs(&doc) {
            let c = &run["calibration"];
            if let (Some(r), Some(m)) = (c["roundtrip_us"].as_f64(), c["compute_ms"].as_f64()) {
                rt.push(r);
                compute.push(m);
            }
        }
    }
    if rt.is_empty() {
        return None;
    }
    let ((r, r_lo, r_hi), (m, m_lo, m_hi)) = (median_range(&rt), median_range(&compute));
    Some(format!(
        "Machine speed, probed on the server's CPU before each of the {} runs (`crates/scholia-bench/src/calibrate.rs`; \
         this shared VM's speed drifts, so compare figures across reports only where these agree): \
         loopback TCP round trip between two threads {} µs [{} – {}], a fixed arithmetic loop {} ms [{} – {}].",
        rt.len(),
        fmt(r),
        fmt(r_lo),
        fmt(r_hi),
        fmt(m),
        fmt(m_lo),
        fmt(m_hi)
    ))
}

/// The scenarios whose results were measured on another day or kernel than the line above
/// the table says (a scenario rerun on its own keeps the others' older results): `None` when
/// every result comes from the same machine and day.
fn provenance_line(dir: &Path, first: &Value) -> Option<String> {
    let key = |m: &Value| (m["kernel"].clone(), m["date"].clone());
    let others: Vec<String> = RESULTS
        .iter()
        .filter_map(|s| Some((*s, load(dir, s)?)))
        .filter(|(_, d)| key(&d["machine"]) != key(first))
        .map(|(s, d)| {
            let m = &d["machine"];
            format!(
                "{s} (Linux {}, {})",
                m["kernel"].as_str().unwrap_or("?"),
                m["date"].as_str().unwrap_or("?")
            )
        })
        .collect();
    (!others.is_empty()).then(|| {
        format!(
            "Not one invocation: these results were measured on another kernel build or day \
             than the line above, and are not comparable with it row for row: {}.",
            others.join(", ")
        )
    })
}

/// Writes the report (and the plot beside it in `docs/`) from the results in `dir`.
pub fn write(dir: &Path, report: &Path) -> anyhow::Result<()> {
    let rows = rows(dir);
    anyhow::ensure!(
        !rows.is_empty(),
        "no results in {}: run `scholia-bench all` first",
        dir.display()
    );
    let mut md = String::new();
    let machine = ["s1", "s2", "s3", "s4", "s5", "s6", "s4pg", "s7"]
        .iter()
        .find_map(|s| load(dir, s))
        .map(|d| d["machine"].clone())
        .unwrap_or_default();
    let _ = writeln!(md, "# Benchmarks\n");
    let n = load(dir, "s1").map_or(0, |d| runs(&d).count());
    let _ = writeln!(
        md,
        "Generated by `scholia-bench all --runs {n}` (rewrite from the JSON in `{}/` with `scholia-bench report`). Every figure is the median of {n} fresh-server runs with the range in brackets.\n",
        dir.display(),
    );
    let _ = writeln!(
        md,
        "Machine: {} CPUs ({}), Linux {}, {}. Server pinned to CPU {}, load generator to CPU {}.\n",
        machine["cpus"],
        machine["model"].as_str().unwrap_or("?"),
        machine["kernel"].as_str().unwrap_or("?"),
        machine["date"].as_str().unwrap_or("?"),
        machine["server_cpus"].as_str().unwrap_or("none"),
        machine["load_cpus"].as_str().unwrap_or("none")
    );
    if let Some(line) = provenance_line(dir, &machine) {
        let _ = writeln!(md, "{line}\n");
    }
    if let Some(line) = speed_line(dir) {
        let _ = writeln!(md, "{line}\n");
    }
    let _ = writeln!(
        md,
        "| | figure | result | minimum | goal | |\n|---|---|---|---|---|---|"
    );
    for r in &rows {
        let (med, lo, hi) = median_range(&r.values);
        let (min_ok, goal_ok) = (r.meets)(med);
        let status = match (r.minimum.as_str(), r.goal.as_str(), min_ok, goal_ok) {
            ("–", "–", _, _) => "",
            ("–", _, _, true) | (_, _, true, true) => "goal met",
            ("–", _, _, false) => "goal missed",
            (_, _, true, false) => "minimum met",
            _ => "**minimum missed**",
        };
        let _ = writeln!(
            md,
            "| {} | {} | {} {} [{} – {}] | {} | {} | {} |",
            r.scenario,
            r.metric,
            fmt(med),
            r.unit,
            fmt(lo),
            fmt(hi),
            r.minimum,
            r.goal,
            status
        );
    }
    md.push_str(include_str!("method.md"));
    md.push_str(
        "\n![Latency distributions and throughput against connection count](docs/benchmarks.svg)\n",
    );
    // Hand-written analysis below the marker survives a regeneration.
    let kept = std::fs::read_to_string(report)
        .ok()
        .and_then(|old| old.find(NOTES_MARKER).map(|i| old[i..].to_owned()));
    md.push('\n');
    md.push_str(kept.as_deref().unwrap_or(NOTES_MARKER));
    std::fs::write(report, md)?;
    let svg = super::report_svg::plot(dir)?;
    let svg_path = report
        .parent()
        .unwrap_or(Path::new("."))
        .join("docs/benchmarks.svg");
    if let Some(p) = svg_path.parent() {
        std::fs::create_dir_all(p)?;
    }
    std::fs::write(&svg_path, svg)?;
    eprintln!("wrote {} and {}", report.display(), svg_path.display());
    Ok(())
}
