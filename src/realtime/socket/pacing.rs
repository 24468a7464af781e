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

/// The socket's write pacing, if it is on (boxed: off by default, and then it costs a socket
/// one pointer).
pub(super) struct Pacing(Option<Box<Paced>>);

struct Paced {
    bucket: TokenBucket,
    /// The first frame of the next write and the time it may go.
    held: Option<(Pin<Box<Sleep>>, Utf8Bytes)>,
    /// Set when a write stopped at the batch limits: the rest follows without waiting again.
    catching_up: bool,
}

impl Pacing {
    pub(super) fn new(rate: f64, burst: f64, now: Instant) -> Pacing {
        Pacing((rate > 0.0).then(|| {
            Box::new(Paced {
                bucket: TokenBucket::new(rate, burst, now),
                held: None,
                catching_up: false,
            })
        }))
    }

    /// The first frame of the next event write, once it may go (at once when pacing is off).
    /// Cancel-safe: a frame taken from the queue is held here, not in the future, if the
    /// caller stops waiting.
    pub(super) async fn next(&mut self, outbox: &Receiver) -> Option<Utf8Bytes> {
        let Some(p) = self.0.as_mut() else {
            return outbox.recv().await;
        };
        if p.held.is_none() {
            let first = outbox.recv().await?;
            let wait = match std::mem::take(&mut p.catching_up) {
                false => p.bucket.take(Instant::now()),
                true => None,
            };
            let Some(wait) = wait else {
                return Some(first);
            };
            p.held = Some((Box::pin(tokio::time::sleep(wait)), first));
        }
        if let Some((timer, _)) = p.held.as_mut() {
            tokio::select! {
                _ = timer.as_mut() => {}
                _ = outbox.half_full() => {}
            }
        }
        p.held.take().map(|(_, first)| first)
    }

    /// Whether a frame taken from the queue waits here, unwritten.
    pub(super) fn holds(&self) -> bool {
        self.0.as_ref().is_some_and(|p| p.held.is_some())
    }

    /// The held frame, for a write that goes now (a reply takes the events queued before it).
    pub(super) fn release(&mut self) -> Option<Utf8Bytes> {
        let p = self.0.as_mut()?;
        p.held.take().map(|(_, first)| first)
    }

    /// Records whether the last event write stopped at the batch limits.
    pub(super) fn wrote(&mut self, stopped_at_limits: bool) {
        if let Some(p) = self.0.as_mut() {
            p.catching_up = stopped_at_limits;
        }
    }
}
