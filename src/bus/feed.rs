//! The change feed: the seam between nodes. A node's hub learns from it that changes up to some
//! seq exist (and, where the engine carries it, the change itself) so it need not wait for its
//! next poll of the change log. A feed may lose, repeat, delay or reorder its notices; the hub
//! never trusts one for more than a wake-up, so correctness never depends on the feed, only
//! latency does.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

use crate::store::Change;

/// What a feed tells a hub.
#[derive(Clone, Debug, PartialEq)]
pub enum Notice {
    /// Changes up to this seq exist in the log.
    UpTo(i64),
    /// This change committed (it may still be checked against the log).
    Committed(Change),
}

impl Notice {
    pub fn seq(&self) -> i64 {
        match self {
            Notice::UpTo(seq) => *seq,
            Notice::Committed(c) => c.seq,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    /// The configured engine does not exist (or is not in this build).
    #[error("unknown bus {0:?}: this build supports \"local\" (one process)")]
    Unsupported(String),
    /// The engine's service could not be reached or refused the request.
    #[error("change feed {engine}: {reason}")]
    Unavailable {
        engine: &'static str,
        reason: String,
    },
}

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One engine of the change feed.
pub trait ChangeFeed: Send + Sync + 'static {
    /// The engine's name, as configured (`local`, ...), for logs, `/_status` and `/metrics`.
    fn engine(&self) -> &'static str;

    /// Tells the other nodes that `change` committed here.
    fn publish<'a>(&'a self, change: &'a Change) -> BoxFuture<'a, Result<(), FeedError>>;

    /// Starts listening: notices from other nodes arrive on the receiver. A closed receiver
    /// means the feed is gone; the hub then relies on polling the log alone.
    fn subscribe(&self) -> BoxFuture<'_, Result<mpsc::Receiver<Notice>, FeedError>>;
}

/// The feed engine named by the `bus` setting.
pub fn from_config(bus: &str) -> Result<Arc<dyn ChangeFeed>, FeedError> {
    match bus {
        "local" => Ok(Arc::new(LocalFeed::default())),
        other => Err(FeedError::Unsupported(other.to_owned())),
    }
}

/// The feed of a server that runs as one process. Its own writes reach its hub through the
/// announcer's in-process inbox, and changes written by other processes on the same database
/// (admin commands) are found by the hub's poll of the log, so there is no other node to tell
/// and nothing to hear: publishing is free and the notice stream stays open and silent.
#[derive(Default)]
pub struct LocalFeed {
    /// Holds each subscriber's sender so its receiver stays open (silent, not closed).
    open: Mutex<Vec<mpsc::Sender<Notice>>>,
}

impl ChangeFeed for LocalFeed {
    fn engine(&self) -> &'static str {
        "local"
    }

    fn publish<'a>(&'a self, _change: &'a Change) -> BoxFuture<'a, Result<(), FeedError>> {
        Box::pin(async { Ok(()) })
    }

    fn subscribe(&self) -> BoxFuture<'_, Result<mpsc::Receiver<Notice>, FeedError>> {
        let (tx, rx) = mpsc::channel(1);
        self.open.lock().unwrap_or_else(|p| p.into_inner()).push(tx);
        Box::pin(async { Ok(rx) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_engines_are_refused_by_name() {
        assert_eq!(from_config("local").unwrap().engine(), "local");
        let e = from_config("carrier-pigeon").err().unwrap();
        assert!(e.to_string().contains("carrier-pigeon"), "{e}");
    }
}
