//! The change feed over NATS core: each node publishes every change it commits, as JSON, on a
//! subject named after the database and schema the cluster shares, and subscribes to it. NATS
//! core delivers at most once (a create's message also carries what its write knew, so other
//! nodes need not read it back); whatever it loses (a node's connection was down, a slow
//! subscriber was cut off) the hub finds by a gap or its poll of the log.

use async_nats::connection::State;
use futures_util::StreamExt;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::Known;
use super::feed::{BoxFuture, ChangeFeed, FeedError, Notice};
use super::wire;
use crate::store::Change;

/// A create's message carries its write's facts up to this size (NATS's default limit is
/// 1 MiB); a longer annotation goes as its change alone and other nodes read it back.
const MAX_MESSAGE: usize = 64 * 1024;
/// Notices that may wait for the hub; past this they are dropped (the log has the changes).
const BACKLOG: usize = 1024;

pub struct NatsFeed {
    client: async_nats::Client,
    subject: String,
    shutdown: CancellationToken,
}

fn unavailable(e: impl std::fmt::Display) -> FeedError {
    FeedError::Unavailable {
        engine: "nats",
        reason: e.to_string(),
    }
}

impl NatsFeed {
    /// Connects to `url` (`nats://[user:password@]host:port`, or `tls://...`). A server that is
    /// down at start is not fatal: the client keeps trying in the background and the hub polls
    /// the log meanwhile.
    pub async fn connect(
        url: &str,
        namespace: &str,
        shutdown: CancellationToken,
    ) -> Result<NatsFeed, FeedError> {
        let client = async_nats::ConnectOptions::new()
            // A node's own changes reach its hub in process.
            .no_echo()
            .retry_on_initial_connect()
            .name("scholia")
            .event_callback(|event| async move {
                match event {
                    async_nats::Event::Connected => {
                        tracing::info!("change feed (nats): connected");
                    }
                    async_nats::Event::Disconnected => tracing::warn!(
                        "change feed (nats): disconnected; polling the change log until it is back"
                    ),
                    other => tracing::debug!(event = %other, "change feed (nats)"),
                }
            })
            .connect(url)
            .await
            .map_err(unavailable)?;
        Ok(NatsFeed {
            client,
            subject: namespace.to_owned(),
            shutdown,
        })
    }
}

impl ChangeFeed for NatsFeed {
    fn engine(&self) -> &'static str {
        "nats"
    }

    fn is_up(&self) -> bool {
        self.client.connection_state() == State::Connected
    }

    fn carries_known(&self) -> bool {
        true
    }

    fn publish<'a>(
        &'a self,
        change: &'a Change,
        known: Option<&'a Known>,
    ) -> BoxFuture<'a, Result<(), FeedError>> {
        Box::pin(async move {
            // While disconnected the client would queue messages, and once its queue is full a
            // publish would wait: never make a write wait for the bus. Other nodes find the
            // change in the log.
            if !self.is_up() {
                return Err(unavailable("not connected"));
            }
            self.client
                .publish(
                    self.subject.clone(),
                    wire::encode(change, known, MAX_MESSAGE).into(),
                )
                .await
                .map_err(unavailable)
        })
    }

    fn subscribe(&self) -> BoxFuture<'_, Result<mpsc::Receiver<Notice>, FeedError>> {
        Box::pin(async move {
            let mut sub = self
                .client
                .subscribe(self.subject.clone())
                .await
                .map_err(unavailable)?;
            let (tx, rx) = mpsc::channel(BACKLOG);
            let shutdown = self.shutdown.clone();
            tokio::spawn(async move {
                loop {
                    let msg = tokio::select! {
                        _ = shutdown.cancelled() => return,
                        m = sub.next() => m,
                    };
                    let Some(msg) = msg else { return };
                    let Some((change, known)) = wire::decode(&msg.payload) else {
                        tracing::debug!(
                            "change feed (nats): dropped a message that does not parse"
                        );
                        continue;
                    };
                    match tx.try_send(Notice::Committed(change, known)) {
                        Ok(()) | Err(mpsc::error::TrySendError::Full(_)) => {}
                        Err(mpsc::error::TrySendError::Closed(_)) => return,
                    }
                }
            });
            Ok(rx)
        })
    }
}
