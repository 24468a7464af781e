//! One socket's life: a single task that reads the client's messages, drains the socket's own
//! bounded outbound queue (whatever is pending when the task runs leaves in one write: batches
//! grow only from backlog, never from waiting; opt-in pacing in `pacing.rs`), keeps the connection
//! alive, and closes it with a code that says why. Nothing else ever writes to the socket, and
//! the router never waits on it: it only `try_send`s into the queue.
//!
//! The loop is generic over `Sink + Stream` of axum messages, so its timing rules are tested
//! with channels and paused time (see `tests.rs`), and integration tests cover the real thing.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes};
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use tokio::time::{Instant, Sleep};
use tokio_util::sync::CancellationToken;

use self::handle::{Step, handle};
use self::pacing::{Pacing, TokenBucket};
use self::resume::Resume;
use self::write::{Writing, write};
use super::filter::FilterLimits;
use super::hub::Hub;
use super::index::SocketId;
use super::outbox::Receiver;
use super::registry::Registry;
use super::wire::conn::ConnError;
use super::wire::frame::WireError;

/// Per-socket limits and timings (from [`crate::Config`]).
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Frames waiting for one socket before it counts as too slow.
    pub queue: usize,
    /// How often a keep-alive is sent (h: a Pong "beep" every 30 s).
    pub heartbeat: Duration,
    /// A socket that sends nothing, not even a Pong, for this long is closed.
    pub idle_timeout: Duration,
    /// Largest message (and frame) accepted, in bytes.
    pub max_message_bytes: usize,
    pub filter: FilterLimits,
    /// Sustained client messages per second; a faster client is throttled (its messages wait).
    pub messages_per_second: f64,
    /// Messages a client may send in a burst before throttling starts.
    pub message_burst: f64,
    pub read_buffer_bytes: usize,
    /// Writes per second a socket settles to once its burst is spent (0, the default: no
    /// pacing, every write goes when the task runs).
    pub write_rate: f64,
    /// Writes a socket makes at once before the pacing applies.
    pub write_burst: f64,
    /// Echo every data message back instead of interpreting it: only the conformance endpoint
    /// `/_echo` sets it, so RFC 6455 cases run against this very loop.
    pub echo: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            queue: 256,
            heartbeat: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(90),
            max_message_bytes: 64 * 1024,
            filter: FilterLimits::default(),
            messages_per_second: 20.0,
            message_burst: 100.0,
            read_buffer_bytes: 256,
            write_rate: 0.0,
            write_burst: 10.0,
            echo: false,
        }
    }
}

/// Frames and bytes written in one go at most; the rest of the queue waits for the next write.
/// The byte bound also bounds the WebSocket's own write buffer for a socket whose peer has
/// stopped reading (the queued frames themselves are shared with other sockets).
const MAX_BATCH: usize = 64;
const MAX_BATCH_BYTES: usize = 64 * 1024;
/// Pings a peer may send before the server flushes their Pongs (which it otherwise leaves
/// for the next write): the bound on what a peer that pings and never reads can cost.
const MAX_OWED_PONGS: usize = 16;
/// How long a closing socket waits for its close frame to go out and for the peer's reply.
const CLOSE_GRACE: Duration = Duration::from_secs(1);
/// How long a socket closed as slow waits for room for its close frame (README, docs: a client
/// that reads nothing for longer sees the connection end without one).
pub const SLOW_CLOSE_GRACE: Duration = Duration::from_secs(10);
/// How long a socket closing for a restart may take to write what was routed to it before
/// (README: the server writes every event committed before it began to stop, then closes).
pub const SHUTDOWN_DRAIN: Duration = Duration::from_secs(2);

/// Why a socket ended; each has its documented close code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    /// The client sent a Close frame (it is answered in kind).
    ClientClosed,
    /// The connection dropped or broke.
    Gone,
    /// A data frame that is not JSON: 1000 `invalid message format`, as h.
    InvalidJson,
    /// A message over the size limit: 1009.
    TooBig,
    /// Frames that break RFC 6455 (unmasked, a bad opcode, a close code a peer may not send...):
    /// 1002.
    ProtocolError,
    /// A text message or close reason that is not UTF-8: 1007.
    InvalidUtf8,
    /// The outbound queue overflowed: 1013.
    Slow,
    /// No frame from the peer within the idle timeout: 4000.
    Idle,
    /// The server is stopping: 1012, after which clients reconnect.
    Shutdown,
    /// What the client missed could not be read for its transparent resume: 1011, so that it
    /// reconnects and the resume is tried again from the same cursor.
    ResumeFailed,
}

impl Ending {
    pub fn as_str(self) -> &'static str {
        match self {
            Ending::ClientClosed => "client_closed",
            Ending::Gone => "connection_lost",
            Ending::InvalidJson => "invalid_message",
            Ending::TooBig => "message_too_big",
            Ending::ProtocolError => "protocol_error",
            Ending::InvalidUtf8 => "invalid_utf8",
            Ending::Slow => "slow_consumer",
            Ending::Idle => "idle_timeout",
            Ending::Shutdown => "server_shutdown",
            Ending::ResumeFailed => "resume_failed",
        }
    }

    /// The close frame the server sends, if it sends one.
    pub fn close_frame(self) -> Option<CloseFrame> {
        let (code, reason) = match self {
            Ending::ClientClosed | Ending::Gone => return None,
            Ending::InvalidJson => (1000, "invalid message format"),
            Ending::TooBig => (1009, "message too big"),
            Ending::ProtocolError => (1002, "protocol violation"),
            Ending::InvalidUtf8 => (1007, "invalid UTF-8"),
            Ending::Slow => (1013, "too slow: outbound queue full"),
            Ending::Idle => (4000, "no response within the idle timeout"),
            Ending::Shutdown => (1012, "server restarting"),
            Ending::ResumeFailed => (1011, "could not replay missed events; reconnect"),
        };
        Some(CloseFrame {
            code,
            reason: Utf8Bytes::from_static(reason),
        })
    }
}

/// What the loop needs besides the connection itself.
pub struct Socket {
    pub id: SocketId,
    /// For replays (resume); `None` in unit tests of the loop.
    pub hub: Option<Hub>,
    pub registry: Arc<Registry>,
    /// For `whoami`; fixed at connect, as in h.
    pub userid: Option<String>,
    /// Frames to write; the router marks it slow when it overflows, and the socket closes.
    pub outbox: Receiver,
    /// Cancelled when the server shuts down.
    pub shutdown: CancellationToken,
    pub limits: Limits,
}

/// Runs the socket until it ends, then closes it; returns why it ended.
///
/// A plain function returning an `async move` block, not an `async fn`: an `async fn` keeps
/// its arguments twice in its state (as passed, and moved into its body), and `sock` is most of
/// what every idle socket's task holds.
#[expect(
    clippy::manual_async_fn,
    reason = "an async fn would store `sock` twice (see above)"
)]
pub fn drive<S, E>(ws: S, sock: Socket) -> impl Future<Output = Ending>
where
    S: Stream<Item = Result<Message, E>> + Sink<Message> + Unpin,
    E: std::error::Error + 'static,
{
    async move { drive_loop(ws, &sock).await }
}

async fn drive_loop<S, E>(mut ws: S, sock: &Socket) -> Ending
where
    S: Stream<Item = Result<Message, E>> + Sink<Message> + Unpin,
    E: std::error::Error + 'static,
{
    // Not split into halves: reading and writing take turns in this one task, so the socket
    // needs no lock between them.
    let limits = &sock.limits;
    let start = Instant::now();
    let mut heartbeat = tokio::time::interval_at(start + limits.heartbeat, limits.heartbeat);
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_heard = start;
    let mut bucket = TokenBucket::new(limits.messages_per_second, limits.message_burst, start);
    // Boxed and only while throttled: an inline timer would take room in every socket's task.
    let mut throttle: Option<Pin<Box<Sleep>>> = None;
    // Writes are paced (see `pacing`): a frame held back waits there, the rest in the queue.
    let mut pacing = Pacing::new(limits.write_rate, limits.write_burst, start);
    // Created once, not per loop turn: each creation registers a waiter on the token, and a
    // socket loops once per delivery.
    let shutdown = sock.shutdown.clone();
    let shutdown = shutdown.cancelled();
    tokio::pin!(shutdown);
    let events_out = metrics::counter!("scholia_ws_messages_out_total", "type" => "event");
    // Pings answered since the last flush (their Pongs sit in the write buffer until one).
    let mut owed_pongs = 0usize;
    // Whether this socket has had its one chance at a transparent resume (or resumed itself).
    let mut resume_tried = false;
    // A replay asked for by the last message, run once that turn's write is done (boxed: a
    // pointer in every socket's task).
    let mut pending: Option<Box<Resume>> = None;

    let ending = loop {
        let writing = tokio::select! {
            biased;
            _ = &mut shutdown => break Ending::Shutdown,
            frame = pacing.next(&sock.outbox) => {
                let Some(first) = frame else {
                    break if sock.outbox.is_slow() { Ending::Slow } else { Ending::Shutdown };
                };
                Writing::Queued(first)
            }
            _ = async { if let Some(t) = throttle.as_mut() { t.as_mut().await } }, if throttle.is_some() => {
                throttle = None;
                continue;
            }
            msg = ws.next(), if throttle.is_none() => {
                last_heard = Instant::now();
                let mut text = false;
                let raw = match msg {
                    Some(Ok(Message::Text(t))) => {
                        text = true;
                        Some(Bytes::from(t))
                    }
                    Some(Ok(Message::Binary(b))) => Some(b),
                    // The connection answers a Ping itself, but a peer that pings and never
                    // reads leaves the Pongs queued in it: counted, so that they cannot grow
                    // without end (issue 18, finding 1).
                    Some(Ok(Message::Ping(_))) => {
                        owed_pongs += 1;
                        None
                    }
                    // A Pong only proves the peer is alive.
                    Some(Ok(Message::Pong(_))) => None,
                    Some(Ok(Message::Close(_))) => break Ending::ClientClosed,
                    Some(Err(e)) => break ending_of(&e),
                    None => break Ending::Gone,
                };
                // Control frames draw on the same budget as messages, so a flood of them is
                // read no faster than a flood of messages.
                if let Some(wait) = bucket.take(last_heard) {
                    metrics::counter!("scholia_ws_throttled_total").increment(1);
                    throttle = Some(Box::pin(tokio::time::sleep_until(last_heard + wait)));
                }
                match raw {
                    None if owed_pongs < MAX_OWED_PONGS => continue,
                    // Flushed like any write: a peer that does not take its Pongs stalls the
                    // flush, and is closed as slow like any reader that falls behind.
                    None => Writing::Control(vec![]),
                    // The conformance endpoint: the message goes back as it came.
                    Some(raw) if limits.echo => Writing::Reply {
                        held: pacing.release(),
                        reply: Some(echo(raw, text)),
                    },
                    Some(raw) => match handle(sock, &raw, &mut resume_tried) {
                        Ok(Step::Reply(reply)) => Writing::Reply {
                            held: pacing.release(),
                            reply: Some(Message::Text(reply.into())),
                        },
                        // Run after this turn's write (a flush of nothing), where no message
                        // state is alive beside the replay's.
                        Ok(Step::Resume(how)) => {
                            pending = Some(Box::new(how));
                            Writing::Control(vec![])
                        }
                        Ok(Step::Nothing) => continue,
                        Err(ending) => break ending,
                    },
                }
            }
            _ = heartbeat.tick() => {
                let silent = last_heard.elapsed();
                if silent >= limits.idle_timeout {
                    break Ending::Idle;
                }
                // h's keep-alive is an unsolicited Pong "beep"; a Ping as well when the peer
                // has been quiet, because only a Ping makes it answer and prove it is alive.
                let mut frames = vec![Message::Pong(Bytes::from_static(b"beep"))];
                if silent >= limits.heartbeat {
                    frames.push(Message::Ping(Bytes::new()));
                }
                Writing::Control(frames)
            }
        };
        // Events that back up end a stalled write (the queue overflows). Keep-alives, Pongs and
        // replies may have no queue behind them (a peer that sends requests and never reads the
        // answers, on a socket nothing is routed to), so their write gets the idle timeout too
        // (boxed: rare, and an inline timer would enlarge every socket's task).
        let mut deadline = (!matches!(writing, Writing::Queued(_)))
            .then(|| Box::pin(tokio::time::sleep(limits.idle_timeout)));
        tokio::select! {
            biased;
            _ = &mut shutdown => break Ending::Shutdown,
            _ = sock.outbox.slowed() => break Ending::Slow,
            written = write(&mut ws, &sock.outbox, writing, &events_out) => match written {
                Some(stopped_at_limits) => {
                    // Every write flushes, the Pongs the connection queued included.
                    owed_pongs = 0;
                    // What it took from the queue has gone out (resume cursors may pass it),
                    // unless pacing holds a frame back.
                    if !pacing.holds() {
                        sock.outbox.settle();
                    }
                    pacing.wrote(stopped_at_limits)
                }
                None => break Ending::Gone,
            },
            _ = async { if let Some(d) = deadline.as_mut() { d.as_mut().await } }, if deadline.is_some() => {
                break Ending::Slow
            }
        }
        if let Some(how) = pending.take() {
            // Boxed, deadline and slowness watch and all: only a resuming socket needs their
            // state, and inline they would enlarge every socket's task.
            let held = pacing.release();
            let replay = Box::pin(async {
                tokio::select! {
                    biased;
                    _ = sock.outbox.slowed() => Err(Ending::Slow),
                    r = tokio::time::timeout(
                        limits.idle_timeout,
                        resume::run(&mut ws, sock, *how, held),
                    ) => r.unwrap_or(Err(Ending::Slow)),
                }
            });
            let ended = tokio::select! {
                biased;
                _ = &mut shutdown => Err(Ending::Shutdown),
                r = replay => r,
            };
            if let Err(ending) = ended {
                break ending;
            }
        }
    };

    if ending == Ending::Shutdown {
        // The hub told sockets to close only once it had routed every change committed before
        // the server began to stop: those go out first, paced or not, within a deadline.
        let drain = Writing::Reply {
            held: pacing.release(),
            reply: None,
        };
        let drained = write(&mut ws, &sock.outbox, drain, &events_out);
        if let Ok(Some(_)) = Box::pin(tokio::time::timeout(SHUTDOWN_DRAIN, drained)).await {
            sock.outbox.settle();
        }
    }
    // Boxed: only a closing socket needs the timers, so they do not enlarge every socket's task.
    Box::pin(finish(ws, ending)).await;
    ending
}

/// Sends the close frame (if the ending has one) and waits briefly for the peer's.
async fn finish<S, E>(mut ws: S, ending: Ending)
where
    S: Stream<Item = Result<Message, E>> + Sink<Message> + Unpin,
{
    if let Some(frame) = ending.close_frame() {
        // A slow socket's close frame waits behind everything already on its way: a reader
        // that is slow rather than gone gets the documented 1013 if it catches up in time.
        let grace = match ending {
            Ending::Slow => SLOW_CLOSE_GRACE,
            _ => CLOSE_GRACE,
        };
        let _ = tokio::time::timeout(grace, ws.send(Message::Close(Some(frame)))).await;
    }
    if ending != Ending::Gone {
        let _ = tokio::time::timeout(CLOSE_GRACE, async {
            let _ = ws.flush().await;
            while let Some(Ok(_)) = ws.next().await {}
        })
        .await;
    }
}

/// Why a read failed: a client's frames the codec refused (each with its close code), or a
/// broken connection. The error's sources are searched, so any transport's error can wrap it.
fn ending_of(error: &(dyn std::error::Error + 'static)) -> Ending {
    let refused = std::iter::successors(Some(error), |e| e.source()).find_map(|e| match e
        .downcast_ref::<ConnError>()
    {
        Some(ConnError::Wire(w)) => Some(w),
        _ => e.downcast_ref::<WireError>(),
    });
    match refused {
        Some(WireError::TooBig(_)) => Ending::TooBig,
        Some(WireError::Protocol(_)) => Ending::ProtocolError,
        Some(WireError::Utf8) => Ending::InvalidUtf8,
        None => Ending::Gone,
    }
}

/// A data message as it arrived, for `/_echo`.
fn echo(raw: Bytes, text: bool) -> Message {
    // Read as text, so valid UTF-8 (checked again rather than assumed).
    match std::str::from_utf8(&raw) {
        Ok(t) if text => Message::Text(t.into()),
        _ => Message::Binary(raw),
    }
}

mod handle;
mod pacing;
mod resume;
#[cfg(test)]
mod tests;
mod write;
