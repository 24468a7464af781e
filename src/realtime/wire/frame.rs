//! RFC 6455 framing, server side: decoding what a client sends (masked frames, messages in
//! fragments, control frames between the fragments) and the header of what the server sends
//! (unmasked, never fragmented). No I/O here, so all of it is unit-tested and fuzzed
//! (`fuzz/fuzz_targets/ws_frame.rs`).

use axum::body::Bytes;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes};

/// The longest header the server writes: two bytes and a 64-bit length.
pub const MAX_HEADER: usize = 10;
/// Fragments one message may come in, at least (a message in more is refused as too big,
/// 1009); a larger size limit allows one fragment per 64 bytes of it. Each fragment has at
/// least 6 bytes of header, so a message's bytes on the wire stay within 1.1 times the limit,
/// and empty fragments cannot keep a socket reading without end.
pub const MAX_FRAGMENTS: usize = 1024;
/// A buffer holding more than this for a few leftover bytes is shrunk.
const SHRINK_ABOVE: usize = 4096;

const OP_CONTINUATION: u8 = 0x0;
const OP_TEXT: u8 = 0x1;
const OP_BINARY: u8 = 0x2;
pub(super) const OP_CLOSE: u8 = 0x8;
pub(super) const OP_PING: u8 = 0x9;
pub(super) const OP_PONG: u8 = 0xA;

/// Why a client's bytes are not WebSocket messages we accept; each maps to a close code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// RFC 6455 §7.4.1's 1002.
    #[error("protocol violation: {0}")]
    Protocol(&'static str),
    /// A text message or a close reason that is not UTF-8: 1007.
    #[error("a text message or close reason is not valid UTF-8")]
    Utf8,
    /// A frame or a message over the limit: 1009.
    #[error("a message or frame over {0} bytes")]
    TooBig(usize),
}

/// One frame's header as the client sent it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Head {
    fin: bool,
    opcode: u8,
    mask: [u8; 4],
    /// Payload length.
    len: usize,
    /// Header length, mask included.
    size: usize,
}

impl Head {
    /// Reads a header from the start of `buf`: `None` until all of it has arrived. A frame is
    /// refused as soon as its header shows it breaks a rule, before its payload is read.
    fn parse(buf: &[u8], max: usize) -> Result<Option<Head>, WireError> {
        let [b0, b1, ..] = *buf else {
            return Ok(None);
        };
        if b0 & 0x70 != 0 {
            return Err(WireError::Protocol(
                "reserved bits set; no extension was agreed",
            ));
        }
        let fin = b0 & 0x80 != 0;
        let opcode = b0 & 0x0F;
        if !matches!(
            opcode,
            OP_CONTINUATION | OP_TEXT | OP_BINARY | OP_CLOSE | OP_PING | OP_PONG
        ) {
            return Err(WireError::Protocol("unknown opcode"));
        }
        if b1 & 0x80 == 0 {
            return Err(WireError::Protocol("a client's frames must be masked"));
        }
        let (len, at) = match b1 & 0x7F {
            126 => match buf.get(2..4) {
                Some(b) => (u64::from(u16::from_be_bytes([b[0], b[1]])), 4),
                None => return Ok(None),
            },
            127 => match buf.get(2..10) {
                Some(b) => {
                    let n = u64::from_be_bytes(b.try_into().expect("eight bytes"));
                    if n >> 63 != 0 {
                        return Err(WireError::Protocol("a 64-bit length's top bit is set"));
                    }
                    (n, 10)
                }
                None => return Ok(None),
            },
            n => (u64::from(n), 2),
        };
        if opcode >= OP_CLOSE {
            if !fin {
                return Err(WireError::Protocol("a control frame may not be fragmented"));
            }
            if len > 125 {
                return Err(WireError::Protocol(
                    "a control frame carries at most 125 bytes",
                ));
            }
        }
        let len = match usize::try_from(len) {
            Ok(n) if n <= max => n,
            _ => return Err(WireError::TooBig(max)),
        };
        let Some(mask) = buf.get(at..at + 4) else {
            return Ok(None);
        };
        Ok(Some(Head {
            fin,
            opcode,
            mask: mask.try_into().expect("four bytes"),
            len,
            size: at + 4,
        }))
    }
}

/// A message whose first fragments have arrived.
struct Fragments {
    text: bool,
    data: Vec<u8>,
    /// Bytes of a text message's `data` known to be UTF-8 (what follows may be a character
    /// cut between fragments).
    checked: usize,
    frames: usize,
}

impl Fragments {
    /// Refuses a text message as soon as a fragment shows it cannot be UTF-8, rather than once
    /// it is complete (RFC 6455 §8.1); each byte is checked once.
    fn check(&mut self) -> Result<(), WireError> {
        if !self.text {
            return Ok(());
        }
        match std::str::from_utf8(&self.data[self.checked..]) {
            Ok(_) => self.checked = self.data.len(),
            Err(e) if e.error_len().is_some() => return Err(WireError::Utf8),
            Err(e) => self.checked += e.valid_up_to(),
        }
        Ok(())
    }
}

/// Turns the bytes a client sends into messages.
///
/// It holds only what has arrived and is not yet a whole frame, and the fragments of a message
/// in progress: for a client whose frames arrive whole, both are empty and unallocated between
/// messages, so an idle socket keeps no read buffer.
pub struct Decoder {
    buf: Vec<u8>,
    /// Bytes at the front of `buf` already decoded: dropped at the next `push`, so that a read
    /// of many small frames moves what follows them once, not once per frame.
    consumed: usize,
    /// Boxed: a pointer in every socket, the rest only while a message is in fragments.
    fragments: Option<Box<Fragments>>,
    /// The largest frame, and the largest message, accepted.
    max: usize,
}

impl Decoder {
    pub fn new(max_message_bytes: usize) -> Self {
        Decoder {
            buf: Vec::new(),
            consumed: 0,
            fragments: None,
            max: max_message_bytes,
        }
    }

    /// Bytes as read from the connection.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.consumed > 0 {
            self.buf.drain(..self.consumed);
            self.consumed = 0;
            // What a large frame left behind is given back once the rest is small.
            if self.buf.capacity() > SHRINK_ABOVE && self.buf.len() + bytes.len() < SHRINK_ABOVE {
                self.buf.shrink_to(self.buf.len() + bytes.len());
            }
        }
        self.buf.extend_from_slice(bytes);
    }

    /// The next message, a control frame being a message of its own; `None` until more bytes
    /// arrive. After an error the connection must be failed: what follows is not read.
    pub fn decode(&mut self) -> Result<Option<Message>, WireError> {
        loop {
            let rest = &self.buf[self.consumed..];
            let Some(head) = Head::parse(rest, self.max)? else {
                return Ok(None);
            };
            let end = head.size + head.len;
            if rest.len() < end {
                return Ok(None);
            }
            let mut payload = rest[head.size..end].to_vec();
            unmask(&mut payload, head.mask);
            self.consumed += end;
            if self.consumed == self.buf.len() {
                // Gives the memory back: an idle socket holds no buffer.
                self.buf = Vec::new();
                self.consumed = 0;
            }
            match head.opcode {
                OP_CONTINUATION => {
                    let Some(f) = self.fragments.as_mut() else {
                        return Err(WireError::Protocol(
                            "a continuation frame with no message to continue",
                        ));
                    };
                    f.frames += 1;
                    // Empty fragments cost nothing against the size limit; the count bounds
                    // the work a client can cause with them.
                    if f.data.len() + payload.len() > self.max
                        || f.frames > MAX_FRAGMENTS.max(self.max / 64)
                    {
                        return Err(WireError::TooBig(self.max));
                    }
                    f.data.extend_from_slice(&payload);
                    f.check()?;
                    if head.fin {
                        let f = self.fragments.take().expect("checked above");
                        return data_message(f.text, f.data).map(Some);
                    }
                }
                OP_TEXT | OP_BINARY => {
                    if self.fragments.is_some() {
                        return Err(WireError::Protocol(
                            "a new message began before the last one was complete",
                        ));
                    }
                    let text = head.opcode == OP_TEXT;
                    if head.fin {
                        return data_message(text, payload).map(Some);
                    }
                    let mut f = Box::new(Fragments {
                        text,
                        data: payload,
                        checked: 0,
                        frames: 1,
                    });
                    f.check()?;
                    self.fragments = Some(f);
                }
                OP_CLOSE => return close_message(&payload).map(Some),
                OP_PING => return Ok(Some(Message::Ping(payload.into()))),
                _ => return Ok(Some(Message::Pong(payload.into()))),
            }
        }
    }
}

fn unmask(payload: &mut [u8], mask: [u8; 4]) {
    for (i, b) in payload.iter_mut().enumerate() {
        *b ^= mask[i & 3];
    }
}

fn data_message(text: bool, data: Vec<u8>) -> Result<Message, WireError> {
    if text {
        Utf8Bytes::try_from(data)
            .map(Message::Text)
            .map_err(|_| WireError::Utf8)
    } else {
        Ok(Message::Binary(data.into()))
    }
}

/// A close frame's payload: nothing, or a code and a UTF-8 reason (RFC 6455 §5.5.1, §7.4).
fn close_message(payload: &[u8]) -> Result<Message, WireError> {
    let (code, reason) = match payload {
        [] => return Ok(Message::Close(None)),
        [_] => return Err(WireError::Protocol("a close frame of one byte")),
        [a, b, reason @ ..] => (u16::from_be_bytes([*a, *b]), reason),
    };
    // The codes a peer may send: 1004-1006 and 1015 are reserved for reports that never go
    // on the wire, the rest of 1000-2999 is unassigned, 3000-4999 belong to applications.
    if !matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999) {
        return Err(WireError::Protocol("a close code a peer may not send"));
    }
    let reason = Utf8Bytes::try_from(reason.to_vec()).map_err(|_| WireError::Utf8)?;
    Ok(Message::Close(Some(CloseFrame { code, reason })))
}

/// What the server sends in one frame: its header and payload, the payload shared with every
/// socket the same frame goes to.
pub struct Outgoing {
    head: [u8; MAX_HEADER],
    head_len: u8,
    pub payload: Bytes,
}

impl Outgoing {
    /// A final, unmasked frame (the server never fragments what it sends).
    pub fn new(opcode: u8, payload: Bytes) -> Self {
        let mut head = [0u8; MAX_HEADER];
        head[0] = 0x80 | opcode;
        let len = payload.len();
        let head_len = if len < 126 {
            head[1] = len as u8;
            2
        } else if let Ok(n) = u16::try_from(len) {
            head[1] = 126;
            head[2..4].copy_from_slice(&n.to_be_bytes());
            4
        } else {
            head[1] = 127;
            head[2..10].copy_from_slice(&(len as u64).to_be_bytes());
            10
        };
        Outgoing {
            head,
            head_len,
            payload,
        }
    }

    /// The message as a frame. `None` for a control frame whose payload is over the 125 bytes
    /// RFC 6455 allows (a close reason is cut to fit instead).
    pub fn of(message: Message) -> Option<Self> {
        Some(match message {
            Message::Text(t) => Self::new(OP_TEXT, t.into()),
            Message::Binary(b) => Self::new(OP_BINARY, b),
            Message::Ping(p) if p.len() <= 125 => Self::new(OP_PING, p),
            Message::Pong(p) if p.len() <= 125 => Self::new(OP_PONG, p),
            Message::Ping(_) | Message::Pong(_) => return None,
            Message::Close(None) => Self::new(OP_CLOSE, Bytes::new()),
            Message::Close(Some(CloseFrame { code, reason })) => {
                let mut cut = reason.len().min(123);
                while !reason.is_char_boundary(cut) {
                    cut -= 1;
                }
                let mut p = Vec::with_capacity(2 + cut);
                p.extend_from_slice(&code.to_be_bytes());
                p.extend_from_slice(&reason.as_bytes()[..cut]);
                Self::new(OP_CLOSE, p.into())
            }
        })
    }

    pub fn head(&self) -> &[u8] {
        &self.head[..usize::from(self.head_len)]
    }

    /// Bytes on the wire: header and payload together.
    pub fn wire_len(&self) -> usize {
        usize::from(self.head_len) + self.payload.len()
    }

    pub fn opcode(&self) -> u8 {
        self.head[0] & 0x0F
    }
}

#[cfg(test)]
mod tests;
