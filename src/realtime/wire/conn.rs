//! A server-side WebSocket connection as a `Stream` of the client's messages and a `Sink` of the
//! server's, the shape the socket loop (`realtime::socket`) drives.
//!
//! Written for what an idle socket costs and what a broadcast costs, the two things a real-time
//! server does most:
//! - no read buffer is held between messages: bytes are read into a buffer on the stack and only
//!   what is not yet a whole frame is kept (see [`Decoder`]);
//! - no write buffer either: a frame queued for sending is its header and the payload shared with
//!   every other socket it goes to, and a flush hands all of them to the kernel in one vectored
//!   write, with no copy. The list of queued frames is lent from a per-thread pool while there
//!   are any, so a write allocates nothing once the pool is warm.
//!
//! Pings are answered (a Pong with the same payload) and a client's Close is answered in kind,
//! both written on the next read or flush, as RFC 6455 asks.

use std::cell::RefCell;
use std::io::{self, IoSlice};
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use axum::extract::ws::Message;
use futures_util::{Sink, Stream};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::frame::{Decoder, OP_CLOSE, Outgoing, WireError};

/// What a connection failed on.
#[derive(Debug, thiserror::Error)]
pub enum ConnError {
    #[error(transparent)]
    Io(#[from] io::Error),
    #[error(transparent)]
    Wire(#[from] WireError),
    /// A send after the server's Close, or after the client's was answered.
    #[error("the WebSocket is closed")]
    Closed,
}

/// Bytes read from the kernel at a time, into a buffer on the stack of whichever thread polls.
pub const MAX_READ_CHUNK: usize = 16 * 1024;
/// Slices in one vectored write (two per frame); Linux takes up to 1,024.
const MAX_SLICES: usize = 128;
/// Queued bytes past which `poll_ready` writes before it takes another frame.
const HIGH_WATER: usize = 64 * 1024;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Closing {
    Open,
    /// The server sent its Close; the client's reply is awaited.
    Sent,
    /// The client's Close has arrived (and is answered, or the answer is queued).
    Received,
}

pub struct Conn<Io> {
    io: Io,
    decoder: Decoder,
    /// Frames to write, in order; capacity lent from [`SPARE`] while non-empty.
    out: Vec<Outgoing>,
    /// Frames of `out` fully written, and bytes of the next one.
    written: usize,
    offset: usize,
    /// Bytes of `out` not yet written.
    unwritten: usize,
    closing: Closing,
    /// The most bytes read at a time (at most [`MAX_READ_CHUNK`]).
    read_chunk: u16,
}

impl<Io: AsyncRead + AsyncWrite + Unpin> Conn<Io> {
    /// A connection whose handshake is done; `early` is what the client sent after its request
    /// and was read with it.
    pub fn new(io: Io, early: &[u8], max_message_bytes: usize, read_chunk: usize) -> Self {
        let mut decoder = Decoder::new(max_message_bytes);
        decoder.push(early);
        Conn {
            io,
            decoder,
            out: Vec::new(),
            written: 0,
            offset: 0,
            unwritten: 0,
            closing: Closing::Open,
            read_chunk: read_chunk.clamp(1, MAX_READ_CHUNK) as u16,
        }
    }

    fn queue(&mut self, frame: Outgoing) {
        if self.out.capacity() == 0 {
            self.out = SPARE.with_borrow_mut(|s| s.pop()).unwrap_or_default();
        }
        self.unwritten += frame.wire_len();
        self.out.push(frame);
    }

    /// Writes queued frames until all are written or the kernel's buffer is full.
    fn poll_write_out(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.unwritten > 0 {
            let mut slices = [IoSlice::new(&[]); MAX_SLICES];
            let mut n = 0;
            let mut skip = self.offset;
            for f in &self.out[self.written..] {
                if n + 2 > MAX_SLICES {
                    break;
                }
                // Only the first frame can be partly written already.
                let head = f.head();
                let (head_from, payload_from) = match skip.checked_sub(head.len()) {
                    None => (skip, 0),
                    Some(into_payload) => (head.len(), into_payload),
                };
                skip = 0;
                if head_from < head.len() {
                    slices[n] = IoSlice::new(&head[head_from..]);
                    n += 1;
                }
                if payload_from < f.payload.len() {
                    slices[n] = IoSlice::new(&f.payload[payload_from..]);
                    n += 1;
                }
            }
            let sent = ready!(Pin::new(&mut self.io).poll_write_vectored(cx, &slices[..n]))?;
            if sent == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.advance(sent);
        }
        if !self.out.is_empty() {
            // Everything went: the frames' payloads are released, the list goes back to the pool.
            let mut spare = std::mem::take(&mut self.out);
            spare.clear();
            if spare.capacity() <= 256 {
                SPARE.with_borrow_mut(|s| {
                    if s.len() < 64 {
                        s.push(spare);
                    }
                });
            }
            self.written = 0;
            self.offset = 0;
        }
        Poll::Ready(Ok(()))
    }

    fn advance(&mut self, mut sent: usize) {
        self.unwritten -= sent;
        while sent > 0 {
            let left = self.out[self.written].wire_len() - self.offset;
            if sent >= left {
                sent -= left;
                self.written += 1;
                self.offset = 0;
            } else {
                self.offset += sent;
                sent = 0;
            }
        }
    }

    /// Answers what needs answering; `Some` for what the loop should see.
    fn received(&mut self, message: Message) -> Option<Message> {
        match &message {
            Message::Ping(payload) if self.closing == Closing::Open => {
                self.queue(Outgoing::of(Message::Pong(payload.clone())).expect("≤ 125 bytes"));
            }
            Message::Close(frame) => {
                if self.closing == Closing::Open {
                    // Answered with the same code and reason (none if it gave none).
                    self.queue(Outgoing::of(Message::Close(frame.clone())).expect("a close fits"));
                }
                self.closing = Closing::Received;
            }
            _ if self.closing == Closing::Received => return None,
            _ => {}
        }
        Some(message)
    }
}

thread_local! {
    /// Emptied frame lists, so that a write turn borrows one instead of allocating.
    static SPARE: RefCell<Vec<Vec<Outgoing>>> = const { RefCell::new(Vec::new()) };
}

impl<Io: AsyncRead + AsyncWrite + Unpin> Stream for Conn<Io> {
    type Item = Result<Message, ConnError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            // Answers to Pings and Closes go out while reading; a full kernel buffer leaves them
            // queued, and the read goes on (the socket loop bounds what a peer that never reads
            // can make it owe).
            if this.unwritten > 0
                && let Poll::Ready(Err(e)) = this.poll_write_out(cx)
            {
                return Poll::Ready(Some(Err(e.into())));
            }
            if this.closing == Closing::Received {
                return Poll::Ready(None);
            }
            match this.decoder.decode() {
                Ok(Some(m)) => match this.received(m) {
                    Some(m) => {
                        // A Pong goes now, not at the next read: the loop may not read again
                        // for a while (a throttled client). A full buffer leaves it queued.
                        if matches!(m, Message::Ping(_))
                            && let Poll::Ready(Err(e)) = this.poll_write_out(cx)
                        {
                            return Poll::Ready(Some(Err(e.into())));
                        }
                        return Poll::Ready(Some(Ok(m)));
                    }
                    None => continue,
                },
                Ok(None) => {}
                Err(e) => return Poll::Ready(Some(Err(e.into()))),
            }
            // Left uninitialised: the socket task polls this on every wake-up, a write's too,
            // and zeroing 16 KiB each time cost more than the write.
            let mut chunk = [MaybeUninit::<u8>::uninit(); MAX_READ_CHUNK];
            let mut buf = ReadBuf::uninit(&mut chunk[..usize::from(this.read_chunk)]);
            match ready!(Pin::new(&mut this.io).poll_read(cx, &mut buf)) {
                Err(e) => return Poll::Ready(Some(Err(e.into()))),
                // The peer closed its side (with or without the closing handshake).
                Ok(()) if buf.filled().is_empty() => return Poll::Ready(None),
                Ok(()) => this.decoder.push(buf.filled()),
            }
        }
    }
}

impl<Io: AsyncRead + AsyncWrite + Unpin> Sink<Message> for Conn<Io> {
    type Error = ConnError;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), ConnError>> {
        let this = self.get_mut();
        if this.unwritten >= HIGH_WATER {
            ready!(this.poll_write_out(cx))?;
        }
        Poll::Ready(Ok(()))
    }

    fn start_send(self: Pin<&mut Self>, message: Message) -> Result<(), ConnError> {
        let this = self.get_mut();
        if this.closing != Closing::Open {
            return Err(ConnError::Closed);
        }
        let frame = Outgoing::of(message).ok_or(WireError::Protocol(
            "a control frame carries at most 125 bytes",
        ))?;
        if frame.opcode() == OP_CLOSE {
            this.closing = Closing::Sent;
        }
        this.queue(frame);
        Ok(())
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), ConnError>> {
        let this = self.get_mut();
        ready!(this.poll_write_out(cx))?;
        Poll::Ready(ready!(Pin::new(&mut this.io).poll_flush(cx)).map_err(Into::into))
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), ConnError>> {
        ready!(self.as_mut().poll_flush(cx))?;
        Poll::Ready(ready!(Pin::new(&mut self.get_mut().io).poll_shutdown(cx)).map_err(Into::into))
    }
}

#[cfg(test)]
mod tests;
