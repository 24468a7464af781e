//! The `[ws]` table: the Real Time API's per-socket limits and timings. Each setting is also read
//! from `SCHOLIA_WS_<NAME>` (e.g. `SCHOLIA_WS_HEARTBEAT_MS` for `[ws] heartbeat_ms`), the names
//! these settings had when they were flat `ws_*` keys.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::realtime::filter::FilterLimits;
use crate::realtime::socket::Limits;

/// The settings of the `[ws]` table; each has a default.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct WsConfig {
    /// Keep-alive period in milliseconds (h: a Pong "beep" every 30 s; proxies commonly drop
    /// connections idle for 60 s).
    pub heartbeat_ms: u64,
    /// A socket whose peer sends nothing (not even a Pong) for this many milliseconds is closed
    /// (code 4000).
    pub idle_timeout_ms: u64,
    /// Largest WebSocket message accepted, in bytes; a larger one closes the socket (1009).
    pub max_message_bytes: usize,
    /// Frames that may wait for one socket; when a socket falls further behind it is closed
    /// (1013) instead of slowing anyone else.
    pub queue_frames: usize,
    /// Most clauses in one filter.
    pub max_filter_clauses: usize,
    /// Most values in one filter, over all clauses.
    pub max_filter_values: usize,
    /// Sustained client messages per second per socket; faster clients are throttled.
    pub messages_per_second: f64,
    /// Client messages a socket may send in a burst before throttling starts.
    pub message_burst: u32,
    /// Bytes a socket reads from the kernel at a time (into a buffer on the stack, at most
    /// 16 KiB; an idle socket holds no read buffer).
    pub read_buffer_bytes: usize,
    /// Opt-in write pacing: writes per second a socket settles to once it has spent
    /// `write_burst`, its events waiting in between. 0 (the default) writes whatever is queued
    /// as soon as the socket's task runs, so batches come only from a socket's backlog.
    pub write_rate: f64,
    /// Writes a socket makes at once, however close together, before `write_rate` applies.
    pub write_burst: u32,
    /// Most change-log rows one resume replays; a longer gap answers `recovered: false`.
    pub replay_max: usize,
    /// How long a client id's resume cursor is remembered after its last write (seconds).
    pub resume_ttl_secs: u64,
    /// How often resume cursors are written to the database (milliseconds): what a kill -9 of
    /// the server may cost a resuming client in duplicates, never in gaps.
    pub cursor_flush_ms: u64,
}

/// The table's keys, each read from the environment as `SCHOLIA_WS_<KEY>`.
pub(super) const KEYS: [&str; 14] = [
    "heartbeat_ms",
    "idle_timeout_ms",
    "max_message_bytes",
    "queue_frames",
    "max_filter_clauses",
    "max_filter_values",
    "messages_per_second",
    "message_burst",
    "read_buffer_bytes",
    "write_rate",
    "write_burst",
    "replay_max",
    "resume_ttl_secs",
    "cursor_flush_ms",
];

impl Default for WsConfig {
    fn default() -> Self {
        WsConfig {
            heartbeat_ms: 30_000,
            idle_timeout_ms: 90_000,
            max_message_bytes: 64 * 1024,
            queue_frames: 256,
            max_filter_clauses: 32,
            max_filter_values: 256,
            messages_per_second: 20.0,
            message_burst: 100,
            read_buffer_bytes: 256,
            write_rate: 0.0,
            write_burst: 10,
            replay_max: 10_000,
            resume_ttl_secs: 15 * 60,
            cursor_flush_ms: 1000,
        }
    }
}

impl WsConfig {
    pub(super) fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(self.heartbeat_ms > 0, "ws.heartbeat_ms must be positive");
        anyhow::ensure!(
            self.idle_timeout_ms >= self.heartbeat_ms,
            "ws.idle_timeout_ms must be at least ws.heartbeat_ms"
        );
        anyhow::ensure!(
            self.max_message_bytes >= 1024,
            "ws.max_message_bytes must be at least 1024"
        );
        anyhow::ensure!(self.queue_frames > 0, "ws.queue_frames must be positive");
        anyhow::ensure!(
            self.messages_per_second > 0.0 && self.message_burst > 0,
            "ws.messages_per_second and ws.message_burst must be positive"
        );
        anyhow::ensure!(
            self.write_rate >= 0.0 && self.write_rate.is_finite() && self.write_burst > 0,
            "ws.write_rate must be zero or positive and ws.write_burst positive"
        );
        anyhow::ensure!(
            self.read_buffer_bytes >= 128,
            "ws.read_buffer_bytes must be at least 128"
        );
        anyhow::ensure!(self.replay_max >= 1, "ws.replay_max must be at least 1");
        anyhow::ensure!(
            self.resume_ttl_secs >= 1 && self.cursor_flush_ms >= 10,
            "ws.resume_ttl_secs must be at least 1 and ws.cursor_flush_ms at least 10"
        );
        Ok(())
    }

    /// How sockets resume.
    pub fn resume(&self) -> crate::realtime::replay::ResumeSettings {
        crate::realtime::replay::ResumeSettings {
            replay_max: self.replay_max,
            resume_ttl: Duration::from_secs(self.resume_ttl_secs),
            cursor_flush: Duration::from_millis(self.cursor_flush_ms),
        }
    }

    /// The per-socket limits these settings give.
    pub fn limits(&self) -> Limits {
        Limits {
            queue: self.queue_frames,
            heartbeat: Duration::from_millis(self.heartbeat_ms),
            idle_timeout: Duration::from_millis(self.idle_timeout_ms),
            max_message_bytes: self.max_message_bytes,
            filter: FilterLimits {
                max_clauses: self.max_filter_clauses,
                max_values: self.max_filter_values,
            },
            messages_per_second: self.messages_per_second,
            message_burst: f64::from(self.message_burst),
            read_buffer_bytes: self.read_buffer_bytes,
            write_rate: self.write_rate,
            write_burst: f64::from(self.write_burst),
            echo: false,
        }
    }
}

/// The configuration key an environment variable sets, given its name without `SCHOLIA_`
/// (any case): one of `flat` as it is, `WS_<KEY>` as `ws.<key>`, anything else none.
pub(super) fn env_key(name: &str, flat: &[&str]) -> Option<String> {
    let name = name.to_ascii_lowercase();
    if flat.contains(&name.as_str()) {
        return Some(name);
    }
    let key = name.strip_prefix("ws_")?;
    KEYS.contains(&key).then(|| format!("ws.{key}"))
}
