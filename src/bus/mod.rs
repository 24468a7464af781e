//! How committed changes reach the hub, on one node or several (architecture: "The path of one
//! event", steps 2 and 3).
//!
//! - [`announce`]: the one entry point a committed write calls ([`Announcer::announce`]), with
//!   the change and whatever the write already knew for routing it.
//! - [`feed`]: the change feed, the seam between nodes: an engine's only promise is "changes up
//!   to seq N exist" (and, where it carries it, the change itself). It may lose, repeat, delay
//!   or reorder; the change log may not. Engines: local (one process), [`postgres`]
//!   (LISTEN/NOTIFY) and [`nats`].
//! - [`sequencer`]: the hub's end: announcements, feed notices and the change log merged into
//!   one stream in `seq` order, with no gap (gaps and silences are filled by reading the log, in
//!   the one function that reads it).
//!
//! Nothing here knows the HTTP API or the Real Time API: a write announces through this module
//! and the hub consumes it.

pub mod announce;
pub mod feed;
pub mod nats;
pub mod postgres;
pub mod sequencer;
mod wire;

pub use announce::{Announcement, Announcer, Inject, Known};
pub use feed::{ChangeFeed, FeedError, LocalFeed, Notice};
pub use sequencer::{Sequenced, Sequencer};

/// The newest seq this node knows to be committed: raised by every local announcement before
/// its write answers, and by the sequencer as it hands changes on. A subscription made now
/// starts after it, so a write that returned before a socket subscribed never reaches that
/// socket (on other nodes the boundary blurs by the feed's latency). Cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct Watermark(std::sync::Arc<std::sync::atomic::AtomicI64>);

impl Watermark {
    pub fn new(seq: i64) -> Watermark {
        Watermark(std::sync::Arc::new(std::sync::atomic::AtomicI64::new(seq)))
    }

    pub fn raise(&self, seq: i64) {
        self.0.fetch_max(seq, std::sync::atomic::Ordering::AcqRel);
    }

    pub fn get(&self) -> i64 {
        self.0.load(std::sync::atomic::Ordering::Acquire)
    }
}

/// Builds the two ends for a node whose log ends at `watermark`: the [`Announcer`] writes call
/// and the [`Sequencer`] the hub reads, joined in process and by `feed` across nodes; the hub
/// reads the log after `poll` with nothing heard.
pub async fn connect(
    db: crate::store::Db,
    feed: std::sync::Arc<dyn ChangeFeed>,
    watermark: Watermark,
    poll: std::time::Duration,
) -> Result<(Announcer, Sequencer), FeedError> {
    let (tx, rx) = tokio::sync::mpsc::channel(announce::INBOX);
    let notices = feed.subscribe().await?;
    let announcer = Announcer::new(tx, feed.clone(), watermark.clone());
    let sequencer = Sequencer::new(db, rx, notices, watermark, poll);
    Ok((announcer, sequencer))
}
