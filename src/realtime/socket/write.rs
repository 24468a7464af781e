//! The socket loop's writes: what one turn writes ([`Writing`]) and how it goes out, batched
//! from the queue and flushed once.

use futures_util::{Sink, SinkExt};

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
/// round). `None` if the connection failed; otherwise whether the write stopped at the limits
/// with frames still queued.
pub(super) async fn write<Si: Sink<Message> + Unpin>(
    sink: &mut Si,
    outbox: &Receiver,
    writing: Writing,
    counter: &metrics::Counter,
) -> Option<bool> {
    let first = match writing {
        Writing::Control(frames) => return write_all(sink, frames).await.then_some(false),
        Writing::Reply { mut held, reply } => {
            // Everything queued goes first, flushed every MAX_BATCH_BYTES so the WebSocket's
            // write buffer stays as small as for any other write.
            let (mut frames, mut bytes) = (0, 0);
            while let Some(f) = held.take().or_else(|| outbox.try_recv()) {
                frames += 1;
                bytes += f.len();
                sink.feed(Message::Text(f)).await.ok()?;
                if bytes >= MAX_BATCH_BYTES {
                    sink.flush().await.ok()?;
                    bytes = 0;
                }
            }
            counter.increment(frames);
            return write_all(sink, reply.into_iter().collect())
                .await
                .then_some(false);
        }
        Writing::Queued(first) => first,
    };
    let (mut frames, mut bytes) = (1, first.len());
    sink.feed(Message::Text(first)).await.ok()?;
    let mut full = true;
    while frames < MAX_BATCH && bytes < MAX_BATCH_BYTES {
        let Some(f) = outbox.try_recv() else {
            full = false;
            break;
        };
        frames += 1;
        bytes += f.len();
        sink.feed(Message::Text(f)).await.ok()?;
    }
    counter.increment(frames as u64);
    sink.flush().await.ok()?;
    Some(full)
}

pub(super) async fn write_all<Si: Sink<Message> + Unpin>(
    sink: &mut Si,
    frames: Vec<Message>,
) -> bool {
    for f in frames {
        if sink.feed(f).await.is_err() {
            return false;
        }
    }
    sink.flush().await.is_ok()
}
