//! The one entry point of a committed write: [`Announcer::announce`]. Every kind of change goes
//! this way (creates, updates, deletes, moderation, group joins and leaves), each with the
//! change-log row its transaction appended and, for a create, what the write already knew for
//! routing it, so the hub reads none of it back.

use std::sync::Arc;

use tokio::sync::mpsc;

use super::Watermark;
use super::feed::ChangeFeed;
use crate::domain::Annotation;
use crate::render::Related;
use crate::store::{Change, RoutingFacts};

/// Announcements that may wait for the hub. Past this the hub is far behind; an announcement
/// that finds no room is dropped and its change is read from the log instead (the hub finds
/// the gap with the next one, or on its next poll).
pub(super) const INBOX: usize = 4096;

/// What a create's request and transaction already knew about the new annotation: everything
/// routing its event needs besides current viewer state.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Known {
    /// The annotation as stored.
    pub annotation: Annotation,
    /// What rendering needs besides the annotation (author, group, document title).
    pub related: Related,
    /// The URI expansion and checkpoint, read in the create's own transaction.
    pub routing: RoutingFacts,
}

/// One committed change, as the write hands it to the hub.
#[derive(Clone, Debug)]
pub struct Announcement {
    pub change: Change,
    /// Boxed: most announcements carry none, and the inbox holds announcements by value.
    pub known: Option<Box<Known>>,
}

impl Announcement {
    /// A change the hub routes from the store (an update, delete, moderation, membership).
    pub fn change(change: Change) -> Announcement {
        Announcement {
            change,
            known: None,
        }
    }

    /// A create, with what its write knew.
    pub fn create(change: Change, known: Known) -> Announcement {
        Announcement {
            change,
            known: Some(Box::new(known)),
        }
    }
}

/// The writes' end of the path to the hub: this node's hub in process, other nodes through the
/// change feed. Cheap to clone.
#[derive(Clone)]
pub struct Announcer {
    inbox: mpsc::Sender<Announcement>,
    feed: Arc<dyn ChangeFeed>,
    watermark: Watermark,
}

impl Announcer {
    pub(super) fn new(
        inbox: mpsc::Sender<Announcement>,
        feed: Arc<dyn ChangeFeed>,
        watermark: Watermark,
    ) -> Announcer {
        Announcer {
            inbox,
            feed,
            watermark,
        }
    }

    /// Hands a committed change to the hub, then tells the feed. Never fails: the change is in
    /// the log, so whatever does not arrive here is read from there.
    pub async fn announce(&self, announcement: Announcement) {
        let change = announcement.change.clone();
        // Kept for the feed only when it will carry it (a clone of the annotation per write).
        let known = match self.feed.carries_known() {
            true => announcement.known.clone(),
            false => None,
        };
        // Before the write answers: a socket that subscribes after that never gets this change.
        self.watermark.raise(change.seq);
        if let Err(e) = self.inbox.try_send(announcement) {
            // Full: the hub is behind and will find this change in the log. Closed: the server
            // is stopping.
            metrics::counter!("scholia_announce_dropped_total").increment(1);
            tracing::debug!(seq = change.seq, error = %e, "announcement left to the change log");
        }
        if let Err(e) = self.feed.publish(&change, known.as_deref()).await {
            // Per write, so at debug: the engine logs when it goes down and comes back.
            metrics::counter!("scholia_feed_publish_errors_total").increment(1);
            tracing::debug!(seq = change.seq, engine = self.feed.engine(), error = %e,
                "the change feed refused a change; other nodes will read it from the log");
        }
    }

    /// The change feed's engine and whether it is connected, for `/_status` and `/metrics`.
    pub fn feed_state(&self) -> (&'static str, bool) {
        (self.feed.engine(), self.feed.is_up())
    }
}

/// Routes an event built in memory at once, outside the log's order and without the store: the
/// in-process publish path load tests measure routing with (`serve --bench-endpoints`). Returns
/// how many sockets were handed a frame.
pub trait Inject: Send + Sync {
    fn inject(&self, change: &Change, known: Known) -> u64;
}
