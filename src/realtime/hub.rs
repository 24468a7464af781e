//! The hub: what the Real Time API needs to serve sockets and route changes to them (the
//! subscription index and registry, the renderer's site facts, the store, socket limits), and
//! [`run`], the one task per node that takes changes from the [`Sequencer`] in `seq` order and
//! routes each ([`super::fanout`]).

use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use futures_util::StreamExt;

use super::fanout::{self, Router};
use super::registry::Registry;
use super::replay::ResumeSettings;
use super::route::{Loaded, route};
use super::socket::Limits;
use crate::bus::{Inject, Known, Sequencer, Watermark};
use crate::domain::Identity;
use crate::render::Site;
use crate::store::{Change, Db, Store};

/// How the hub's clients are tracked and told to stop.
pub struct Lifecycle {
    /// Tracks socket and stream tasks, so shutdown waits for them.
    pub tasks: TaskTracker,
    /// Cancelled once routing has drained: sockets then close with 1012.
    pub close_sockets: CancellationToken,
    /// Cancelled as the server begins to stop (event streams end at once).
    pub stopping: CancellationToken,
}

/// Shared by the socket handshakes and the routing task; cheap to clone.
#[derive(Clone)]
pub struct Hub(Arc<Inner>);

struct Inner {
    /// The database, with its direct reads on SQLite.
    store: Store,
    registry: Arc<Registry>,
    site: Site,
    limits: Limits,
    resume: ResumeSettings,
    /// Tracks socket tasks, so shutdown waits for them to close.
    tasks: TaskTracker,
    /// Cancelled when the server stops; sockets then close with 1012.
    shutdown: CancellationToken,
    /// Cancelled as the server begins to stop: event streams end at once (their clients resume
    /// from their last id), since the listener waits for every open response.
    stopping: CancellationToken,
}

impl Hub {
    pub fn new(
        store: Store,
        site: Site,
        limits: Limits,
        resume: ResumeSettings,
        watermark: Watermark,
        life: Lifecycle,
    ) -> Hub {
        Hub(Arc::new(Inner {
            store,
            registry: Arc::new(Registry::new(watermark)),
            site,
            limits,
            resume,
            tasks: life.tasks,
            shutdown: life.close_sockets,
            stopping: life.stopping,
        }))
    }

    pub fn db(&self) -> &Db {
        self.0.store.db()
    }
    pub fn registry(&self) -> &Arc<Registry> {
        &self.0.registry
    }
    pub fn site(&self) -> &Site {
        &self.0.site
    }
    pub fn limits(&self) -> &Limits {
        &self.0.limits
    }
    pub fn resume(&self) -> &ResumeSettings {
        &self.0.resume
    }
    pub fn tasks(&self) -> &TaskTracker {
        &self.0.tasks
    }
    pub fn shutdown_token(&self) -> &CancellationToken {
        &self.0.shutdown
    }
    pub fn stopping(&self) -> &CancellationToken {
        &self.0.stopping
    }

    /// The identity a token stands for, with current roles (direct read first, as HTTP does).
    pub async fn identity_for_token(&self, token: &str) -> Result<Option<Identity>, sqlx::Error> {
        self.0.store.identity_for_token(token).await
    }
}

impl Inject for Hub {
    /// Routes a synthetic create at once: its author is taken as not NIPSA'd and nothing has
    /// flagged it, as for any new annotation.
    fn inject(&self, change: &Change, known: Known) -> u64 {
        let loaded = Loaded::from_known(known, false, Default::default());
        route(self, change, &loaded).delivered
    }
}

/// Store reads of one batch's annotation events that may run at once, ahead of routing.
const PREFETCH: usize = 8;

/// Routes every change the sequencer hands on until `shutdown`; returns the last seq routed.
///
/// A batch's annotation events that must be read back from the store (another node's writes
/// when the bus did not carry them, updates, deletes) are read up to [`PREFETCH`] at a time
/// while earlier ones are routed: one after the other, a node that fell behind (a bus that is
/// down, a burst of updates) would catch up only at one change per few round trips. Routing
/// itself stays one change at a time, in seq order.
pub async fn run(hub: Hub, mut sequencer: Sequencer, shutdown: CancellationToken) -> i64 {
    let mut router = Router::new(hub.clone());
    let mut batch = Vec::new();
    loop {
        let more = sequencer.next_batch(&mut batch, &shutdown).await;
        let reads: Vec<_> = batch
            .iter()
            .filter(|due| fanout::reads_back(due))
            .map(|due| fanout::prefetch(hub.clone(), due.change.clone()))
            .collect();
        let mut reads = futures_util::stream::iter(reads).buffered(PREFETCH);
        for due in batch.drain(..) {
            let prefetched = match fanout::reads_back(&due) {
                true => reads.next().await,
                false => None,
            };
            let seq = due.change.seq;
            match router.handle_prefetched(due, prefetched, &shutdown).await {
                // Every socket this change was for has it queued: resume cursors may pass it.
                fanout::Handled::Routed => hub.registry().mark_routed(seq),
                // Whoever may have been owed it is never settled again, so a client that
                // resumes by its cursor is replayed it.
                fanout::Handled::Dropped => {
                    hub.registry().mark_all_owed();
                    hub.registry().mark_routed(seq);
                }
                // Not routed: the cursors stay before it.
                fanout::Handled::Stopped => {}
            }
        }
        if !more {
            return sequencer.last();
        }
    }
}
