//! The resume benchmark (issue 16): how long one client takes to be replayed N missed changes
//! (`"since"` on its filter, up to `resumed`), and the server CPU that costs. N creates are
//! posted on one URI (at 800/s), then each run opens a fresh socket that asks for all of them;
//! the first frame's and `resumed`'s arrival times and the server's CPU before and after are
//! taken, with nothing else going on.

use std::time::Instant;

use serde_json::{Value, json};

use crate::driver::{Placement, Server};
use crate::post::post_paced;
use crate::proc::median_range;
use crate::wsclient::{Conn, find};

const URI: &str = "https://resume.bench.example/page";

/// Posts `changes` creates, then replays them to `rounds` fresh sockets, one after another.
pub async fn resume(place: &Placement, changes: usize, rounds: usize) -> anyhow::Result<Value> {
    let server = Server::start(
        place,
        &[("SCHOLIA_WS_REPLAY_MAX", (changes + 100).to_string())],
    )
    .await?;
    let posted = post_paced(&server, 800.0, changes, 200, |_| URI.to_owned()).await;
    anyhow::ensure!(
        posted.errors == 0,
        "{} POSTs failed while seeding",
        posted.errors
    );
    let filter = json!({"filter": {"match_policy": "include_any", "clauses": [
        {"field": "/uri", "operator": "one_of", "value": [URI]}], "actions": {}}, "since": 0})
    .to_string();
    let (mut wall_ms, mut first_ms, mut cpu_ms) = (vec![], vec![], vec![]);
    let mut replayed = 0;
    for _ in 0..rounds {
        let mut conn = Conn::connect(server.addr, None, "/ws").await?;
        let cpu_before = server.cpu();
        let started = Instant::now();
        conn.send_text(&filter).await?;
        let (mut events, mut first, mut done) = (0usize, None, false);
        while !done {
            let open = conn
                .next_frame(|_, payload| {
                    if find(payload, b"\"type\":\"resumed\"").is_some() {
                        done = true;
                    } else if find(payload, b"annotation-notification").is_some() {
                        events += 1;
                        first.get_or_insert_with(|| started.elapsed());
                    }
                })
                .await?;
            anyhow::ensure!(open, "the server closed the socket during the replay");
        }
        wall_ms.push(started.elapsed().as_secs_f64() * 1e3);
        first_ms.push(first.unwrap_or_default().as_secs_f64() * 1e3);
        cpu_ms.push((server.cpu() - cpu_before) * 1e3);
        replayed = events;
        let _ = conn.close().await;
    }
    let (w, wlo, whi) = median_range(&wall_ms);
    let (f, flo, fhi) = median_range(&first_ms);
    let (c, clo, chi) = median_range(&cpu_ms);
    eprintln!(
        "resume: {replayed} events replayed in {w:.0} ms [{wlo:.0}–{whi:.0}], first after {f:.1} ms \
         [{flo:.1}–{fhi:.1}], \
         server CPU {c:.0} ms [{clo:.0}–{chi:.0}] = {:.1} µs per event",
        c * 1e3 / replayed.max(1) as f64
    );
    Ok(json!({
        "changes": changes,
        "replayed": replayed,
        "wall_ms": wall_ms,
        "first_ms": first_ms,
        "cpu_ms": cpu_ms,
    }))
}
