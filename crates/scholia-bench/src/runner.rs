//! One scenario's runs: a calibration probe, the scenario with its parameters, and its JSON
//! result file. Kept apart from the command line in `lib.rs`.

use serde_json::{Value, json};

use super::driver::Placement;
use super::{Scenario, calibrate, report, resume, s7, scenarios, soak};

pub(super) async fn scenario(
    name: &str,
    p: &Value,
    place: &Placement,
    runs: usize,
    out: &std::path::Path,
    postgres: &str,
) -> anyhow::Result<()> {
    let f = |k: &str| p[k].as_f64().unwrap_or(0.0);
    let list = |k: &str| -> Vec<f64> {
        p[k].as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_f64)
            .collect()
    };
    let mut results = vec![];
    for r in 1..=runs {
        eprintln!("{name}: run {r} of {runs} ({p})");
        let calibration = calibrate::run(place).await?;
        let mut v = match name {
            "s1" => scenarios::s1(place, f("conns") as usize).await?,
            "s2" => scenarios::s2(place, f("conns") as usize, &list("rates"), f("secs")).await?,
            "s3" => {
                let counts: Vec<usize> = list("counts").into_iter().map(|c| c as usize).collect();
                scenarios::s3(place, &counts, f("events") as u64, f("paced")).await?
            }
            "s4" | "s4pg" => {
                let pg = (name == "s4pg").then_some(postgres);
                let mut steps = vec![];
                for rate in list("rates") {
                    let conns = f("conns") as usize;
                    steps.push(scenarios::s4(place, conns, rate, f("secs"), pg).await?);
                }
                json!({"steps": steps})
            }
            "s7" => {
                let sizes = s7::S7 {
                    postgres: postgres.to_owned(),
                    bus: p["bus"].as_str().unwrap_or("nats").to_owned(),
                    per_node: f("per_node") as usize,
                    rate: f("rate"),
                    secs: f("secs"),
                    ramp: list("ramp"),
                    ramp_secs: f("ramp_secs"),
                };
                s7::s7(place, &sizes).await?
            }
            "s5" => {
                scenarios::s5(
                    place,
                    f("idle") as usize,
                    f("concurrency") as usize,
                    f("secs"),
                )
                .await?
            }
            "resume" => resume::resume(place, f("changes") as usize, f("rounds") as usize).await?,
            "s6" => {
                let conns = f("conns") as usize;
                let clean = scenarios::s6(place, conns, 0, f("rate"), f("secs")).await?;
                let slow = scenarios::s6(place, conns, conns / 100, f("rate"), f("secs")).await?;
                json!({"clean": clean, "slow": slow})
            }
            "soak" => {
                let shape = soak::Soak {
                    conns: f("conns") as usize,
                    rate: f("rate"),
                    secs: f("secs"),
                    window_secs: f("window_secs"),
                    slow: f("slow") as usize,
                    churn: f("churn") as usize,
                    churn_rate: f("churn_rate"),
                };
                soak::soak(place, &shape).await?
            }
            _ => anyhow::bail!("unknown scenario {name}"),
        };
        v["calibration"] = calibration;
        // S7's result is long (three nodes, every ramp step): its phases printed their lines.
        if name != "s7" && name != "soak" {
            eprintln!("{name}: run {r}: {v}");
        }
        results.push(v);
    }
    std::fs::create_dir_all(out)?;
    let doc =
        json!({"scenario": name, "params": p, "machine": report::machine(place), "runs": results});
    let path = out.join(format!("{name}.json"));
    std::fs::write(&path, serde_json::to_string_pretty(&doc)?)?;
    eprintln!("{name}: wrote {}", path.display());
    Ok(())
}

/// A scenario's name and parameters as JSON (kept in its result file).
pub(super) fn params_of(s: &Scenario) -> (&'static str, Value) {
    match s {
        Scenario::S1 { conns } => ("s1", json!({"conns": conns})),
        Scenario::S2 { conns, rates, secs } => {
            ("s2", json!({"conns": conns, "rates": rates, "secs": secs}))
        }
        Scenario::Peers {
            s1_conns,
            conns,
            rates,
            secs,
        } => (
            "peers",
            json!({"s1": {"conns": s1_conns},
                   "s2": {"conns": conns, "rates": rates, "secs": secs}}),
        ),
        Scenario::S3 {
            counts,
            events,
            paced,
        } => (
            "s3",
            json!({"counts": counts, "events": events, "paced": paced}),
        ),
        Scenario::S4 {
            conns,
            rates,
            secs,
            database,
        } => (
            if database == "postgres" { "s4pg" } else { "s4" },
            json!({"conns": conns, "rates": rates, "secs": secs, "database": database}),
        ),
        Scenario::S5 {
            idle,
            concurrency,
            secs,
        } => (
            "s5",
            json!({"idle": idle, "concurrency": concurrency, "secs": secs}),
        ),
        Scenario::Resume { changes, rounds } => {
            ("resume", json!({"changes": changes, "rounds": rounds}))
        }
        Scenario::S6 { conns, rate, secs } => {
            ("s6", json!({"conns": conns, "rate": rate, "secs": secs}))
        }
        Scenario::S7 {
            quick: true, bus, ..
        } => (
            "s7",
            json!({"per_node": 200, "rate": 50.0, "secs": 5.0, "bus": bus,
                   "ramp": [50.0, 100.0], "ramp_secs": 2.0}),
        ),
        Scenario::S7 {
            per_node,
            rate,
            secs,
            bus,
            ramp,
            ramp_secs,
            ..
        } => (
            "s7",
            json!({"per_node": per_node, "rate": rate, "secs": secs, "bus": bus,
                   "ramp": ramp, "ramp_secs": ramp_secs}),
        ),
        Scenario::Soak {
            conns,
            rate,
            secs,
            window_secs,
            slow,
            churn,
            churn_rate,
        } => (
            "soak",
            json!({"conns": conns, "rate": rate, "secs": secs, "window_secs": window_secs,
                   "slow": slow, "churn": churn, "churn_rate": churn_rate}),
        ),
        _ => ("", Value::Null),
    }
}

pub(super) fn default_of(name: &str) -> Value {
    use clap::Parser;
    #[derive(Parser)]
    struct Wrap {
        #[command(subcommand)]
        s: Scenario,
    }
    Wrap::try_parse_from(["bench", name])
        .map(|w| params_of(&w.s).1)
        .unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `all` runs S2 and the peers with the same ladder, S1's socket count for the peers' S1.
    #[test]
    fn all_runs_the_peers_with_scholias_sizes() {
        let (s1, s2, peers) = (default_of("s1"), default_of("s2"), default_of("peers"));
        assert_eq!(s2["rates"].as_array().map(Vec::len), Some(8));
        assert_eq!(peers["s2"]["rates"], s2["rates"]);
        assert_eq!(peers["s2"]["conns"], s2["conns"]);
        assert_eq!(peers["s2"]["secs"], s2["secs"]);
        assert_eq!(peers["s1"]["conns"], s1["conns"]);
    }
}
