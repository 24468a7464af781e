//! A deliberately small WebSocket client for load generation: a raw TCP stream, the HTTP/1.1
//! upgrade, unfragmented frames. Server frames are unmasked, so receiving is a header parse and
//! a slice; client frames are masked with the all-zero key (valid per RFC 6455 §5.3, and it
//! leaves the payload as is). Thousands of these fit in one process, and reading costs little
//! more than the kernel's share, so the client is not what a benchmark ends up measuring.

use std::io;
use std::net::{IpAddr, SocketAddr};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

pub const OP_TEXT: u8 = 0x1;
pub const OP_CLOSE: u8 = 0x8;
pub const OP_PING: u8 = 0x9;
pub const OP_PONG: u8 = 0xA;

/// Frames larger than this are refused (the server caps what it sends far below).
const MAX_FRAME: usize = 16 << 20;

pub struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    /// Start of unread bytes in `buf`.
    pos: usize,
}

fn bad(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

impl Conn {
    /// Connects from `source` (any port) to `server` and upgrades `path` (with its query).
    pub async fn connect(
        server: SocketAddr,
        source: Option<IpAddr>,
        path: &str,
    ) -> io::Result<Conn> {
        let socket = TcpSocket::new_v4()?;
        if let Some(ip) = source {
            socket.bind(SocketAddr::new(ip, 0))?;
        }
        let stream = socket.connect(server).await?;
        stream.set_nodelay(true)?;
        let mut conn = Conn {
            stream,
            buf: Vec::with_capacity(1024),
            pos: 0,
        };
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {server}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: c2Nob2xpYS1iZW5jaC0xMg==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        conn.stream.write_all(request.as_bytes()).await?;
        loop {
            if let Some(end) = find(&conn.buf, b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&conn.buf[..end]);
                if !head.starts_with("HTTP/1.1 101") {
                    let line = head.lines().next().unwrap_or_default().to_owned();
                    return Err(bad(format!("upgrade refused: {line}")));
                }
                conn.pos = end + 4;
                return Ok(conn);
            }
            if conn.buf.len() > 16 * 1024 {
                return Err(bad("upgrade response too long"));
            }
            if conn.fill().await? == 0 {
                return Err(bad("closed during the upgrade"));
            }
        }
    }

    async fn fill(&mut self) -> io::Result<usize> {
        if self.pos > 0 && self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        } else if self.pos > 0 && self.buf.capacity() - self.buf.len() < 512 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        if self.buf.capacity() - self.buf.len() < 512 {
            self.buf.reserve(4096);
        }
        self.stream.read_buf(&mut self.buf).await
    }

    /// Sends one masked frame.
    pub async fn send(&mut self, opcode: u8, payload: &[u8]) -> io::Result<()> {
        let mut frame = Vec::with_capacity(payload.len() + 14);
        frame.push(0x80 | opcode);
        match payload.len() {
            n if n < 126 => frame.push(0x80 | n as u8),
            n if n < 65536 => {
                frame.push(0x80 | 126);
                frame.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                frame.push(0x80 | 127);
                frame.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        frame.extend_from_slice(&[0, 0, 0, 0]);
        frame.extend_from_slice(payload);
        self.stream.write_all(&frame).await
    }

    pub async fn send_text(&mut self, text: &str) -> io::Result<()> {
        self.send(OP_TEXT, text.as_bytes()).await
    }

    /// Reads the next frame and hands its opcode and payload to `on_frame`; `Ok(false)` at end
    /// of stream. Pings are answered here (before `on_frame` sees them).
    pub async fn next_frame(&mut self, mut on_frame: impl FnMut(u8, &[u8])) -> io::Result<bool> {
        loop {
            if let Some((opcode, start, end)) = self.parse()? {
                self.pos = end;
                if opcode == OP_PING {
                    let payload = self.buf[start..end].to_vec();
                    self.send(OP_PONG, &payload).await?;
                }
                on_frame(opcode, &self.buf[start..end]);
                return Ok(true);
            }
            if self.fill().await? == 0 {
                return Ok(false);
            }
        }
    }

    /// A complete frame at `pos`, as (opcode, payload start, payload end).
    fn parse(&self) -> io::Result<Option<(u8, usize, usize)>> {
        let b = &self.buf[self.pos..];
        if b.len() < 2 {
            return Ok(None);
        }
        if b[0] & 0x80 == 0 {
            return Err(bad("fragmented frames are not supported by this client"));
        }
        if b[1] & 0x80 != 0 {
            return Err(bad("server frames must not be masked"));
        }
        let (len, header) = match b[1] & 0x7f {
            126 if b.len() >= 4 => (u16::from_be_bytes([b[2], b[3]]) as usize, 4),
            127 if b.len() >= 10 => {
                let mut n = [0u8; 8];
                n.copy_from_slice(&b[2..10]);
                (u64::from_be_bytes(n) as usize, 10)
            }
            126 | 127 => return Ok(None),
            n => (n as usize, 2),
        };
        if len > MAX_FRAME {
            return Err(bad(format!("frame of {len} bytes")));
        }
        if b.len() < header + len {
            return Ok(None);
        }
        let start = self.pos + header;
        Ok(Some((b[0] & 0x0f, start, start + len)))
    }

    /// Sends a Close and waits for the server's Close (or the end of the stream).
    pub async fn close(mut self) -> io::Result<()> {
        self.send(OP_CLOSE, &1000u16.to_be_bytes()).await?;
        let mut closed = false;
        while !closed {
            if !self.next_frame(|op, _| closed = op == OP_CLOSE).await? {
                break;
            }
        }
        Ok(())
    }
}

pub fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The `bstamp:<unix ns>;` a benchmark event carries in its text, if any.
pub fn stamp_of(frame: &[u8]) -> Option<u64> {
    number_after(frame, b"bstamp:")
}

/// The node a POST went through, from the `bnode:<j>` its text carries (S7), if any.
pub fn node_of(frame: &[u8]) -> Option<usize> {
    number_after(frame, b"bnode:")
}

/// The decimal number right after the first `tag` in `frame`.
fn number_after<N: std::str::FromStr>(frame: &[u8], tag: &[u8]) -> Option<N> {
    let at = find(frame, tag)? + tag.len();
    let digits = frame[at..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    std::str::from_utf8(&frame[at..at + digits])
        .ok()?
        .parse()
        .ok()
}

/// Wall-clock time in ns since the epoch: events are stamped by one process and received by
/// another on the same host, so both read the same clock.
pub fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_are_found_in_frames() {
        let frame =
            br#"{"type":"annotation-notification","payload":[{"text":"bstamp:1234567;xxxx"}]}"#;
        assert_eq!(stamp_of(frame), Some(1_234_567));
        assert_eq!(stamp_of(b"{\"text\":\"hello\"}"), None);
        assert_eq!(node_of(b"{\"text\":\"bstamp:5;bnode:2;xx\"}"), Some(2));
        assert_eq!(node_of(frame), None);
    }
}
