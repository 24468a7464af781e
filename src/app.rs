//! The running server: shared state, the router, and `run`, which serves a bound listener until
//! a cancellation token fires (so tests run a real server on port 0 and stop it
//! deterministically).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::api;
use crate::bus::{Bus, LocalBus, tailer};
use crate::client::{self, ClientAssets, demo::DemoClient};
use crate::config::Config;
use crate::domain::{Group, Identity};
use crate::realtime::{self, preload::Preloads, registry::Registry};
use crate::render::Site;
use crate::store::{Change, Db, Store, Writer};

/// State shared by every handler; cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

struct Inner {
    config: Config,
    /// The database, with the direct reads it makes on SQLite.
    store: Store,
    site: Site,
    websocket_url: String,
    bus: Arc<dyn Bus>,
    /// Wakes the change-log tailer after a local commit, so events go out without waiting for
    /// the next poll.
    wake_tailer: Arc<tailer::Wake>,
    /// Group commit for annotation creates and updates.
    writer: Writer,
    metrics: metrics_exporter_prometheus::PrometheusHandle,
    /// The open WebSockets and their subscriptions.
    realtime: Arc<Registry>,
    /// Local creates handed to the router by seq.
    preloads: Preloads,
    /// Tracks tasks that outlive a request (sockets), so shutdown can wait for them.
    tasks: TaskTracker,
    /// Cancelled when the server stops; sockets then close with 1012.
    shutdown: CancellationToken,
    /// The Hypothesis client's files, if configured.
    client: Arc<ClientAssets>,
    /// Set in demo mode: signs the demo users' grant tokens.
    demo: Option<DemoClient>,
    /// The OAuth client id of the sidebar's login popup (`oauthClientId` in `/app.html`).
    first_party_client_id: String,
}

impl AppState {
    /// Builds the state for a server reachable at `bound`.
    pub fn new(
        config: Config,
        db: Db,
        writer: Writer,
        bound: SocketAddr,
        shutdown: CancellationToken,
        demo: Option<DemoClient>,
        first_party_client_id: String,
    ) -> AppState {
        let public_url = config.public_url(Some(bound));
        let config_assets = config.client_assets.clone();
        let websocket_url = websocket_url(&public_url);
        let site = Site {
            public_url,
            authority: config.authority(),
        };
        AppState(Arc::new(Inner {
            config,
            store: Store::new(db),
            site,
            websocket_url,
            bus: Arc::new(LocalBus::new(4096)),
            wake_tailer: Arc::new(tailer::Wake::default()),
            writer,
            metrics: crate::metrics::handle(),
            realtime: Arc::new(Registry::default()),
            preloads: Preloads::default(),
            tasks: TaskTracker::new(),
            shutdown,
            client: Arc::new(ClientAssets::load(config_assets.as_deref())),
            demo,
            first_party_client_id,
        }))
    }

    pub fn config(&self) -> &Config {
        &self.0.config
    }
    pub fn db(&self) -> &Db {
        self.0.store.db()
    }
    pub fn writer(&self) -> &Writer {
        &self.0.writer
    }
    pub fn site(&self) -> &Site {
        &self.0.site
    }
    /// The default authority.
    pub fn authority(&self) -> &str {
        &self.0.site.authority
    }
    pub fn websocket_url(&self) -> &str {
        &self.0.websocket_url
    }
    pub fn bus(&self) -> &Arc<dyn Bus> {
        &self.0.bus
    }
    pub fn metrics(&self) -> &metrics_exporter_prometheus::PrometheusHandle {
        &self.0.metrics
    }

    pub fn realtime(&self) -> &Arc<Registry> {
        &self.0.realtime
    }
    pub fn realtime_preloads(&self) -> &Preloads {
        &self.0.preloads
    }
    pub fn tasks(&self) -> &TaskTracker {
        &self.0.tasks
    }
    pub fn shutdown_token(&self) -> &CancellationToken {
        &self.0.shutdown
    }
    pub fn client(&self) -> &Arc<ClientAssets> {
        &self.0.client
    }
    pub fn demo(&self) -> Option<&DemoClient> {
        self.0.demo.as_ref()
    }
    pub fn first_party_client_id(&self) -> &str {
        &self.0.first_party_client_id
    }

    /// Tells the tailer a local write committed; it reads what it was from the change log.
    pub fn changes_written(&self) {
        self.0.wake_tailer.written();
    }

    /// Hands the tailer a change a local write committed, so it is published without a read.
    pub fn change_committed(&self, change: Change) {
        self.0.wake_tailer.committed(change);
    }

    /// Resolves a bearer token to an identity with current group roles; read from the database
    /// on every request, so admin changes apply to the very next request.
    pub async fn identity_for_token(&self, token: &str) -> Result<Option<Identity>, sqlx::Error> {
        self.0.store.identity_for_token(token).await
    }

    /// A group by pubid, read like [`AppState::identity_for_token`].
    pub async fn group_by_pubid(&self, pubid: &str) -> Result<Option<Group>, sqlx::Error> {
        self.0.store.group_by_pubid(pubid).await
    }
}

/// `ws(s)://host/ws` for an `http(s)://host` public URL.
fn websocket_url(public_url: &str) -> String {
    let rest = public_url
        .strip_prefix("https://")
        .map(|r| format!("wss://{r}"))
        .or_else(|| {
            public_url
                .strip_prefix("http://")
                .map(|r| format!("ws://{r}"))
        })
        .unwrap_or_else(|| public_url.to_owned());
    format!("{rest}/ws")
}

/// The whole HTTP surface.
pub fn router(state: AppState) -> Router {
    let limit = state.config().max_body_bytes;
    let mut routes = realtime::router()
        .merge(client::router())
        .merge(api::router());
    if state.config().bench_endpoints {
        routes = routes.merge(realtime::inject::router());
    }
    routes.layer(DefaultBodyLimit::max(limit)).with_state(state)
}

/// Serves `listener` until `shutdown` is cancelled, then drains in-flight requests (for at most
/// a few seconds) and stops background tasks.
pub async fn run(
    listener: TcpListener,
    config: Config,
    db: Db,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let bound = listener.local_addr()?;
    db.ensure_world_group(&config.authority()).await?;
    let demo = if config.demo {
        Some(client::demo::setup(&db, &config.authority()).await?)
    } else {
        None
    };
    let first_party = db.first_party_client(&config.authority()).await?;
    // The writer and the checkpointer. They are waited for last: the writer stops once every
    // handle on it is gone, the last one in `state`.
    let store_tasks = TaskTracker::new();
    let writer = Writer::start(
        &db,
        db.for_writer().await?,
        &store_tasks,
        shutdown.child_token(),
    );
    let state = AppState::new(
        config,
        db.clone(),
        writer,
        bound,
        shutdown.child_token(),
        demo,
        first_party.id,
    );
    let tasks = state.tasks().clone();

    let start_seq = db.last_seq().await?;
    // Subscribe before the tailer publishes anything, so the router misses nothing.
    let changes = state.bus().subscribe();
    tasks.spawn(realtime::fanout::run(
        state.clone(),
        changes,
        start_seq,
        shutdown.child_token(),
    ));
    tasks.spawn(tailer::run(
        db.clone(),
        state.bus().clone(),
        state.0.wake_tailer.clone(),
        start_seq,
        shutdown.child_token(),
    ));

    let app = router(state.clone());
    let graceful = shutdown.clone();
    // Events go out the moment they are routed: Nagle's algorithm would hold a frame back while
    // an earlier one is unacknowledged.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "could not set TCP_NODELAY");
        }
    });
    let server = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move { graceful.cancelled().await });
    server.await?;
    tasks.close();
    if tokio::time::timeout(Duration::from_secs(5), tasks.wait())
        .await
        .is_err()
    {
        tracing::warn!("background tasks did not stop within 5 s");
    }
    drop(state);
    store_tasks.close();
    if tokio::time::timeout(Duration::from_secs(5), store_tasks.wait())
        .await
        .is_err()
    {
        tracing::warn!("the writer did not stop within 5 s");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn websocket_url_follows_the_public_scheme() {
        assert_eq!(
            super::websocket_url("https://h.example"),
            "wss://h.example/ws"
        );
        assert_eq!(
            super::websocket_url("http://127.0.0.1:5000"),
            "ws://127.0.0.1:5000/ws"
        );
    }
}
