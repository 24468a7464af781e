//! `scholia serve`: bind, log what is served, run until SIGINT or SIGTERM.

use clap::Args;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::domain::group::WORLD;
use crate::store::Db;
use crate::store::location::Location;

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on (default 127.0.0.1:5000).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// The URL clients reach this server at (default http://<listen>).
    #[arg(long, value_name = "URL")]
    pub public_url: Option<String>,
    /// The default authority (default: the public URL's host).
    #[arg(long, value_name = "NAME")]
    pub authority: Option<String>,
    /// The `build/` folder of the `hypothesis` npm package, to serve the Hypothesis client.
    #[arg(long, value_name = "DIR")]
    pub client_assets: Option<std::path::PathBuf>,
    /// The change feed between nodes (default `local`: one process).
    #[arg(long, value_name = "BUS")]
    pub bus: Option<String>,
    /// Serve the demo page `/demo` with demo users alice and bob (never in production).
    #[arg(long)]
    pub demo: bool,
    /// Mount `/_bench/inject` for `scholia bench` (benchmark servers only: anyone who can reach
    /// the port can then publish to every socket).
    #[arg(long, hide = true)]
    pub bench_endpoints: bool,
    /// Mount `/_echo`, a WebSocket echo on the production socket task, for RFC 6455
    /// conformance runs (test servers only).
    #[arg(long, hide = true)]
    pub echo_endpoint: bool,
    /// Let webhooks reach loopback, private and link-local addresses (by default only public
    /// ones: a hook must not be a way into this server's own network).
    #[arg(long)]
    pub webhook_allow_private: bool,
    /// Let anyone register an account at `/signup` (by default an administrator makes accounts
    /// with `scholia user add`).
    #[arg(long)]
    pub open_signup: bool,
    /// A reverse proxy (address or CIDR network) whose X-Forwarded-For, -Proto and -Host
    /// headers count; repeatable. From any other peer they are ignored.
    #[arg(long, value_name = "ADDR|CIDR")]
    pub trusted_proxy: Vec<String>,
    /// Serve `/metrics` on this address instead of the main one (keep it private).
    #[arg(long, value_name = "ADDR")]
    pub metrics_listen: Option<String>,
}

fn init_tracing(format: &str) {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    // Colour only on a terminal, so logs captured to files stay plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi);
    let _ = if format == "json" {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

pub async fn serve(config: Config) -> anyhow::Result<()> {
    init_tracing(&config.log_format);
    // Caught from here on: a SIGTERM sent while the server starts (by a supervisor or a test
    // that acted on the address line) stops it cleanly; the signal's default action would
    // kill it instead.
    let stop_signal = StopSignal::install()?;
    for warning in super::checks::env_warnings() {
        tracing::warn!("{warning}");
    }
    if let Some(warning) = super::checks::listen_everywhere(&config) {
        tracing::warn!("{warning}");
    }
    if let Some(warning) = super::checks::proxy_without_public_url(&config) {
        tracing::warn!("{warning}");
    }
    super::checks::client_assets(&config)?;
    let url = config.database_url();
    let (db, schema) = Db::connect_migrating(&url).await?;
    // Where the data is, first: the one line to read when the server seems to have lost it.
    tracing::info!(
        schema_version = schema.after,
        "data: {}, schema version {}",
        Location::of(&url).describe(),
        schema.after
    );
    let stored = db.group_by_pubid(WORLD).await?.map(|g| g.authority);
    if let Some(warning) = super::checks::authority(stored.as_deref(), &config)? {
        tracing::warn!("{warning}");
    }
    let listener = TcpListener::bind(&config.listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.listen))?;
    let bound = listener.local_addr()?;
    let public = config.public_url(Some(bound));
    // Recorded before the address is announced: an admin command started on that line must
    // find the server's authority, not fall back to its own default (`run` repeats it,
    // harmlessly, for servers started another way).
    db.ensure_world_group(&config.authority()).await?;
    tracing::info!(
        engine = ?db.engine(),
        authority = %config.authority(),
        "scholia listening on {bound}: API {public}/api/, health {public}/_status{}",
        match &config.metrics_listen {
            None => format!(", metrics {public}/metrics"),
            Some(_) => String::new(),
        }
    );
    match &config.client_assets {
        Some(dir) => tracing::info!(
            "Hypothesis client from {}: {public}/app.html, {public}/embed.js",
            dir.display()
        ),
        None => tracing::warn!(
            "no Hypothesis client assets: /app.html and /embed.js explain how to add them \
             (npm install --prefix client hypothesis@1.1766.0, then --client-assets client/node_modules/hypothesis/build)"
        ),
    }
    if config.demo {
        tracing::warn!(
            "demo mode: {public}/demo?user=alice and ?user=bob log anyone in as the demo users"
        );
    }
    let shutdown = CancellationToken::new();
    let signal = shutdown.clone();
    tokio::spawn(async move {
        stop_signal.wait().await;
        tracing::info!("shutting down: finishing in-flight requests");
        signal.cancel();
    });
    crate::app::run(listener, config, db.clone(), shutdown).await?;
    db.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// SIGINT and SIGTERM, caught from the moment this is made.
struct StopSignal {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl StopSignal {
    fn install() -> anyhow::Result<StopSignal> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(StopSignal {
                interrupt: signal(SignalKind::interrupt())?,
                terminate: signal(SignalKind::terminate())?,
            })
        }
        #[cfg(not(unix))]
        Ok(StopSignal {})
    }

    async fn wait(mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
        #[cfg(not(unix))]
        {
            let _ = &mut self;
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
