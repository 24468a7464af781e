//! Reads the change log in `seq` order and publishes each new row on the bus. A local write
//! hands its committed change straight over ([`Wake::committed`]), so the common case costs no
//! read at all; a gap in what was handed over (another process wrote, or a local writer was
//! slower to hand over than the next), a local write that hands nothing over
//! ([`Wake::written`]), and the regular poll each read the log, so changes made by admin
//! commands in another process are seen within [`POLL_INTERVAL`] and none is ever skipped.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::Bus;
use crate::store::{Change, Db};

/// How often the log is read when no local write wakes the tailer.
pub const POLL_INTERVAL: Duration = Duration::from_millis(200);
const BATCH: i64 = 1000;
/// Hand-overs kept at most while a gap waits to be read; beyond that the oldest are dropped
/// (the log still has them).
const MAX_HANDED: usize = 4096;

/// How local writes reach the tailer.
#[derive(Default)]
pub struct Wake {
    notify: Notify,
    handed: Mutex<BTreeMap<i64, Change>>,
    read_log: AtomicBool,
}

impl Wake {
    /// A local write committed `change`: publish it without reading it back.
    pub fn committed(&self, change: Change) {
        {
            let mut handed = self.handed.lock().unwrap_or_else(|p| p.into_inner());
            handed.insert(change.seq, change);
            while handed.len() > MAX_HANDED {
                handed.pop_first();
            }
        }
        self.notify.notify_one();
    }

    /// A local write committed changes it does not hand over: read the log now.
    pub fn written(&self) {
        self.read_log.store(true, Ordering::Release);
        self.notify.notify_one();
    }

    /// Publishes the hand-overs that follow `last` without a gap. Returns whether any remain
    /// past a gap (the log must be read to fill it).
    fn publish_handed(&self, bus: &dyn Bus, last: &mut i64) -> bool {
        let mut handed = self.handed.lock().unwrap_or_else(|p| p.into_inner());
        while let Some(entry) = handed.first_entry() {
            let seq = *entry.key();
            if seq <= *last {
                entry.remove();
            } else if seq == *last + 1 {
                *last = seq;
                bus.publish(entry.remove());
            } else {
                return true;
            }
        }
        false
    }
}

/// Publishes every change after `last` from the log; returns false if reading failed.
async fn read_log(db: &Db, bus: &dyn Bus, last: &mut i64) -> bool {
    loop {
        match db.changes_after(*last, BATCH).await {
            Ok(changes) => {
                let full = changes.len() as i64 == BATCH;
                for change in changes {
                    *last = change.seq;
                    bus.publish(change);
                }
                if !full {
                    return true;
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "reading the change log failed; retrying");
                return false;
            }
        }
    }
}

/// Publishes every change after `start_seq` until `shutdown`; returns the last seq published.
pub async fn run(
    db: Db,
    bus: Arc<dyn Bus>,
    wake: Arc<Wake>,
    start_seq: i64,
    shutdown: CancellationToken,
) -> i64 {
    let mut last = start_seq;
    let mut must_read = true;
    loop {
        let gap = wake.publish_handed(bus.as_ref(), &mut last);
        if must_read || gap || wake.read_log.swap(false, Ordering::AcqRel) {
            read_log(&db, bus.as_ref(), &mut last).await;
            // What the log just gave may close the gap.
            wake.publish_handed(bus.as_ref(), &mut last);
        }
        must_read = tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = wake.notify.notified() => false,
            _ = tokio::time::sleep(POLL_INTERVAL) => true,
        };
    }
    // A last read so changes committed during shutdown are still published.
    read_log(&db, bus.as_ref(), &mut last).await;
    last
}
