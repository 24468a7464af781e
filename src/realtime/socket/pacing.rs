//! Token buckets for one socket: the pace of the client's messages (throttling) and of the
//! server's writes (pacing).
//!
//! Write pacing: a socket may make a burst of writes at once; after that its writes are spaced
//! to a rate, and the events that arrive in between leave together in the next write. On
//! loopback a `send` costs several µs whatever it carries, so a broadcast to many sockets at a
//! high event rate costs a fraction per event when each write carries a dozen frames, while a
//! socket that receives a few events a second never waits. Pacing never gets a socket closed
//! as slow: once half its queue is full, the held write goes at once.

use std::pin::Pin;
use std::time::Duration;

use axum::extract::ws::Utf8Bytes;
use tokio::time::{Instant, Sleep};

use crate::realtime::outbox::Receiver;

/// `burst` tokens, refilled at `rate` per second.
pub(super) struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    at: Instant,
}

impl TokenBucket {
    pub(super) fn new(rate: f64, burst: f64, now: Instant) -> TokenBucket {
        TokenBucket {
            rate,
            burst,
            tokens: burst,
            at: now,
        }
    }

    /// Spends a token; when none is left, how long to wait until the debt is paid.
    pub(super) fn take(&mut self, now: Instant) -> Option<Duration> {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst) - 1.0;
        self.at = now;
        (self.tokens < 0.0).then(|| Duration::from_secs_f64(-self.tokens / self.rate))
    }
}

/// The socket's write pacing and the frame it is holding back, if any.
pub(super) struct Pacing {
    /// `None`: pacing is off.
    bucket: Option<TokenBucket>,
    /// The first frame of the next write and the time it may go (boxed: only a paced socket
    /// needs a timer).
    held: Option<(Pin<Box<Sleep>>, Utf8Bytes)>,
    /// Set when a write stopped at the batch limits: the rest follows without waiting again.
    catching_up: bool,
}

impl Pacing {
    pub(super) fn new(rate: f64, burst: f64, now: Instant) -> Pacing {
        Pacing {
            bucket: (rate > 0.0).then(|| TokenBucket::new(rate, burst, now)),
            held: None,
            catching_up: false,
        }
    }

    /// The first frame of the next event write, once it may go. Cancel-safe: a frame taken
    /// from the queue is held here, not in the future, if the caller stops waiting.
    pub(super) async fn next(&mut self, outbox: &Receiver) -> Option<Utf8Bytes> {
        if self.held.is_none() {
            let first = outbox.recv().await?;
            let wait = match self.bucket.as_mut() {
                Some(b) if !std::mem::take(&mut self.catching_up) => b.take(Instant::now()),
                _ => None,
            };
            let Some(wait) = wait else {
                return Some(first);
            };
            self.held = Some((Box::pin(tokio::time::sleep(wait)), first));
        }
        if let Some((timer, _)) = self.held.as_mut() {
            tokio::select! {
                _ = timer.as_mut() => {}
                _ = outbox.half_full() => {}
            }
        }
        self.held.take().map(|(_, first)| first)
    }

    /// The held frame, for a write that goes now (a reply takes the events queued before it).
    pub(super) fn release(&mut self) -> Option<Utf8Bytes> {
        self.held.take().map(|(_, first)| first)
    }

    /// Records whether the last event write stopped at the batch limits.
    pub(super) fn wrote(&mut self, stopped_at_limits: bool) {
        self.catching_up = stopped_at_limits;
    }
}
