//! The plot in `docs/benchmarks.svg`: delivery-latency distributions (S2, S4, S6) on the left,
//! routing throughput and CPU per event against connection count (S3) on the right. Plain SVG
//! written by hand: two small charts do not justify a plotting dependency.

use std::fmt::Write as _;
use std::path::Path;

use serde_json::Value;

use super::report::load;

const W: f64 = 460.0;
const H: f64 = 300.0;
const PAD: f64 = 50.0;
const COLOURS: [&str; 7] = [
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#7f7f7f",
];

fn first_run(dir: &Path, name: &str) -> Option<Value> {
    load(dir, name).and_then(|d| d["runs"].get(0).cloned())
}

/// (label, [(quantile, µs)]) for each latency distribution found.
fn curves(dir: &Path) -> Vec<(String, Vec<(f64, f64)>)> {
    let mut out = vec![];
    let mut add = |label: &str, v: &Value| {
        let pts: Vec<(f64, f64)> = v["curve"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| Some((p[0].as_f64()?, p[1].as_f64()?)))
            .filter(|(_, us)| *us > 0.0)
            .collect();
        if !pts.is_empty() {
            out.push((label.to_owned(), pts));
        }
    };
    if let Some(r) = first_run(dir, "s4") {
        for step in r["steps"].as_array().into_iter().flatten() {
            let rate = step["rate"].as_f64().unwrap_or(0.0);
            add(
                &format!("S4 POST→frame, {rate:.0} POST/s"),
                &step["latency_us"],
            );
        }
    }
    // The step the table reports: the fastest one sustained.
    if let Some(r) = first_run(dir, "s2")
        && let Some(step) = super::table_broadcast::s2_best(&r)
    {
        add(
            &format!(
                "S2 broadcast {:.0} ev/s",
                step["rate"].as_f64().unwrap_or(0.0)
            ),
            &step["latency_us"],
        );
    }
    // The peers' S2 at their own best sustained step, beside scholia's.
    for (name, label) in [("peer_sockudo", "Sockudo"), ("peer_naive", "naive")] {
        if let Some(r) = first_run(dir, name)
            && let Some(step) = super::table_broadcast::s2_best(&r["s2"])
        {
            let rate = step["rate"].as_f64().unwrap_or(0.0);
            add(
                &format!("{label} broadcast {rate:.0} ev/s"),
                &step["latency_us"],
            );
        }
    }
    if let Some(r) = first_run(dir, "s6") {
        add("S6 clean", &r["clean"]["latency_us"]);
        add("S6 1% not reading", &r["slow"]["latency_us"]);
    }
    out
}

fn axis(svg: &mut String, x0: f64, title: &str, xlabel: &str, ylabel: &str) {
    let _ = write!(
        svg,
        r#"<g font-family="sans-serif" font-size="11"><text x="{}" y="18" font-size="13" text-anchor="middle">{title}</text>
<line x1="{x0p}" y1="{yb}" x2="{xr}" y2="{yb}" stroke="black"/><line x1="{x0p}" y1="{yt}" x2="{x0p}" y2="{yb}" stroke="black"/>
<text x="{}" y="{}" text-anchor="middle">{xlabel}</text><text x="{}" y="{}" transform="rotate(-90 {} {})" text-anchor="middle">{ylabel}</text></g>
"#,
        x0 + W / 2.0,
        x0 + W / 2.0,
        H - 8.0,
        x0 + 14.0,
        H / 2.0,
        x0 + 14.0,
        H / 2.0,
        x0p = x0 + PAD,
        xr = x0 + W - 10.0,
        yt = 30.0,
        yb = H - PAD,
    );
}

pub fn plot(dir: &Path) -> anyhow::Result<String> {
    let mut svg = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{H}" viewBox="0 0 {} {H}"><rect width="100%" height="100%" fill="white"/>
"#,
        2.0 * W,
        2.0 * W
    );
    // Left: latency (log x, 1 µs .. 10 s) against percentile (linear y, 0..100).
    axis(
        &mut svg,
        0.0,
        "Delivery latency distribution",
        "latency (log scale)",
        "percentile",
    );
    let (lx0, lx1, ly0, ly1) = (PAD, W - 10.0, H - PAD, 30.0);
    let xs = |us: f64| lx0 + (us.max(1.0).log10() / 7.0).min(1.0) * (lx1 - lx0);
    let ys = |q: f64| ly0 - q * (ly0 - ly1);
    for (i, label) in ["1µs", "10µs", "100µs", "1ms", "10ms", "100ms", "1s", "10s"]
        .iter()
        .enumerate()
    {
        let x = lx0 + i as f64 / 7.0 * (lx1 - lx0);
        let _ = write!(
            svg,
            r##"<text x="{x}" y="{}" font-size="10" font-family="sans-serif" text-anchor="middle">{label}</text><line x1="{x}" y1="{ly1}" x2="{x}" y2="{ly0}" stroke="#ddd"/>"##,
            ly0 + 14.0
        );
    }
    for q in [0.0, 0.5, 0.9, 1.0] {
        let y = ys(q);
        let _ = write!(
            svg,
            r#"<text x="{}" y="{}" font-size="10" font-family="sans-serif" text-anchor="end">{}</text>"#,
            lx0 - 4.0,
            y + 3.0,
            q * 100.0
        );
    }
    for (i, (label, pts)) in curves(dir).iter().enumerate() {
        let c = COLOURS[i % COLOURS.len()];
        let path: Vec<String> = pts
            .iter()
            .map(|(q, us)| format!("{:.1},{:.1}", xs(*us), ys(*q)))
            .collect();
        let _ = write!(
            svg,
            r#"<polyline fill="none" stroke="{c}" stroke-width="2" points="{}"/>"#,
            path.join(" ")
        );
        let _ = write!(
            svg,
            r#"<text x="{}" y="{}" font-size="10" font-family="sans-serif" fill="{c}">{label}</text>"#,
            lx0 + 6.0,
            ly1 + 12.0 + 12.0 * i as f64
        );
    }
    // Right: S3 routed events/s and CPU µs per event against sockets.
    axis(
        &mut svg,
        W,
        "S3: routing against connection count",
        "connected sockets",
        "events/s unpaced (bars); CPU µs/event at 20k/s (line)",
    );
    if let Some(r) = first_run(dir, "s3") {
        let pts: Vec<(f64, f64, f64)> = r["points"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| {
                Some((
                    p["sockets"].as_f64()?,
                    p["routed_per_sec"].as_f64()?,
                    p["paced_cpu_us_per_event"].as_f64()?,
                ))
            })
            .collect();
        let max_rate = pts.iter().map(|p| p.1).fold(1.0, f64::max);
        let max_cpu = pts.iter().map(|p| p.2).fold(1e-9, f64::max);
        let (x0, x1, y0, y1) = (W + PAD, 2.0 * W - 10.0, H - PAD, 40.0);
        let slot = (x1 - x0) / pts.len().max(1) as f64;
        let mut line = vec![];
        for (i, (n, rate, cpu)) in pts.iter().enumerate() {
            let cx = x0 + slot * (i as f64 + 0.5);
            let h = rate / max_rate * (y0 - y1);
            let _ = write!(
                svg,
                r#"<rect x="{}" y="{}" width="{}" height="{h}" fill="{}" opacity="0.6"/>"#,
                cx - slot * 0.3,
                y0 - h,
                slot * 0.6,
                COLOURS[0]
            );
            let _ = write!(
                svg,
                r#"<text x="{cx}" y="{}" font-size="10" font-family="sans-serif" text-anchor="middle">{n}</text><text x="{cx}" y="{}" font-size="10" font-family="sans-serif" text-anchor="middle">{:.0}k/s</text>"#,
                y0 + 14.0,
                y0 - h - 4.0,
                rate / 1000.0
            );
            let cy = y0 - cpu / max_cpu * (y0 - y1) * 0.9;
            line.push(format!("{cx:.1},{cy:.1}"));
            let _ = write!(
                svg,
                r#"<text x="{}" y="{}" font-size="10" font-family="sans-serif" fill="{}">{cpu:.1} µs</text>"#,
                cx + 6.0,
                cy - 4.0,
                COLOURS[1]
            );
        }
        let _ = write!(
            svg,
            r#"<polyline fill="none" stroke="{}" stroke-width="2" points="{}"/>"#,
            COLOURS[1],
            line.join(" ")
        );
    }
    svg.push_str("</svg>\n");
    Ok(svg)
}
