//! Reads the change log in `seq` order and publishes each new row on the bus. Local writes wake
//! it at once; it also polls, so changes made by admin commands in another process are seen
//! within [`POLL_INTERVAL`].

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::Bus;
use crate::store::Db;

/// How often the log is read when no local write wakes the tailer.
pub const POLL_INTERVAL: Duration = Duration::from_millis(200);
const BATCH: i64 = 1000;

/// Publishes every change after `start_seq` until `shutdown`; returns the last seq published.
pub async fn run(
    db: Db,
    bus: Arc<dyn Bus>,
    wake: Arc<Notify>,
    start_seq: i64,
    shutdown: CancellationToken,
) -> i64 {
    let mut last = start_seq;
    loop {
        match db.changes_after(last, BATCH).await {
            Ok(changes) => {
                let full = changes.len() as i64 == BATCH;
                for change in changes {
                    last = change.seq;
                    bus.publish(change);
                }
                if full {
                    continue;
                }
            }
            Err(e) => tracing::warn!(error = %e, "reading the change log failed; retrying"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = wake.notified() => {}
            _ = tokio::time::sleep(POLL_INTERVAL) => {}
        }
    }
    // A last read so changes committed during shutdown are still published.
    if let Ok(changes) = db.changes_after(last, BATCH).await {
        for change in changes {
            last = change.seq;
            bus.publish(change);
        }
    }
    last
}
