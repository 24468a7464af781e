//! The change feed over PostgreSQL's LISTEN/NOTIFY, on the database the nodes already share:
//! no other service. A node publishes each change it commits with `pg_notify` on a channel named
//! after the database and schema (so clusters on other schemas of the same database never hear
//! each other), and listens on it on a connection of its own. Notifications sent while the
//! listening connection is down are lost: the hub's poll of the log covers them.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::Known;
use super::feed::{BoxFuture, ChangeFeed, FeedError, Notice};
use super::wire;
use crate::store::Change;

/// PostgreSQL refuses a NOTIFY payload of 8000 bytes or more; a change that long (its client
/// id is the client's to choose) goes out as its seq alone.
const MAX_PAYLOAD: usize = 7900;
/// Notices that may wait for the hub; past this they are dropped (a wake-up is all they are).
const BACKLOG: usize = 1024;

pub struct PgFeed {
    pool: PgPool,
    channel: String,
    /// Whether the listening connection is up, for `/_status` and `/metrics`.
    up: Arc<AtomicBool>,
    shutdown: CancellationToken,
}

impl PgFeed {
    pub async fn connect(pool: PgPool, shutdown: CancellationToken) -> Result<PgFeed, FeedError> {
        let (db, schema): (String, String) =
            sqlx::query_as("SELECT current_database(), current_schema()")
                .fetch_one(&pool)
                .await
                .map_err(unavailable)?;
        Ok(PgFeed {
            pool,
            channel: super::feed::namespace("scholia", &db, &schema),
            up: Arc::new(AtomicBool::new(false)),
            shutdown,
        })
    }
}

impl PgFeed {
    /// The NOTIFY channel (and the NATS subject of a cluster on this schema).
    pub fn channel(&self) -> &str {
        &self.channel
    }
}

fn unavailable(e: impl std::fmt::Display) -> FeedError {
    FeedError::Unavailable {
        engine: "postgres",
        reason: e.to_string(),
    }
}

impl ChangeFeed for PgFeed {
    fn engine(&self) -> &'static str {
        "postgres"
    }

    fn is_up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
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
            let bytes = wire::encode(change, known, MAX_PAYLOAD);
            let mut payload = String::from_utf8(bytes).unwrap_or_default();
            if payload.len() > MAX_PAYLOAD || payload.is_empty() {
                payload = change.seq.to_string();
            }
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(&self.channel)
                .bind(payload)
                .execute(&self.pool)
                .await
                .map(|_| ())
                .map_err(unavailable)
        })
    }

    fn subscribe(&self) -> BoxFuture<'_, Result<mpsc::Receiver<Notice>, FeedError>> {
        Box::pin(async move {
            let mut listener = PgListener::connect_with(&self.pool)
                .await
                .map_err(unavailable)?;
            // The pool closing at shutdown must not end the listener before the token does.
            listener.ignore_pool_close_event(true);
            listener.listen(&self.channel).await.map_err(unavailable)?;
            self.up.store(true, Ordering::Relaxed);
            let (tx, rx) = mpsc::channel(BACKLOG);
            tokio::spawn(listen(listener, tx, self.up.clone(), self.shutdown.clone()));
            Ok(rx)
        })
    }
}

/// Forwards notifications until shutdown or until the hub stops listening. A lost connection is
/// reconnected (sqlx re-issues the LISTEN); while it is down the hub polls.
async fn listen(
    mut listener: PgListener,
    tx: mpsc::Sender<Notice>,
    up: Arc<AtomicBool>,
    shutdown: CancellationToken,
) {
    loop {
        let next = tokio::select! {
            _ = shutdown.cancelled() => return,
            n = listener.try_recv() => n,
        };
        let payload = match next {
            Ok(Some(n)) => n.payload().to_owned(),
            Ok(None) => {
                if up.swap(false, Ordering::Relaxed) {
                    tracing::warn!(
                        "change feed (postgres): connection lost; polling the log until it is back"
                    );
                }
                continue;
            }
            Err(e) => {
                if up.swap(false, Ordering::Relaxed) {
                    tracing::warn!(error = %e, "change feed (postgres): cannot reconnect; polling the log until it is back");
                }
                // Reconnection backoff, off the delivery path: the hub polls meanwhile.
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(Duration::from_secs(1)) => continue,
                }
            }
        };
        if !up.swap(true, Ordering::Relaxed) {
            tracing::info!("change feed (postgres): listening again");
        }
        let notice = match payload.parse::<i64>() {
            Ok(seq) => Notice::UpTo(seq),
            Err(_) => match wire::decode(payload.as_bytes()) {
                Some((change, known)) => Notice::Committed(change, known),
                None => {
                    tracing::debug!(
                        "change feed (postgres): dropped a message that does not parse"
                    );
                    continue;
                }
            },
        };
        match tx.try_send(notice) {
            Ok(()) | Err(mpsc::error::TrySendError::Full(_)) => {}
            Err(mpsc::error::TrySendError::Closed(_)) => return,
        }
    }
}
