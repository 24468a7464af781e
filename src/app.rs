//! The running server: shared state, the router, and `run`, which serves a bound listener until
//! a cancellation token fires (so tests run a real server on port 0 and stop it
//! deterministically).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::api;
use crate::bus::{self, Announcement, Announcer, Inject};
use crate::client::{self, ClientAssets, demo::DemoClient};
use crate::config::Config;
use crate::domain::{Group, Identity};
use crate::realtime::{self, hub::Hub};
use crate::render::Site;
use crate::store::{Db, Store, Writer};

/// State shared by every handler; cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

struct Inner {
    config: Config,
    /// The database, with the direct reads it makes on SQLite.
    store: Store,
    site: Site,
    websocket_url: String,
    /// Where committed writes hand their changes (this node's hub, and the change feed).
    announcer: Announcer,
    /// The in-process publish path, with `--bench-endpoints` only.
    inject: Option<Arc<dyn Inject>>,
    /// Group commit for annotation creates and updates.
    writer: Writer,
    metrics: metrics_exporter_prometheus::PrometheusHandle,
    /// The Hypothesis client's files, if configured.
    client: Arc<ClientAssets>,
    /// Set in demo mode: signs the demo users' grant tokens.
    demo: Option<DemoClient>,
    /// The OAuth client id of the sidebar's login popup (`oauthClientId` in `/app.html`).
    first_party_client_id: String,
    /// Cancelled when the server begins to stop (health then answers 503).
    shutdown: CancellationToken,
    /// Sites whose pages load the client (where `/a/<id>` may send a reader).
    embedders: crate::site::Embedders,
    /// Password guesses and registrations per address.
    attempts: crate::site::limiter::AttemptLimiter,
}

/// What [`AppState::new`] is built from besides the configuration.
pub struct Parts {
    pub store: Store,
    pub site: Site,
    pub writer: Writer,
    pub announcer: Announcer,
    pub inject: Option<Arc<dyn Inject>>,
    pub demo: Option<DemoClient>,
    pub first_party_client_id: String,
    pub shutdown: CancellationToken,
}

impl AppState {
    pub fn new(config: Config, parts: Parts) -> AppState {
        let Parts {
            store,
            site,
            writer,
            announcer,
            inject,
            demo,
            first_party_client_id,
            shutdown,
        } = parts;
        let config_assets = config.client_assets.clone();
        let websocket_url = websocket_url(&site.public_url);
        AppState(Arc::new(Inner {
            config,
            store,
            site,
            websocket_url,
            announcer,
            inject,
            writer,
            metrics: crate::metrics::handle(),
            client: Arc::new(ClientAssets::load(config_assets.as_deref())),
            demo,
            first_party_client_id,
            shutdown,
            embedders: Default::default(),
            attempts: Default::default(),
        }))
    }

    /// Whether the server has begun to stop.
    pub fn is_stopping(&self) -> bool {
        self.0.shutdown.is_cancelled()
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
    /// The change feed's engine, as configured, and whether it is connected now.
    pub fn feed_state(&self) -> (&'static str, bool) {
        self.0.announcer.feed_state()
    }
    pub fn metrics(&self) -> &metrics_exporter_prometheus::PrometheusHandle {
        &self.0.metrics
    }
    /// The in-process publish path (`--bench-endpoints`).
    pub fn inject(&self) -> Option<&dyn Inject> {
        self.0.inject.as_deref()
    }
    pub fn client(&self) -> &Arc<ClientAssets> {
        &self.0.client
    }
    pub fn demo(&self) -> Option<&DemoClient> {
        self.0.demo.as_ref()
    }
    pub fn embedders(&self) -> &crate::site::Embedders {
        &self.0.embedders
    }
    pub fn attempts(&self) -> &crate::site::limiter::AttemptLimiter {
        &self.0.attempts
    }
    pub fn first_party_client_id(&self) -> &str {
        &self.0.first_party_client_id
    }

    /// Hands a committed change to the hub (and through the change feed to other nodes): the
    /// one way a write announces.
    pub async fn announce(&self, announcement: Announcement) {
        self.0.announcer.announce(announcement).await;
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
pub fn router(state: AppState, hub: Hub) -> Router {
    let limit = state.config().max_body_bytes;
    let echo = state.config().echo_endpoint;
    let mut routes = realtime::router(hub, echo)
        .merge(client::router())
        .merge(crate::site::router())
        .merge(api::router(state.config().metrics_listen.is_none()));
    if state.inject().is_some() {
        routes = routes.merge(api::bench::router());
    }
    let guard = crate::serve::guard::Guard::new(
        state.config().max_requests_in_flight,
        Duration::from_secs(state.config().request_timeout_secs),
        limit,
    );
    let routes = routes.layer(axum::middleware::from_fn_with_state(
        guard,
        crate::serve::guard::check,
    ));
    let routes = routes.layer(axum::middleware::from_fn(crate::site::errors::html_errors));
    let routes = crate::http_log::wrap(routes);
    routes.layer(DefaultBodyLimit::max(limit)).with_state(state)
}

/// How long routing may take, once the listener has stopped, to hand sockets what was committed.
const ROUTING_DRAIN: Duration = Duration::from_secs(5);

/// Serves `listener` until `shutdown` is cancelled, then drains in-flight requests (for at most
/// a few seconds) and stops background tasks.
pub async fn run(
    listener: TcpListener,
    config: Config,
    db: Db,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let bound = listener.local_addr()?;
    // The recorder first, so nothing recorded while starting up is lost.
    crate::metrics::handle();
    // Bound before anything starts, so a taken address stops the server at once.
    let metrics_listener = match &config.metrics_listen {
        Some(addr) => Some(
            TcpListener::bind(addr)
                .await
                .map_err(|e| anyhow::anyhow!("cannot listen for metrics on {addr}: {e}"))?,
        ),
        None => None,
    };
    db.ensure_world_group(&config.authority()).await?;
    let demo = if config.demo {
        Some(client::demo::setup(&db, &config.authority()).await?)
    } else {
        None
    };
    let first_party = db.first_party_client(&config.authority()).await?;
    let site = Site {
        public_url: config.public_url(Some(bound)),
        authority: config.authority(),
    };
    // The path of every event: writes announce → the sequencer orders them (filling gaps from
    // the change log) → the hub routes them to sockets.
    let feed = bus::feed::from_config(&config.bus, &db, shutdown.child_token()).await?;
    tracing::info!(engine = feed.engine(), "change feed");
    // Tracks what outlives a request (the routing task, sockets), so shutdown waits for it.
    let tasks = TaskTracker::new();
    // The writer and the checkpointer. They are waited for last: the writer stops once every
    // handle on it is gone, the last one in `state`.
    let store_tasks = TaskTracker::new();
    let writer = Writer::start(
        &db,
        db.for_writer().await?,
        &store_tasks,
        shutdown.child_token(),
    );
    metrics::gauge!("scholia_feed_info", "engine" => feed.engine()).set(1.0);
    let start_seq = db.last_seq().await?;
    let poll = Duration::from_millis(config.bus_poll_ms);
    let watermark = bus::Watermark::new(start_seq);
    let (announcer, sequencer) = bus::connect(db.clone(), feed, watermark.clone(), poll).await?;
    let store = Store::new(db.clone());
    // Stopping is ordered so that no committed event is dropped: the listener stops and its
    // requests finish (no more writes from this node); then routing stops, after a last read
    // of the change log; only then are sockets told to close, and each writes what was routed
    // to it before its 1012 close.
    let stop_routing = CancellationToken::new();
    let close_sockets = CancellationToken::new();
    let resume = config.ws.resume();
    let hub = Hub::new(
        store.clone(),
        site.clone(),
        config.socket_limits(),
        resume,
        watermark,
        realtime::hub::Lifecycle {
            tasks: tasks.clone(),
            close_sockets: close_sockets.clone(),
            stopping: shutdown.clone(),
        },
    );
    let routing = {
        let (stop, routed) = (stop_routing.clone(), close_sockets.clone());
        let hub = hub.clone();
        async move {
            realtime::hub::run(hub, sequencer, stop).await;
            routed.cancel();
        }
    };
    match db {
        // Its reads (read-backs, log reads) are round trips to another process, each a wake-up
        // that must not queue behind the socket tasks its last event made ready.
        Db::Postgres(_) => crate::own_thread::spawn("scholia-hub", routing, &tasks),
        Db::Sqlite(_) => {
            tasks.spawn(routing);
        }
    }

    // Resume: the change log kept to its retention window, and client ids' cursors written
    // until the sockets have closed (their last cursors are written after that).
    store_tasks.spawn(crate::store::resume::retention_task(
        db.clone(),
        Duration::from_secs(config.changelog_retention_secs),
        resume.resume_ttl,
        shutdown.child_token(),
    ));
    let sockets_closed = CancellationToken::new();
    store_tasks.spawn(realtime::cursors::run(
        hub.registry().clone(),
        db.clone(),
        resume.cursor_flush,
        resume.resume_ttl,
        sockets_closed.clone(),
    ));

    store_tasks.spawn(realtime::webhooks::run(
        hub.clone(),
        config.webhook_settings(),
        shutdown.child_token(),
    ));

    let inject = config
        .bench_endpoints
        .then(|| Arc::new(hub.clone()) as Arc<dyn Inject>);
    let state = AppState::new(
        config,
        Parts {
            store,
            site,
            writer,
            announcer,
            inject,
            demo,
            first_party_client_id: first_party.id,
            shutdown: shutdown.clone(),
        },
    );

    let conn_limits = state.config().conn_limits();
    let metrics_server = match metrics_listener {
        Some(listener) => {
            let at = listener.local_addr()?;
            tracing::info!("metrics listening on {at}: http://{at}/metrics");
            let app = api::index::metrics_router().with_state(state.clone());
            Some(tokio::spawn(crate::serve::serve(
                listener,
                app,
                conn_limits.clone(),
                shutdown.clone(),
            )))
        }
        None => None,
    };
    let app = router(state, hub);
    let served = crate::serve::serve(listener, app, conn_limits, shutdown.clone()).await;
    if let Some(task) = metrics_server {
        // It stops on the same token; a scrape in progress gets the same grace.
        let _ = task.await;
    }
    stop_routing.cancel();
    // Routing ends with one read of the log; should it hang (a database gone at the same
    // moment), sockets close anyway.
    if tokio::time::timeout(ROUTING_DRAIN, close_sockets.cancelled())
        .await
        .is_err()
    {
        tracing::warn!("routing did not finish within {ROUTING_DRAIN:?}; closing sockets");
        close_sockets.cancel();
    }
    served?;
    tasks.close();
    if tokio::time::timeout(Duration::from_secs(5), tasks.wait())
        .await
        .is_err()
    {
        tracing::warn!("background tasks did not stop within 5 s");
    }
    sockets_closed.cancel();
    // The router (and with it every `Writer` handle in the state) went with the server.
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
