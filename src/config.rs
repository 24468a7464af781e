//! Configuration: built-in defaults, then `scholia.toml`, then `SCHOLIA_*` environment variables,
//! then command-line flags, each layer overriding the one before (lldap's figment layering).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

use crate::proxy::TrustedProxies;

pub use self::ws::WsConfig;

mod ws;

/// The top-level keys read from `SCHOLIA_<KEY>` (the `[ws]` table's are in [`ws::KEYS`]).
const FLAT_ENV: [&str; 22] = [
    "listen",
    "data_dir",
    "database_url",
    "public_url",
    "authority",
    "max_body_bytes",
    "log_format",
    "bus",
    "bus_poll_ms",
    "client_assets",
    "demo",
    "request_timeout_secs",
    "max_connections_per_address",
    "limit_loopback_connections",
    "max_requests_in_flight",
    "changelog_retention_secs",
    "webhook_allow_private",
    "webhook_retry_base_ms",
    "webhook_disable_after_secs",
    "open_signup",
    "trusted_proxy",
    "metrics_listen",
];

/// The values of `log_format`.
pub const LOG_FORMATS: [&str; 2] = ["text", "json"];

/// Variables with the `SCHOLIA_` prefix that are not settings, and are not to be warned about:
/// the test suite's and the load generator's own.
const NOT_SETTINGS: [&str; 4] = [
    "SCHOLIA_TEST_",
    "SCHOLIA_MODEL_CASES",
    "SCHOLIA_BENCH_",
    "SCHOLIA_BIN",
];

/// The `SCHOLIA_*` names among `names` that set nothing: a typo, or a setting renamed since, which
/// figment would otherwise pass over in silence.
pub fn unknown_env_names(names: impl IntoIterator<Item = String>) -> Vec<String> {
    names
        .into_iter()
        .filter(|n| n.starts_with("SCHOLIA_"))
        .filter(|n| !NOT_SETTINGS.iter().any(|p| n.starts_with(p)))
        .filter(|n| ws::env_key(&n["SCHOLIA_".len()..], &FLAT_ENV).is_none())
        .collect()
}

/// Everything the server and the admin commands need to know. Every field has a default, so
/// `scholia serve` runs with no file and no environment at all.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address the HTTP and WebSocket listener binds.
    pub listen: String,
    /// Directory for the default SQLite database (`scholia.db`).
    pub data_dir: PathBuf,
    /// `sqlite://PATH` or `postgres://...`; when unset, SQLite in `data_dir`.
    pub database_url: Option<String>,
    /// The URL clients reach this server at; used for `/api/links`, annotation links and the
    /// WebSocket URL. When unset, `http://<listen>`.
    pub public_url: Option<String>,
    /// The default authority (the `@authority` of local users); when unset, the host of the
    /// public URL.
    pub authority: Option<String>,
    /// Largest request body accepted, in bytes. h sets none; a PDF annotation's selectors can be
    /// large, so the default is generous.
    pub max_body_bytes: usize,
    /// Log format: `text` or `json`.
    pub log_format: String,
    /// The change feed between nodes: `local` (one process), `postgres` (LISTEN/NOTIFY on the
    /// shared database) or `nats://HOST:PORT`.
    pub bus: String,
    /// A node that hears of no change for this many milliseconds reads the change log anyway:
    /// the latency of changes made by admin commands, or by other nodes while the bus is down.
    pub bus_poll_ms: u64,
    /// The Real Time API's per-socket limits and timings: the `[ws]` table.
    pub ws: WsConfig,
    /// The `build/` folder of the `hypothesis` npm package, served as the Hypothesis client
    /// (`/embed.js`, `/app.html`, `/client/build/...`).
    pub client_assets: Option<PathBuf>,
    /// Serve `/demo`: a sample page with the client logged in as a demo user through a grant
    /// token the server mints. Anyone who can reach the server can then act as the demo users,
    /// so this is for trying scholia out, never for a real deployment.
    pub demo: bool,
    /// Mount `/_bench/inject`, the in-process publish path `scholia bench` measures routing
    /// with. Anyone who can reach the server can then publish to every socket: benchmark
    /// servers only.
    pub bench_endpoints: bool,
    /// Mount `/_echo`: a WebSocket that sends every message back, through the same socket task
    /// as `/ws`, for RFC 6455 conformance runs (RELIABILITY.md). Anyone who can reach the
    /// server can then use it as an echo service: test servers only.
    pub echo_endpoint: bool,
    /// A request's headers, and then its body, must each arrive within this many seconds (a
    /// client that trickles them is closed; an idle keep-alive connection closes after it too).
    pub request_timeout_secs: u64,
    /// Connections (WebSockets included) one client address may hold open; 0: no cap.
    pub max_connections_per_address: usize,
    /// Whether that cap applies to loopback addresses too (by default it does not: a reverse
    /// proxy on the same host connects from one for all its clients).
    pub limit_loopback_connections: bool,
    /// API requests in progress at once; past it, a 503 with `Retry-After` at once. 0: no cap.
    pub max_requests_in_flight: usize,
    /// How long the change log keeps a change (seconds; default 7 days): a client may resume
    /// from any point within it. Older rows are pruned in the background.
    pub changelog_retention_secs: u64,
    /// Let webhooks reach loopback, private and link-local addresses (off: only public ones).
    pub webhook_allow_private: bool,
    /// A failed webhook delivery is retried after this many milliseconds, doubling each time up
    /// to 5 minutes.
    pub webhook_retry_base_ms: u64,
    /// A webhook failing for this many seconds is disabled (default 3 days).
    pub webhook_disable_after_secs: u64,
    /// Let anyone register at `/signup` (off: accounts are made with `scholia user add`).
    pub open_signup: bool,
    /// Reverse proxies (addresses or CIDR networks) whose `X-Forwarded-For`, `-Proto` and
    /// `-Host` headers count; from anyone else they are ignored. Their connections are not
    /// capped per address either: a proxy connects for all its clients.
    pub trusted_proxy: TrustedProxies,
    /// An address of its own for `/metrics` (which then leaves the main listener), so that it
    /// can stay private; unset: `/metrics` is served beside the API.
    pub metrics_listen: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:5000".to_owned(),
            data_dir: PathBuf::from("scholia-data"),
            database_url: None,
            public_url: None,
            authority: None,
            max_body_bytes: 4 * 1024 * 1024,
            log_format: "text".to_owned(),
            bus: "local".to_owned(),
            bus_poll_ms: 250,
            ws: WsConfig::default(),
            client_assets: None,
            demo: false,
            bench_endpoints: false,
            echo_endpoint: false,
            request_timeout_secs: 30,
            max_connections_per_address: 1000,
            limit_loopback_connections: false,
            max_requests_in_flight: 1024,
            changelog_retention_secs: 7 * 24 * 3600,
            webhook_allow_private: false,
            webhook_retry_base_ms: 1000,
            webhook_disable_after_secs: 3 * 24 * 3600,
            open_signup: false,
            trusted_proxy: TrustedProxies::default(),
            metrics_listen: None,
        }
    }
}

/// Values given on the command line; `None` means "not given, keep the lower layer's value".
#[derive(Debug, Clone, Default, Serialize)]
pub struct Overrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authority: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bus: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_assets: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub demo: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bench_endpoints: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub echo_endpoint: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook_allow_private: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub open_signup: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trusted_proxy: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics_listen: Option<String>,
}

impl Config {
    /// Builds the layered configuration. `file` is the TOML file to read (default `scholia.toml`
    /// in the working directory; a missing default file is not an error, a missing named one is).
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> anyhow::Result<Config> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        match file {
            Some(path) => {
                anyhow::ensure!(path.exists(), "config file {} not found", path.display());
                figment = figment.merge(Toml::file_exact(path));
            }
            None => figment = figment.merge(Toml::file("scholia.toml")),
        }
        let config: Config = figment
            // `SCHOLIA_WS_<KEY>` sets `[ws] <key>`; the other names map to top-level keys.
            .merge(
                Env::prefixed("SCHOLIA_")
                    .filter_map(|name| ws::env_key(name.as_str(), &FLAT_ENV).map(Into::into)),
            )
            .merge(Serialized::defaults(overrides))
            .extract()?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> anyhow::Result<()> {
        if let Some(url) = &self.public_url {
            let parsed = url::Url::parse(url)
                .map_err(|e| anyhow::anyhow!("public_url {url:?} is not a URL: {e}"))?;
            anyhow::ensure!(
                matches!(parsed.scheme(), "http" | "https") && parsed.host_str().is_some(),
                "public_url must be an http(s) URL with a host, got {url:?}"
            );
        }
        anyhow::ensure!(
            LOG_FORMATS.contains(&self.log_format.as_str()),
            "log_format {:?} is not one of: {}",
            self.log_format,
            LOG_FORMATS.join(", ")
        );
        anyhow::ensure!(
            self.max_body_bytes >= 1024,
            "max_body_bytes must be at least 1024"
        );
        anyhow::ensure!(
            self.request_timeout_secs >= 1,
            "request_timeout_secs must be at least 1"
        );
        anyhow::ensure!(
            self.webhook_retry_base_ms >= 1 && self.webhook_disable_after_secs >= 1,
            "webhook_retry_base_ms and webhook_disable_after_secs must be at least 1"
        );
        anyhow::ensure!(
            self.changelog_retention_secs >= 1,
            "changelog_retention_secs must be at least 1"
        );
        self.ws.validate()?;
        Ok(())
    }

    /// How webhooks are delivered.
    pub fn webhook_settings(&self) -> crate::realtime::webhooks::WebhookSettings {
        crate::realtime::webhooks::WebhookSettings {
            allow_private: self.webhook_allow_private,
            retry_base: std::time::Duration::from_millis(self.webhook_retry_base_ms),
            disable_after: std::time::Duration::from_secs(self.webhook_disable_after_secs),
        }
    }

    /// The per-socket limits of the Real Time API.
    pub fn socket_limits(&self) -> crate::realtime::socket::Limits {
        self.ws.limits()
    }

    /// How the listener treats connections.
    pub fn conn_limits(&self) -> crate::serve::ConnLimits {
        crate::serve::ConnLimits {
            header_timeout: std::time::Duration::from_secs(self.request_timeout_secs),
            per_address: self.max_connections_per_address,
            cap_loopback: self.limit_loopback_connections,
            trusted: std::sync::Arc::new(self.trusted_proxy.clone()),
        }
    }

    /// The public base URL without a trailing slash.
    pub fn public_url(&self, bound: Option<SocketAddr>) -> String {
        match &self.public_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => match bound {
                Some(addr) => format!("http://{addr}"),
                None => format!("http://{}", self.listen),
            },
        }
    }

    /// The default authority: explicit, else the public URL's host.
    pub fn authority(&self) -> String {
        if let Some(a) = &self.authority {
            return a.clone();
        }
        let url = self.public_url(None);
        url::Url::parse(&url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_else(|| "localhost".to_owned())
    }

    /// The database URL: explicit, else the SQLite file in the data directory.
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}", self.data_dir.join("scholia.db").display()),
        }
    }
}

#[cfg(test)]
mod tests;
