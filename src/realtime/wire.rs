//! The WebSocket protocol itself (RFC 6455), server side, written for this server's two common
//! cases: many idle sockets, and one frame going to many of them.
//!
//! - [`frame`]: decoding a client's frames into messages and encoding the server's (pure).
//! - [`conn`]: a connection as the `Stream + Sink` of messages the socket loop drives, holding
//!   no read or write buffer while idle and writing queued frames with one vectored write.
//! - [`handshake`]: the opening handshake, and taking the TCP connection back from hyper.
//!
//! It replaces axum's `WebSocket` (tungstenite underneath) on `/ws`: that one kept a read buffer
//! and a write buffer per socket for the socket's whole life, copied every frame into the write
//! buffer, and ran each socket in a task of axum's beside the socket's own (BENCHMARKS.md, S1).
//! permessage-deflate is not offered (nor is it by h).

pub(crate) mod conn;
pub mod frame;
pub(crate) mod handshake;
