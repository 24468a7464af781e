//! The S1 and S2 rows of the summary table: scholia's, each peer's (`peer_<name>.json`, when
//! present) under the same rule, and for Sockudo the ratios scholia ÷ Sockudo.

use std::path::Path;

use serde_json::Value;

use super::proc::median_range;
use super::report::load;
use super::s1s2::{
    S2_KEPT_UP_P99_US, S2_MAX_LAST_SOCKET_P99_US, S2_PAGE_SOCKETS, kept_up, sustained,
};
use super::table::{Row, runs};

/// S2's sustained figure in one run's S2 result: the step with the most deliveries/s among
/// those [`sustained`].
pub(super) fn s2_best(s2: &Value) -> Option<&Value> {
    s2_most(s2, sustained)
}

/// The step with the most deliveries/s among those that pass `rule`.
fn s2_most(s2: &Value, rule: fn(&Value) -> bool) -> Option<&Value> {
    s2["steps"]
        .as_array()?
        .iter()
        .filter(|s| rule(s))
        .max_by(|a, b| {
            a["deliveries_per_sec"]
                .as_f64()
                .unwrap_or(0.0)
                .total_cmp(&b["deliveries_per_sec"].as_f64().unwrap_or(0.0))
        })
}

fn num(v: &Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

fn best(s2: &Value, get: impl Fn(&Value) -> f64) -> f64 {
    s2_best(s2).map_or(f64::NAN, get)
}

fn most(s2: &Value, get: impl Fn(&Value) -> f64) -> f64 {
    s2_most(s2, kept_up).map_or(f64::NAN, get)
}

/// The page probe's publish → last socket quantile, ms.
fn page(s2: &Value, q: &str) -> f64 {
    num(&s2["page"]["last_socket_us"][q]) / 1000.0
}

/// The low-rate step: the ladder's first (10 events/s by default), measured whatever came
/// after it.
fn low(s2: &Value, q: &str) -> f64 {
    num(&s2["steps"][0]["last_socket_us"][q]) / 1000.0
}

/// One figure of S1 or S2, read from a run's S1 or S2 result, with scholia's minimum and goal.
struct Figure {
    metric: String,
    unit: &'static str,
    get: fn(&Value) -> f64,
    /// For a ratio scholia ÷ peer: which way is better, as the table should say it.
    higher_is_better: bool,
    minimum: &'static str,
    goal: &'static str,
    meets: fn(f64) -> (bool, bool),
}

impl Figure {
    /// A figure reported beside the others, with no minimum or goal of its own.
    fn info(
        metric: impl Into<String>,
        unit: &'static str,
        get: fn(&Value) -> f64,
        higher_is_better: bool,
    ) -> Figure {
        Figure {
            metric: metric.into(),
            unit,
            get,
            higher_is_better,
            minimum: "–",
            goal: "–",
            meets: |_| (true, true),
        }
    }
}

fn s1_figures(conns: &Value) -> Vec<Figure> {
    vec![Figure {
        metric: format!("server RSS per idle subscribed socket ({conns} sockets)"),
        unit: "KiB",
        get: |r| num(&r["rss_per_conn_kib"]),
        higher_is_better: false,
        minimum: "≤ 3",
        goal: "≤ 1.5",
        meets: |v| (v <= 3.0, v <= 1.5),
    }]
}

fn s2_figures(low_rate: f64, conns: &Value) -> Vec<Figure> {
    let bound = S2_MAX_LAST_SOCKET_P99_US / 1000.0;
    vec![
        Figure {
            metric: format!(
                "deliveries/s sustained: none dropped, publish → last socket p99 ≤ {bound} ms \
                 ({conns} sockets, one channel)"
            ),
            unit: "/s",
            get: |s2| s2_best(s2).map_or(0.0, |s| num(&s["deliveries_per_sec"])),
            higher_is_better: true,
            minimum: "≥ 400,000",
            goal: "≥ 1,000,000",
            meets: |v| (v >= 400e3, v >= 1e6),
        },
        Figure {
            metric: "server CPU per delivery at that rate".into(),
            unit: "µs",
            get: |s2| best(s2, |s| num(&s["cpu_us_per_delivery"])),
            higher_is_better: false,
            minimum: "≤ 2",
            goal: "≤ 1.2",
            meets: |v| (v <= 2.0, v <= 1.2),
        },
        Figure::info(
            "publish → last socket p50 at that rate",
            "ms",
            |s2| best(s2, |s| num(&s["last_socket_us"]["p50"]) / 1000.0),
            false,
        ),
        Figure {
            metric: "publish → last socket p99 at that rate".into(),
            unit: "ms",
            get: |s2| best(s2, |s| num(&s["last_socket_us"]["p99"]) / 1000.0),
            higher_is_better: false,
            minimum: "≤ 100",
            goal: "≤ 30",
            meets: |v| (v <= 100.0, v <= 30.0),
        },
        Figure::info(
            format!(
                "publish → last socket p50 at {low_rate} events/s ({} deliveries/s)",
                deliveries(low_rate, conns)
            ),
            "ms",
            |s2| low(s2, "p50"),
            false,
        ),
        Figure {
            metric: format!("publish → last socket p99 at {low_rate} events/s"),
            unit: "ms",
            get: |s2| low(s2, "p99"),
            higher_is_better: false,
            minimum: "≤ 20",
            goal: "≤ 5",
            meets: |v| (v <= 20.0, v <= 5.0),
        },
        Figure::info(
            format!("deliveries/s at {low_rate} events/s (every frame delivered)"),
            "/s",
            |s2| num(&s2["steps"][0]["deliveries_per_sec"]),
            true,
        ),
        Figure::info(
            format!("server CPU per delivery at {low_rate} events/s"),
            "µs",
            |s2| num(&s2["steps"][0]["cpu_us_per_delivery"]),
            false,
        ),
        Figure::info(
            format!(
                "deliveries/s at most: none dropped, publish → last socket p99 ≤ {} ms \
                 (batches from the backlog)",
                S2_KEPT_UP_P99_US / 1000.0
            ),
            "/s",
            |s2| s2_most(s2, kept_up).map_or(0.0, |s| num(&s["deliveries_per_sec"])),
            true,
        ),
        Figure::info(
            "server CPU per delivery at that rate",
            "µs",
            |s2| most(s2, |s| num(&s["cpu_us_per_delivery"])),
            false,
        ),
        Figure::info(
            "publish → last socket p99 at that rate",
            "ms",
            |s2| most(s2, |s| num(&s["last_socket_us"]["p99"]) / 1000.0),
            false,
        ),
        Figure::info(
            format!(
                "one busy page: {S2_PAGE_SOCKETS} sockets at {low_rate} events/s, publish → last \
                 socket p50"
            ),
            "ms",
            |s2| page(s2, "p50"),
            false,
        ),
        Figure::info(
            "one busy page, publish → last socket p99",
            "ms",
            |s2| page(s2, "p99"),
            false,
        ),
    ]
}

fn deliveries(rate: f64, conns: &Value) -> String {
    let n = rate * conns.as_f64().unwrap_or(0.0);
    if n >= 1000.0 {
        format!("{:.0}k", n / 1000.0)
    } else {
        format!("{n:.0}")
    }
}

/// The ladder's first rate, which the low-rate rows are measured at.
fn low_rate(s2_params: &Value) -> f64 {
    num(&s2_params["rates"][0])
}

/// Scholia's S1 and S2 rows, then each peer's and (for Sockudo) the ratios.
pub(super) fn rows(dir: &Path, rows: &mut Vec<Row>) {
    let s1 = load(dir, "s1");
    let s2 = load(dir, "s2");
    if let Some(d) = &s1 {
        for f in s1_figures(&d["params"]["conns"]) {
            rows.push(scholia_row("S1", &f, runs(d).map(f.get).collect()));
        }
        rows.push(Row {
            scenario: "S1",
            metric: "time to connect and subscribe them all".into(),
            values: runs(d).map(|r| num(&r["connect_secs"])).collect(),
            unit: "s",
            minimum: "–".into(),
            goal: "≤ 3".into(),
            meets: |v| (true, v <= 3.0),
        });
    }
    if let Some(d) = &s2 {
        for f in s2_figures(low_rate(&d["params"]), &d["params"]["conns"]) {
            rows.push(scholia_row("S2", &f, runs(d).map(f.get).collect()));
        }
    }
    for (name, label, ratios) in [("sockudo", "Sockudo", true), ("naive", "naive", false)] {
        let Some(d) = load(dir, &format!("peer_{name}")) else {
            continue;
        };
        let version = d["version"].as_str().unwrap_or("?");
        let who = match name {
            "sockudo" => format!("Sockudo {version}"),
            _ => format!("naive broadcast server, {version}"),
        };
        let p = &d["params"];
        let figures = [
            ("S1", s1_figures(&p["s1"]["conns"]), "s1", &s1),
            (
                "S2",
                s2_figures(low_rate(&p["s2"]), &p["s2"]["conns"]),
                "s2",
                &s2,
            ),
        ];
        for (scenario, list, key, ours) in figures {
            for (i, f) in list.into_iter().enumerate() {
                let theirs: Vec<f64> = runs(&d).map(|r| (f.get)(&r[key])).collect();
                let ratio = ours
                    .as_ref()
                    .filter(|_| ratios)
                    .map(|o| ratio_values(&runs(o).map(f.get).collect::<Vec<_>>(), &theirs));
                rows.push(Row {
                    scenario: peer_scenario(scenario, label),
                    // Which server: said once per block.
                    metric: if i == 0 {
                        format!("{}; {who}", f.metric)
                    } else {
                        f.metric.clone()
                    },
                    values: theirs,
                    unit: f.unit,
                    minimum: "–".into(),
                    goal: "–".into(),
                    meets: |_| (true, true),
                });
                if let Some(values) = ratio {
                    let better = if f.higher_is_better { "above" } else { "below" };
                    rows.push(Row {
                        scenario: peer_scenario(scenario, "÷"),
                        metric: format!(
                            "scholia ÷ {label}, {} (scholia better {better} 1)",
                            short(&f.metric)
                        ),
                        values,
                        unit: "×",
                        minimum: "–".into(),
                        goal: "–".into(),
                        meets: |_| (true, true),
                    });
                }
            }
        }
    }
}

fn scholia_row(scenario: &'static str, f: &Figure, values: Vec<f64>) -> Row {
    Row {
        scenario,
        metric: f.metric.clone(),
        values,
        unit: f.unit,
        minimum: f.minimum.into(),
        goal: f.goal.into(),
        meets: f.meets,
    }
}

/// The scenario column of a peer's rows (a `&'static str`, as every row's is).
fn peer_scenario(scenario: &str, label: &str) -> &'static str {
    match (scenario, label) {
        ("S1", "Sockudo") => "S1 Sockudo",
        ("S2", "Sockudo") => "S2 Sockudo",
        ("S1", "÷") => "S1 ÷ Sockudo",
        ("S2", "÷") => "S2 ÷ Sockudo",
        ("S1", _) => "S1 naive",
        _ => "S2 naive",
    }
}

/// A figure's name without its parenthesised details (kept in the row above the ratio).
fn short(metric: &str) -> &str {
    metric
        .split(" (")
        .next()
        .unwrap_or(metric)
        .trim_end_matches(':')
}

/// A ratio of two sets of runs that were not paired: the ratio of the medians, and as its range
/// the extremes (lowest ÷ highest, highest ÷ lowest). Returned as those three values, whose
/// median and range are themselves, so the row prints like every other.
fn ratio_values(ours: &[f64], theirs: &[f64]) -> Vec<f64> {
    let ((m, lo, hi), (tm, tlo, thi)) = (median_range(ours), median_range(theirs));
    vec![lo / thi, m / tm, hi / tlo]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ratios_span_the_extremes_of_unpaired_runs() {
        let v = ratio_values(&[2.0, 4.0, 3.0], &[1.0, 2.0, 4.0]);
        assert_eq!(v, vec![0.5, 1.5, 4.0]);
        assert_eq!(median_range(&v), (1.5, 0.5, 4.0));
    }

    #[test]
    fn the_best_step_is_the_fastest_sustained_one() {
        let step = |rate: f64, p99_ms: f64| {
            json!({"rate": rate, "dropped": 0, "deliveries_per_sec": rate * 10_000.0,
                   "last_socket_us": {"p50": 1000.0, "p99": p99_ms * 1000.0}})
        };
        let s2 = json!({"steps": [step(10.0, 4.0), step(20.0, 60.0), step(40.0, 300.0)]});
        assert_eq!(s2_best(&s2).unwrap()["rate"], 20.0);
        assert_eq!(low(&s2, "p99"), 4.0);
        assert!(s2_best(&json!({"steps": [step(10.0, 500.0)]})).is_none());
        // Past the latency bound, the ladder's throughput figure takes the fastest step that
        // kept up (within 1 s).
        assert_eq!(s2_most(&s2, kept_up).unwrap()["rate"], 40.0);
        let slow = json!({"steps": [step(10.0, 500.0), step(20.0, 1500.0)],
                          "page": {"last_socket_us": {"p50": 2000.0, "p99": 9000.0}}});
        assert_eq!(s2_most(&slow, kept_up).unwrap()["rate"], 10.0);
        assert_eq!(page(&slow, "p99"), 9.0);
    }
}
