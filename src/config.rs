//! Configuration: built-in defaults, then `scholia.toml`, then `SCHOLIA_*` environment variables,
//! then command-line flags, each layer overriding the one before (lldap's figment layering).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

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
    /// WebSocket keep-alive period in milliseconds (h: a Pong "beep" every 30 s; proxies
    /// commonly drop connections idle for 60 s).
    pub ws_heartbeat_ms: u64,
    /// A socket whose peer sends nothing (not even a Pong) for this many milliseconds is closed
    /// (code 4000).
    pub ws_idle_timeout_ms: u64,
    /// Largest WebSocket message accepted, in bytes; a larger one closes the socket (1009).
    pub ws_max_message_bytes: usize,
    /// Frames that may wait for one socket; when a socket falls further behind it is closed
    /// (1013) instead of slowing anyone else.
    pub ws_queue_frames: usize,
    /// Most clauses in one filter.
    pub ws_max_filter_clauses: usize,
    /// Most values in one filter, over all clauses.
    pub ws_max_filter_values: usize,
    /// Sustained client messages per second per socket; faster clients are throttled.
    pub ws_messages_per_second: f64,
    /// Client messages a socket may send in a burst before throttling starts.
    pub ws_message_burst: u32,
    /// Bytes a socket reads at a time (tungstenite's read buffer, resident per socket).
    pub ws_read_buffer_bytes: usize,
    /// Writes per second a socket settles to once it has spent `ws_write_burst`: a socket sent
    /// events faster than this gets them in batches, one write per 1/rate seconds, instead of
    /// one write each. 0 writes every event at once.
    pub ws_write_rate: f64,
    /// Writes a socket makes at once, however close together, before `ws_write_rate` applies.
    pub ws_write_burst: u32,
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
            ws_heartbeat_ms: 30_000,
            ws_idle_timeout_ms: 90_000,
            ws_max_message_bytes: 64 * 1024,
            ws_queue_frames: 256,
            ws_max_filter_clauses: 32,
            ws_max_filter_values: 256,
            ws_messages_per_second: 20.0,
            ws_message_burst: 100,
            ws_read_buffer_bytes: 1024,
            ws_write_rate: 2.0,
            ws_write_burst: 10,
            client_assets: None,
            demo: false,
            bench_endpoints: false,
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
            .merge(Env::prefixed("SCHOLIA_").only(&[
                "listen",
                "data_dir",
                "database_url",
                "public_url",
                "authority",
                "max_body_bytes",
                "log_format",
                "ws_heartbeat_ms",
                "ws_idle_timeout_ms",
                "ws_max_message_bytes",
                "ws_queue_frames",
                "ws_max_filter_clauses",
                "ws_max_filter_values",
                "ws_messages_per_second",
                "ws_message_burst",
                "ws_read_buffer_bytes",
                "ws_write_rate",
                "ws_write_burst",
                "client_assets",
                "demo",
            ]))
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
            self.max_body_bytes >= 1024,
            "max_body_bytes must be at least 1024"
        );
        anyhow::ensure!(self.ws_heartbeat_ms > 0, "ws_heartbeat_ms must be positive");
        anyhow::ensure!(
            self.ws_idle_timeout_ms >= self.ws_heartbeat_ms,
            "ws_idle_timeout_ms must be at least ws_heartbeat_ms"
        );
        anyhow::ensure!(
            self.ws_max_message_bytes >= 1024,
            "ws_max_message_bytes must be at least 1024"
        );
        anyhow::ensure!(self.ws_queue_frames > 0, "ws_queue_frames must be positive");
        anyhow::ensure!(
            self.ws_messages_per_second > 0.0 && self.ws_message_burst > 0,
            "ws_messages_per_second and ws_message_burst must be positive"
        );
        anyhow::ensure!(
            self.ws_write_rate >= 0.0 && self.ws_write_rate.is_finite() && self.ws_write_burst > 0,
            "ws_write_rate must be zero or positive and ws_write_burst positive"
        );
        anyhow::ensure!(
            self.ws_read_buffer_bytes >= 128,
            "ws_read_buffer_bytes must be at least 128"
        );
        Ok(())
    }

    /// The per-socket limits of the Real Time API.
    pub fn socket_limits(&self) -> crate::realtime::socket::Limits {
        use std::time::Duration;
        crate::realtime::socket::Limits {
            queue: self.ws_queue_frames,
            heartbeat: Duration::from_millis(self.ws_heartbeat_ms),
            idle_timeout: Duration::from_millis(self.ws_idle_timeout_ms),
            max_message_bytes: self.ws_max_message_bytes,
            filter: crate::realtime::filter::FilterLimits {
                max_clauses: self.ws_max_filter_clauses,
                max_values: self.ws_max_filter_values,
            },
            messages_per_second: self.ws_messages_per_second,
            message_burst: f64::from(self.ws_message_burst),
            read_buffer_bytes: self.ws_read_buffer_bytes,
            write_rate: self.ws_write_rate,
            write_burst: f64::from(self.ws_write_burst),
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
#[allow(clippy::result_large_err)] // figment::Jail's closures return figment's large error type
mod tests {
    use super::*;

    #[test]
    fn defaults_need_no_file() {
        let c = Config::default();
        assert_eq!(c.listen, "127.0.0.1:5000");
        assert_eq!(c.public_url(None), "http://127.0.0.1:5000");
        assert_eq!(c.authority(), "127.0.0.1");
        assert_eq!(c.database_url(), "sqlite://scholia-data/scholia.db");
    }

    #[test]
    fn authority_follows_public_url_host() {
        let c = Config {
            public_url: Some("https://annotate.example.org/".into()),
            ..Config::default()
        };
        assert_eq!(c.public_url(None), "https://annotate.example.org");
        assert_eq!(c.authority(), "annotate.example.org");
    }

    #[test]
    fn flags_override_file_and_env() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "scholia.toml",
                "listen = \"127.0.0.1:7000\"\nauthority = \"file\"",
            )?;
            jail.set_env("SCHOLIA_AUTHORITY", "env");
            let c = Config::load(None, &Overrides::default()).map_err(|e| e.to_string())?;
            assert_eq!(c.listen, "127.0.0.1:7000");
            assert_eq!(c.authority(), "env");
            let o = Overrides {
                authority: Some("flag".into()),
                ..Overrides::default()
            };
            let c = Config::load(None, &o).map_err(|e| e.to_string())?;
            assert_eq!(c.authority(), "flag");
            Ok(())
        });
    }

    #[test]
    fn rejects_a_bad_public_url() {
        let o = Overrides {
            public_url: Some("not a url".into()),
            ..Overrides::default()
        };
        figment::Jail::expect_with(|_| {
            assert!(Config::load(None, &o).is_err());
            Ok(())
        });
    }
}
