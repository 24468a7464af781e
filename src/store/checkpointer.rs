//! WAL checkpoints off the write path (SQLite only).
//!
//! SQLite otherwise checkpoints inside the commit that pushes the WAL past 1000 pages; with one
//! writing connection, that commit and every write queued behind it wait for the page copy and
//! its two fsyncs, a stall of several milliseconds every few hundred writes. So the writer's
//! connection has automatic checkpoints off ([`super::Db::for_writer`]), and this task copies
//! the WAL back with passive checkpoints, which never block a writer, on a pooled connection.
//!
//! A passive checkpoint cannot rewind the WAL, though: SQLite restarts it from the beginning
//! only when a writer begins while every frame is already copied, and under steady writes that
//! never happens by chance, so the file would grow without end. When the WAL has grown past
//! [`RESTART_FRAMES`], this task copies it once more and then asks the writer ([`Restart`]) to
//! checkpoint on its own connection between two groups. Nearly everything is copied by then,
//! so the writer's pause is short, and its next transaction restarts the WAL.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::Db;

/// How often the WAL is copied back into the database while the writer is writing. Short, so
/// each pass is small: a pass is CPU work on the server's core (S4 at 600 POST/s: p99 about
/// 5 ms with 50 ms passes, 5 to 9 ms with 250 ms passes).
const INTERVAL: Duration = Duration::from_millis(50);
/// WAL frames (pages) beyond which the writer is asked to let the WAL restart, about 40 MB.
/// Each restart pauses the writer for its final checkpoint, whose two fsyncs took 1.2-4.1 ms
/// (median 2.7) at 1,000 POST/s; at SQLite's own threshold of 1,000 frames that was 13 pauses
/// a second, which put about one POST in a hundred behind one. At 10,000 it is 2 a second.
const RESTART_FRAMES: i64 = 10_000;

/// What the writer and this task tell each other.
#[derive(Debug, Default)]
pub struct Restart {
    /// Set when the writer should checkpoint between groups so that the WAL restarts.
    wanted: AtomicBool,
    /// Groups the writer has committed, so an idle server runs no passes.
    groups: AtomicU64,
}

impl Restart {
    /// Whether a restart was asked for since the last call.
    pub fn take(&self) -> bool {
        self.wanted.swap(false, Ordering::AcqRel)
    }

    /// The writer committed a group.
    pub fn committed(&self) {
        self.groups.fetch_add(1, Ordering::Release);
    }
}

/// The checkpoint the writer runs when asked, on its own connection.
pub const WRITER_CHECKPOINT: &str = "PRAGMA wal_checkpoint(PASSIVE)";

/// One passive checkpoint; returns the number of frames in the WAL.
async fn passive(pool: &sqlx::SqlitePool) -> Result<i64, sqlx::Error> {
    // (busy, frames in the WAL, frames copied)
    let (_, frames, _): (i64, i64, i64) = sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)")
        .fetch_one(pool)
        .await?;
    Ok(frames)
}

/// Checkpoints until `shutdown`, then once more so the WAL is left small.
pub async fn run(db: Db, restart: Arc<Restart>, shutdown: CancellationToken) {
    let Db::Sqlite(pool) = db else { return };
    let mut seen = 0;
    loop {
        let stop = tokio::select! {
            _ = shutdown.cancelled() => true,
            _ = tokio::time::sleep(INTERVAL) => false,
        };
        let groups = restart.groups.load(Ordering::Acquire);
        if groups == seen && !stop {
            continue;
        }
        seen = groups;
        match passive(&pool).await {
            // A second pass copies what was written during the first, so the writer is left
            // only the last few milliseconds' frames to copy and fsync (fsync time grows with
            // the pages it flushes: about 7.5 ms per 1000 pages on our machines).
            Ok(frames) if frames > RESTART_FRAMES => {
                if passive(&pool).await.is_ok() {
                    restart.wanted.store(true, Ordering::Release);
                }
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "WAL checkpoint failed; retrying"),
        }
        if stop {
            return;
        }
    }
}
