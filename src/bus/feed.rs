//! The change feed: the seam between nodes. A node's hub learns from it that changes up to some
//! seq exist (and, where the engine carries it, the change itself) so it need not wait for its
//! next poll of the change log. A feed may lose, repeat, delay or reorder its notices; the hub
//! never trusts one for more than a wake-up, so correctness never depends on the feed, only
//! latency does.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::Known;
use crate::store::{Change, Db};

/// What a feed tells a hub.
#[derive(Clone, Debug, PartialEq)]
pub enum Notice {
    /// Changes up to this seq exist in the log.
    UpTo(i64),
    /// This change committed (it may still be checked against the log), with what its write
    /// knew for routing it when the engine carried that.
    Committed(Change, Option<Box<Known>>),
}

impl Notice {
    pub fn seq(&self) -> i64 {
        match self {
            Notice::UpTo(seq) => *seq,
            Notice::Committed(c, _) => c.seq,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    /// The configured engine does not exist (or is not in this build).
    #[error("unknown bus {0:?}: use local, postgres or nats://HOST:PORT")]
    Unsupported(String),
    /// Several nodes share a PostgreSQL database, never a SQLite file.
    #[error(
        "--bus {0} joins several nodes, which needs a PostgreSQL database (postgres://...); with SQLite use --bus local"
    )]
    NeedsPostgres(String),
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

    /// Whether the engine is connected now (while it is not, the hub only polls).
    fn is_up(&self) -> bool {
        true
    }

    /// Whether [`ChangeFeed::publish`] carries a create's `known` facts to other nodes (the
    /// announcer clones them for it only then).
    fn carries_known(&self) -> bool {
        false
    }

    /// Tells the other nodes that `change` committed here, with what its write knew for routing
    /// it, which an engine carries when its message size allows.
    fn publish<'a>(
        &'a self,
        change: &'a Change,
        known: Option<&'a Known>,
    ) -> BoxFuture<'a, Result<(), FeedError>>;

    /// Starts listening: notices from other nodes arrive on the receiver. A closed receiver
    /// means the feed is gone; the hub then relies on polling the log alone.
    fn subscribe(&self) -> BoxFuture<'_, Result<mpsc::Receiver<Notice>, FeedError>>;
}

/// The feed engine named by the `bus` setting: `local`, `postgres` (LISTEN/NOTIFY on `db`) or
/// a NATS URL. Background tasks stop at `shutdown`.
pub async fn from_config(
    bus: &str,
    db: &Db,
    shutdown: CancellationToken,
) -> Result<Arc<dyn ChangeFeed>, FeedError> {
    if bus == "local" {
        return Ok(Arc::new(LocalFeed::default()));
    }
    let known = bus == "postgres" || bus.starts_with("nats://") || bus.starts_with("tls://");
    if !known {
        return Err(FeedError::Unsupported(bus.to_owned()));
    }
    let Db::Postgres(pool) = db else {
        return Err(FeedError::NeedsPostgres(bus.to_owned()));
    };
    let feed = super::postgres::PgFeed::connect(pool.clone(), shutdown.clone()).await?;
    if bus == "postgres" {
        return Ok(Arc::new(feed));
    }
    let nats = super::nats::NatsFeed::connect(bus, feed.channel(), shutdown).await?;
    Ok(Arc::new(nats))
}

/// A channel or subject name for one cluster: `prefix.database.schema`, with anything but
/// letters, digits, `_` and `-` replaced, so it is a valid NATS subject and NOTIFY channel.
pub fn namespace(prefix: &str, database: &str, schema: &str) -> String {
    let clean = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    };
    let name = format!("{prefix}.{}.{}", clean(database), clean(schema));
    // PostgreSQL truncates identifiers past 63 bytes, so two long names could meet: past that,
    // the tail becomes a hash of the whole (FNV-1a: the same on every node and version).
    if name.len() <= 63 {
        return name;
    }
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{}.{hash:016x}", &name[..46])
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

    fn publish<'a>(
        &'a self,
        _change: &'a Change,
        _known: Option<&'a Known>,
    ) -> BoxFuture<'a, Result<(), FeedError>> {
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
    fn namespaces_are_valid_subjects() {
        assert_eq!(
            namespace("scholia", "test", "t_1 a.b"),
            "scholia.test.t_1_a_b"
        );
        let long = namespace("scholia", "test", &"s".repeat(80));
        assert_eq!(long.len(), 63);
        assert_ne!(long, namespace("scholia", "test", &"s".repeat(81)));
    }
}
