//! Annotations posted through the HTTP API the way a client would, at a fixed rate, each
//! stamped with the time it was sent.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::sync::Semaphore;

use super::driver::Server;
use super::hist::Histogram;
use super::wsclient::now_ns;

/// The body of a stamped annotation on `uri`, padded to about `text_bytes` of text.
pub fn annotation_body(uri: &str, text_bytes: usize) -> Value {
    body_via(uri, text_bytes, None)
}

/// As [`annotation_body`], tagged `bnode:<j>` with the node it is posted through (S7), so a
/// receiving worker can tell cross-node deliveries.
fn body_via(uri: &str, text_bytes: usize, node: Option<usize>) -> Value {
    let via = node.map(|j| format!("bnode:{j};")).unwrap_or_default();
    json!({
        "uri": uri,
        "text": format!("bstamp:{};{via}{}", now_ns(), "x".repeat(text_bytes)),
        "tags": ["bench"],
        "group": "__world__",
        "permissions": {"read": ["group:__world__"]},
        "target": [{"source": uri, "selector": [
            {"type": "TextQuoteSelector", "exact": "a quoted passage", "prefix": "before ", "suffix": " after"},
            {"type": "TextPositionSelector", "start": 100, "end": 116}]}],
        "document": {"title": ["Benchmark document"], "link": [{"href": uri}]},
    })
}

/// What a paced run of POSTs gave.
#[derive(Default)]
pub struct Posted {
    pub ok: u64,
    pub errors: u64,
    /// POST response times, ns.
    pub latency: Histogram,
    pub secs: f64,
}

/// POSTs `count` annotations at `rate` per second (open loop: a slow response does not delay
/// the next request; at most 512 in flight). `uri_of(k)` picks each one's URI.
pub async fn post_paced(
    server: &Server,
    rate: f64,
    count: usize,
    text_bytes: usize,
    uri_of: impl Fn(usize) -> String,
) -> Posted {
    post_paced_over(&[server], rate, count, text_bytes, uri_of).await
}

/// As [`post_paced`], POST k going through `servers[k % n]` (round-robin over a cluster's
/// nodes); with several nodes each is tagged with the node's index.
pub async fn post_paced_over(
    servers: &[&Server],
    rate: f64,
    count: usize,
    text_bytes: usize,
    uri_of: impl Fn(usize) -> String,
) -> Posted {
    paced(rate, count, |k| {
        let j = k % servers.len();
        let server = servers[j];
        let node = (servers.len() > 1).then_some(j);
        server
            .http
            .post(server.url("/api/annotations"))
            .bearer_auth(&server.token)
            .json(&body_via(&uri_of(k), text_bytes, node))
    })
    .await
}

/// Sends `count` requests at `rate` per second, open loop (a slow response does not delay the
/// next request; at most 512 in flight). `request(k)` builds request k when it is due, so a
/// stamp it takes is the time of sending. Shared by the scholia POSTs and the peers' publish
/// APIs, so every server is driven by the same pacer.
pub async fn paced(
    rate: f64,
    count: usize,
    mut request: impl FnMut(usize) -> reqwest::RequestBuilder,
) -> Posted {
    let gate = Arc::new(Semaphore::new(512));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(count);
    for k in 0..count {
        let due = started + Duration::from_secs_f64(k as f64 / rate);
        tokio::time::sleep_until(due.into()).await;
        let permit = gate.clone().acquire_owned().await;
        let req = request(k);
        tasks.push(tokio::spawn(async move {
            let t0 = Instant::now();
            let ok = req.send().await.is_ok_and(|r| r.status().is_success());
            drop(permit);
            (ok, t0.elapsed().as_nanos() as u64)
        }));
    }
    let mut out = Posted::default();
    for t in tasks {
        match t.await {
            Ok((ok, ns)) => {
                out.latency.record(ns);
                if ok { out.ok += 1 } else { out.errors += 1 }
            }
            Err(_) => out.errors += 1,
        }
    }
    out.secs = started.elapsed().as_secs_f64();
    out
}
