//! One scenario's runs: a calibration probe, the scenario with its parameters, and its JSON
//! result file. Kept apart from the command line in `lib.rs`.

use serde_json::{Value, json};

use super::driver::Placement;
use super::{calibrate, report, s7, scenarios, soak};

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
