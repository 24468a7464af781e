//! The bus: how committed changes reach the parts of the server that react to them (the
//! realtime hub, caches). The trait lets other implementations (PostgreSQL NOTIFY, NATS) stand in
//! later; [`LocalBus`] is the in-process one every server has.
//!
//! What goes on the bus is read from the change log by [`tailer`], in `seq` order, so events
//! from this process and from admin commands in other processes arrive the same way and none is
//! skipped.

pub mod tailer;

use tokio::sync::broadcast;

use crate::store::Change;

/// A fan-out of committed changes. Delivery is at most once per subscriber (a subscriber that
/// falls behind is told how many it missed and can re-read them from the change log).
pub trait Bus: Send + Sync + 'static {
    fn publish(&self, change: Change);
    fn subscribe(&self) -> broadcast::Receiver<Change>;
}

/// In-process fan-out over a bounded `tokio::sync::broadcast` channel.
pub struct LocalBus {
    tx: broadcast::Sender<Change>,
}

impl LocalBus {
    /// `capacity` bounds how far a subscriber may lag before it starts missing changes.
    pub fn new(capacity: usize) -> LocalBus {
        let (tx, _) = broadcast::channel(capacity);
        LocalBus { tx }
    }
}

impl Bus for LocalBus {
    fn publish(&self, change: Change) {
        metrics::counter!("scholia_bus_published_total", "action" => change.action.as_str())
            .increment(1);
        // No subscribers is not an error: nobody is listening yet.
        let _ = self.tx.send(change);
    }

    fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.tx.subscribe()
    }
}
