//! The socket loop's writes: what one turn writes ([`Writing`]) and how it goes out, batched
//! from the queue and flushed once.
//!
//! The write is a hand-written future ([`Write`]) rather than an `async fn`: a socket's task is
//! sized for the largest state it can be in, and an `async fn` that awaits `feed` and `flush`
//! keeps each of their futures, its arguments twice and the frame in flight, about 600 bytes
//! that every idle socket would carry (S1). This one holds the frame waiting for room and a
//! little bookkeeping.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use futures_util::Sink;

use super::{MAX_BATCH, MAX_BATCH_BYTES, Message, Receiver, Utf8Bytes};

/// What one turn of the socket loop writes.
pub(super) enum Writing {
    /// Event frames: this one, then whatever else is queued, up to the batch limits.
    Queued(Utf8Bytes),
    /// A reply, after every event queued before it (the held one first), paced or not: when a
    /// `pong` arrives, the events queued before its `ping` was read have arrived too. Without a
    /// reply, the queue's last writes before the socket closes.
    Reply {
        held: Option<Utf8Bytes>,
        reply: Option<Message>,
    },
    /// Keep-alives.
    Control(Vec<Message>),
}

/// Writes one turn's frames and flushes once. Event frames go from the queue straight into the
/// WebSocket's write buffer, `first` and then whatever is queued behind it up to the batch
/// limits: a socket that fell behind catches up in one `send`, and nothing is collected on the
/// way (a broadcast wakes every socket, so a per-turn list would be an allocation per delivery
/// round). Resolves to `None` if the connection failed; otherwise whether the write stopped at
/// the limits with frames still queued.
pub(super) fn write<'a, Si: Sink<Message> + Unpin>(
    sink: &'a mut Si,
    outbox: &'a Receiver,
    writing: Writing,
    counter: &'a metrics::Counter,
) -> Write<'a, Si> {
    let mut reply = None;
    let (first, rest) = match writing {
        Writing::Queued(first) => (Some(first), Rest::Batch),
        Writing::Reply { held, reply: r } => {
            reply = r;
            (held, Rest::Drain)
        }
        Writing::Control(frames) => (None, Rest::Control(frames.into_iter())),
    };
    let mut w = Write {
        sink,
        outbox,
        counter,
        next: None,
        reply,
        rest,
        frames: 0,
        bytes: 0,
        flush: Flush::No,
    };
    w.next = first.map(|f| w.event(f));
    w
}

/// What follows the frame in hand.
enum Rest {
    /// Queued frames up to the batch limits, then one flush.
    Batch,
    /// Every queued frame (flushed every `MAX_BATCH_BYTES`), then the reply, then a flush.
    Drain,
    /// These frames, then a flush.
    Control(std::vec::IntoIter<Message>),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Flush {
    No,
    /// A flush in the middle of a drain, after which writing goes on.
    Midway,
    /// The last flush; the write then resolves to `Some(full)`.
    Last {
        full: bool,
    },
}

pub(super) struct Write<'a, Si> {
    sink: &'a mut Si,
    outbox: &'a Receiver,
    counter: &'a metrics::Counter,
    /// The frame waiting for the sink to take it.
    next: Option<Message>,
    /// A drain's reply, written after the queue.
    reply: Option<Message>,
    rest: Rest,
    frames: u64,
    /// Bytes fed since the last flush.
    bytes: usize,
    flush: Flush,
}

impl<Si: Sink<Message> + Unpin> Write<'_, Si> {
    /// Counts an event frame (replies and keep-alives are not events).
    fn event(&mut self, frame: Utf8Bytes) -> Message {
        self.frames += 1;
        self.bytes += frame.len();
        Message::Text(frame)
    }

    /// The next queued event frame, counted.
    fn queued(&mut self) -> Option<Message> {
        let frame = self.outbox.try_recv()?;
        Some(self.event(frame))
    }

    /// Chooses the next frame to feed, or the flush that comes next.
    fn plan(&mut self) {
        let frame = match self.rest {
            Rest::Batch => {
                let limited = self.frames as usize >= MAX_BATCH || self.bytes >= MAX_BATCH_BYTES;
                match limited {
                    true => None,
                    false => self.queued(),
                }
                .ok_or(Flush::Last { full: limited })
            }
            Rest::Drain if self.bytes >= MAX_BATCH_BYTES => Err(Flush::Midway),
            Rest::Drain => self
                .queued()
                .or_else(|| self.reply.take())
                .ok_or(Flush::Last { full: false }),
            Rest::Control(ref mut frames) => frames.next().ok_or(Flush::Last { full: false }),
        };
        match frame {
            Ok(m) => self.next = Some(m),
            Err(f) => self.flush = f,
        }
    }
}

impl<Si: Sink<Message> + Unpin> Future for Write<'_, Si> {
    type Output = Option<bool>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<bool>> {
        let this = self.get_mut();
        loop {
            if let Some(frame) = this.next.take() {
                let mut sink = Pin::new(&mut *this.sink);
                match sink.as_mut().poll_ready(cx) {
                    Poll::Pending => {
                        this.next = Some(frame);
                        return Poll::Pending;
                    }
                    Poll::Ready(Err(_)) => return Poll::Ready(None),
                    Poll::Ready(Ok(())) => {}
                }
                if sink.start_send(frame).is_err() {
                    return Poll::Ready(None);
                }
                this.plan();
                continue;
            }
            match this.flush {
                Flush::No => this.plan(),
                flush => {
                    if ready!(Pin::new(&mut *this.sink).poll_flush(cx)).is_err() {
                        return Poll::Ready(None);
                    }
                    this.flush = Flush::No;
                    this.bytes = 0;
                    if let Flush::Last { full } = flush {
                        this.counter.increment(this.frames);
                        return Poll::Ready(Some(full));
                    }
                    this.plan();
                }
            }
        }
    }
}
