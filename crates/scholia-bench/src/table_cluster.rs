//! The summary table's rows for the PostgreSQL figures: S4 on one node on PostgreSQL (beside
//! the SQLite S4 rows) and S7, three nodes with and without the bus.

use std::path::Path;

use serde_json::Value;

use super::report::load;
use super::table::{Row, runs};

fn num(v: &Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

fn info(scenario: &'static str, metric: String, values: Vec<f64>, unit: &'static str) -> Row {
    Row {
        scenario,
        metric,
        values,
        unit,
        minimum: "–".into(),
        goal: "–".into(),
        meets: |_| (true, true),
    }
}

/// S4 on PostgreSQL (`s4pg.json`): the same figures as S4's first rate.
pub(super) fn s4pg(dir: &Path, rows: &mut Vec<Row>) {
    let Some(d) = load(dir, "s4pg") else { return };
    let step = |r: &Value, k: &str| num(&r["steps"][0]["latency_us"][k]) / 1000.0;
    let rate = d["params"]["rates"][0].as_f64().unwrap_or(0.0);
    rows.push(Row {
        scenario: "S4 PG",
        metric: format!("POST → WebSocket p50 on PostgreSQL, one node ({rate} POST/s)"),
        values: runs(&d).map(|r| step(r, "p50")).collect(),
        unit: "ms",
        minimum: "≤ 1".into(),
        goal: "≤ 0.3".into(),
        meets: |v| (v <= 1.0, v <= 0.3),
    });
    rows.push(Row {
        scenario: "S4 PG",
        metric: "POST → WebSocket p99 on PostgreSQL".into(),
        values: runs(&d).map(|r| step(r, "p99")).collect(),
        unit: "ms",
        minimum: "≤ 5".into(),
        goal: "≤ 1".into(),
        meets: |v| (v <= 5.0, v <= 1.0),
    });
    rows.push(info(
        "S4 PG",
        format!("POST/s achieved of the {rate} asked (open loop, at most 512 in flight)"),
        runs(&d)
            .map(|r| num(&r["steps"][0]["achieved_rate"]))
            .collect(),
        "/s",
    ));
    if let Some(rate2) = d["params"]["rates"][1].as_f64() {
        let at = |r: &Value, k: &str| num(&r["steps"][1]["latency_us"][k]) / 1000.0;
        for q in ["p50", "p99"] {
            rows.push(info(
                "S4 PG",
                format!("POST → WebSocket {q} on PostgreSQL at {rate2} POST/s (for comparison)"),
                runs(&d).map(|r| at(r, q)).collect(),
                "ms",
            ));
        }
    }
    rows.push(info(
        "S4 PG",
        "server CPU per POST on PostgreSQL (the database's own CPU not counted)".into(),
        runs(&d)
            .map(|r| num(&r["steps"][0]["cpu_us_per_post"]))
            .collect(),
        "µs",
    ));
}

/// The asked rate of the ramp's highest step that held (NaN if none did). The achieved rate of
/// such a step is that within the open-loop pacer's rounding (499.3–499.99 of 500 asked, each
/// step sending at least 90% of what it asked or it does not hold), so the step's own rate is
/// what the cluster was shown to sustain.
fn sustained(ramp: &Value) -> f64 {
    ramp.as_array()
        .into_iter()
        .flatten()
        .filter(|s| super::s7::holds(s))
        .map(|s| num(&s["rate"]))
        .fold(f64::NAN, f64::max)
}

/// S7 (`s7.json`).
pub(super) fn s7(dir: &Path, rows: &mut Vec<Row>) {
    let Some(d) = load(dir, "s7") else { return };
    let p = &d["params"];
    let up = |r: &Value, k: &str| num(&r["with_bus"]["steady"][k]);
    let ms = |r: &Value, phase: &str, k: &str, q: &str| num(&r[phase]["steady"][k][q]) / 1000.0;
    let poll = d["runs"][0]["poll_ms"].as_f64().unwrap_or(250.0);
    rows.push(info(
        "S7",
        format!(
            "cross-node POST → socket p50, bus up ({}; 3 × {} sockets, {} POST/s)",
            p["bus"].as_str().unwrap_or("?"),
            p["per_node"],
            p["rate"]
        ),
        runs(&d)
            .map(|r| ms(r, "with_bus", "cross_latency_us", "p50"))
            .collect(),
        "ms",
    ));
    rows.push(Row {
        scenario: "S7",
        metric: "cross-node POST → socket p99, bus up".into(),
        values: runs(&d)
            .map(|r| ms(r, "with_bus", "cross_latency_us", "p99"))
            .collect(),
        unit: "ms",
        minimum: "≤ 25".into(),
        goal: "≤ 10".into(),
        meets: |v| (v <= 25.0, v <= 10.0),
    });
    rows.push(info(
        "S7",
        "POST → socket p99, all sockets (the writer's node too), bus up".into(),
        runs(&d)
            .map(|r| ms(r, "with_bus", "latency_us", "p99"))
            .collect(),
        "ms",
    ));
    rows.push(info(
        "S7",
        "deliveries/s, bus up (all nodes)".into(),
        runs(&d).map(|r| up(r, "deliveries_per_sec")).collect(),
        "/s",
    ));
    for j in 0..3 {
        rows.push(info(
            "S7",
            format!("server CPU per delivery, node {j}, bus up"),
            runs(&d)
                .map(|r| num(&r["with_bus"]["steady"]["nodes"][j]["cpu_us_per_delivery"]))
                .collect(),
            "µs",
        ));
    }
    rows.push(info(
        "S7",
        "log reads to fill seq gaps, bus up (all nodes; `scholia_log_gap_reads_total`)".into(),
        runs(&d).map(|r| up(r, "gap_reads")).collect(),
        "",
    ));
    rows.push(info(
        "S7",
        "annotation events read back from the database, bus up (all nodes; the rest came \
         with the bus message; `scholia_route_read_backs_total`)"
            .into(),
        runs(&d).map(|r| up(r, "read_backs")).collect(),
        "",
    ));
    rows.push(Row {
        scenario: "S7",
        metric: "frames lost, both phases".into(),
        values: runs(&d)
            .map(|r| up(r, "lost") + num(&r["bus_stopped"]["steady"]["lost"]))
            .collect(),
        unit: "",
        minimum: "0".into(),
        goal: "0".into(),
        meets: |v| (v == 0.0, v == 0.0),
    });
    rows.push(info(
        "S7",
        "cross-node POST → socket p50, bus stopped".into(),
        runs(&d)
            .map(|r| ms(r, "bus_stopped", "cross_latency_us", "p50"))
            .collect(),
        "ms",
    ));
    rows.push(Row {
        scenario: "S7",
        metric: format!("cross-node POST → socket p99, bus stopped (poll interval {poll} ms)"),
        values: runs(&d)
            .map(|r| ms(r, "bus_stopped", "cross_latency_us", "p99"))
            .collect(),
        unit: "ms",
        // The default poll interval (250 ms) + 25 ms; the metric names the one the run used.
        minimum: format!("≤ {}", poll + 25.0),
        goal: "–".into(),
        // No goal beyond the minimum: "minimum met" at best.
        meets: |v| (v <= 275.0, false),
    });
    rows.push(info(
        "S7",
        "annotation events read back from the database, bus stopped (all nodes)".into(),
        runs(&d)
            .map(|r| num(&r["bus_stopped"]["steady"]["read_backs"]))
            .collect(),
        "",
    ));
    rows.push(info(
        "S7",
        "log polls, bus stopped (all nodes)".into(),
        runs(&d)
            .map(|r| num(&r["bus_stopped"]["steady"]["polls"]))
            .collect(),
        "",
    ));
    // Where the ramp's last step still held, the cluster may sustain more than the ramp asked.
    let topped = runs(&d).any(|r| {
        r["with_bus"]["ramp"]
            .as_array()
            .and_then(|steps| steps.last())
            .is_some_and(super::s7::holds)
    });
    let bound = if topped {
        " (the ramp's top step held: a lower bound)"
    } else {
        ""
    };
    rows.push(Row {
        scenario: "S7",
        metric: format!(
            "POST/s the cluster sustains on PostgreSQL (open loop, p99 ≤ 100 ms){bound}"
        ),
        values: runs(&d)
            .map(|r| sustained(&r["with_bus"]["ramp"]))
            .collect(),
        unit: "/s",
        minimum: "≥ 500".into(),
        goal: "≥ 1,500".into(),
        meets: |v| (v >= 500.0, v >= 1500.0),
    });
}
