//! The opening handshake (RFC 6455 §4.2), and taking the connection back from hyper once the
//! 101 has gone out.

use axum::body::Body;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Version, header};
use axum::response::Response;
use base64::Engine;
use hyper::upgrade::{OnUpgrade, Upgraded};
use hyper_util::rt::TokioIo;
use hyper_util::server::conn::auto;
use sha1::{Digest, Sha1};
use tokio_util::either::Either;

use super::conn::Conn;
use crate::serve::Counted;

/// The connection under a WebSocket: the listener's own TCP connection, taken back from hyper
/// (so no layer of hyper's stays between the socket and the kernel), or hyper's upgraded
/// connection when the request came through another listener.
pub type Io = Either<Counted, TokioIo<Upgraded>>;

/// Checks a WebSocket upgrade request; returns the 101 response to send and what yields the
/// connection once it has gone out. `None` for a request that is not a valid upgrade.
pub fn accept(parts: &mut Parts) -> Option<(Response, OnUpgrade)> {
    let headers = &parts.headers;
    let valid = parts.method == Method::GET
        && parts.version <= Version::HTTP_11
        && has_token(headers, header::CONNECTION, "upgrade")
        && has_token(headers, header::UPGRADE, "websocket")
        && headers
            .get(header::SEC_WEBSOCKET_VERSION)
            .is_some_and(|v| v == "13");
    // RFC 6455 §4.2.1: the key is 16 random bytes in base64.
    let key = headers.get(header::SEC_WEBSOCKET_KEY).filter(|k| {
        valid
            && base64::engine::general_purpose::STANDARD
                .decode(k.as_bytes())
                .is_ok_and(|b| b.len() == 16)
    })?;
    let accept = accept_key(key.as_bytes());
    let on_upgrade = parts.extensions.remove::<OnUpgrade>()?;
    let response = Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(header::CONNECTION, HeaderValue::from_static("upgrade"))
        .header(header::UPGRADE, HeaderValue::from_static("websocket"))
        .header(header::SEC_WEBSOCKET_ACCEPT, accept)
        .body(Body::empty())
        .expect("a valid response");
    Some((response, on_upgrade))
}

/// Waits for hyper to hand the connection over after the 101; `None` if it never does (the
/// client went away first).
pub async fn connect(
    on_upgrade: OnUpgrade,
    max_message_bytes: usize,
    read_chunk: usize,
) -> Option<Conn<Io>> {
    let upgraded = on_upgrade.await.ok()?;
    // hyper-util's listener wraps the connection in a type of its own; its `downcast` unwraps
    // both and returns what was read past the request with it.
    Some(
        match auto::upgrade::downcast::<TokioIo<Counted>>(upgraded) {
            Ok(parts) => {
                metrics::counter!("scholia_ws_upgrades_total", "io" => "direct").increment(1);
                Conn::new(
                    Either::Left(parts.io.into_inner()),
                    &parts.read_buf,
                    max_message_bytes,
                    read_chunk,
                )
            }
            // A listener other than `serve` (none today): hyper's layers stay underneath.
            Err(upgraded) => {
                metrics::counter!("scholia_ws_upgrades_total", "io" => "wrapped").increment(1);
                Conn::new(
                    Either::Right(TokioIo::new(upgraded)),
                    &[],
                    max_message_bytes,
                    read_chunk,
                )
            }
        },
    )
}

/// `Sec-WebSocket-Accept` for a client's key (RFC 6455 §4.2.2).
pub fn accept_key(key: &[u8]) -> HeaderValue {
    let mut sha1 = Sha1::new();
    sha1.update(key);
    sha1.update(b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    let encoded = base64::engine::general_purpose::STANDARD.encode(sha1.finalize());
    HeaderValue::try_from(encoded).expect("base64 is a valid header value")
}

/// Whether a comma-separated header holds `token` (case-insensitive), in any of its lines.
fn has_token(headers: &HeaderMap, name: HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_accept_key_is_rfc_6455s_example() {
        // RFC 6455 §1.3.
        assert_eq!(
            accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn tokens_are_found_in_lists_and_across_lines() {
        let mut h = HeaderMap::new();
        h.append(header::CONNECTION, HeaderValue::from_static("keep-alive"));
        h.append(header::CONNECTION, HeaderValue::from_static("x, Upgrade"));
        assert!(has_token(&h, header::CONNECTION, "upgrade"));
        assert!(!has_token(&h, header::CONNECTION, "upgrad"));
        assert!(!has_token(&h, header::UPGRADE, "websocket"));
    }
}
