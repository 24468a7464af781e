//! Keeps the resume cursor of every client id in the database, so that a client that knows
//! nothing of `seq` (the official Hypothesis client) is replayed what it missed when it comes
//! back, after a disconnect, a restart, or on another node.
//!
//! Cursors are read from the registry (see `registry/resume.rs` for what one promises) and
//! written every `cursor_flush`, only those that moved, plus those about to expire; a socket's
//! last cursor is written on the pass after it closes, and once more as the server stops, after
//! its sockets have closed. A kill -9 loses at most the last interval's moves, so a client's
//! cursor can only be behind what it has, which costs duplicates (the client upserts by id),
//! never a gap.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::registry::Registry;
use crate::domain::time::now_micros;
use crate::store::Db;

/// What was last written for each key, and when (microseconds).
type Saved = HashMap<(String, String), (i64, i64)>;

/// Writes cursors every `every` until `stop`, then once more (for the sockets that closed on
/// the way down) and returns.
pub async fn run(
    registry: Arc<Registry>,
    db: Db,
    every: Duration,
    ttl: Duration,
    stop: CancellationToken,
) {
    let mut saved = Saved::new();
    loop {
        let stopping = tokio::select! {
            _ = stop.cancelled() => true,
            _ = tokio::time::sleep(every) => false,
        };
        flush(&registry, &db, ttl, &mut saved).await;
        if stopping {
            return;
        }
    }
}

/// Cursors written by one pass at most: on a busy server every client's cursor moves every
/// second, and the rest wait for the next pass (the oldest writes go first), which can only
/// cost duplicates.
const MAX_PER_PASS: usize = 5_000;

/// One pass: writes the cursors that moved, or whose last write is a third of `ttl` old (so an
/// idle client's cursor does not expire while it is connected).
async fn flush(registry: &Registry, db: &Db, ttl: Duration, saved: &mut Saved) {
    let now = now_micros();
    let refresh_before = now - (ttl / 3).as_micros() as i64;
    let mut next = Saved::new();
    // (when last written, key, seq) of each cursor to write.
    let mut due = Vec::new();
    for c in registry.cursors() {
        let key = (c.client_id, c.userid);
        let prev = saved.get(&key).copied();
        match prev.filter(|&(seq, at)| seq == c.seq && at >= refresh_before) {
            Some(kept) => {
                next.insert(key, kept);
            }
            None => due.push((prev.map_or(0, |(_, at)| at), key, c.seq)),
        }
    }
    due.sort_by_key(|d| d.0);
    let later = due.split_off(due.len().min(MAX_PER_PASS));
    for (_, key, _) in later {
        // Not written this pass: kept as it was, so the next pass sees it again.
        if let Some(prev) = saved.get(&key) {
            next.insert(key, *prev);
        }
    }
    if due.is_empty() {
        *saved = next;
        return;
    }
    let write: Vec<(String, String, i64)> = due
        .iter()
        .map(|(_, (c, u), seq)| (c.clone(), u.clone(), *seq))
        .collect();
    match db.save_ws_cursors(&write, now).await {
        Ok(()) => {
            metrics::counter!("scholia_ws_cursors_written_total").increment(write.len() as u64);
            for (_, key, seq) in due {
                next.insert(key, (seq, now));
            }
            *saved = next;
        }
        // Kept as they were, so the next pass writes them again.
        Err(e) => {
            tracing::warn!(error = %e, cursors = write.len(), "could not write resume cursors")
        }
    }
}
