//! The Pusher protocol (version 7) as far as the peer benchmarks need it: a worker's subscribe
//! handshake on a public channel and its answer to `pusher:ping`, and the signed HTTP events API
//! the driver publishes through. Sockudo speaks it; scholia does not, so none of this touches
//! the scholia runs.

use std::io;
use std::net::{IpAddr, SocketAddr};

use hmac::{KeyInit, Mac};
use md5::Digest;
use serde_json::json;

use super::wsclient::{Conn, OP_CLOSE, OP_TEXT, find, now_ns};

/// What a client sends back to the server's `pusher:ping` (an idle socket that does not is
/// closed after `activity_timeout` plus the pong timeout).
pub const PONG: &str = r#"{"event":"pusher:pong","data":{}}"#;

/// The upgrade path for an app key, with the query a pusher-js client sends.
pub fn path(key: &str) -> String {
    format!("/app/{key}?protocol=7&client=bench&version=1")
}

pub fn subscribe_message(channel: &str) -> String {
    json!({"event": "pusher:subscribe", "data": {"channel": channel}}).to_string()
}

/// Protocol messages (`pusher:…`, `pusher_internal:…`), which are not deliveries. An event's
/// data is a JSON string, so the same bytes inside it would be escaped and cannot match.
pub fn is_control(frame: &[u8]) -> bool {
    find(frame, br#""event":"pusher"#).is_some()
}

pub fn is_ping(frame: &[u8]) -> bool {
    find(frame, br#""event":"pusher:ping""#).is_some()
}

/// Connects, waits for `pusher:connection_established`, subscribes to `channel` and waits for
/// `pusher_internal:subscription_succeeded`: from then on the server delivers the channel's
/// events to this socket.
pub async fn open(
    server: SocketAddr,
    source: Option<IpAddr>,
    path: &str,
    channel: &str,
) -> io::Result<Conn> {
    let mut conn = Conn::connect(server, source, path).await?;
    wait_for(&mut conn, b"pusher:connection_established").await?;
    conn.send_text(&subscribe_message(channel)).await?;
    wait_for(&mut conn, b"pusher_internal:subscription_succeeded").await?;
    Ok(conn)
}

/// Reads frames until a text frame containing `needle`; a `pusher:error` or a close fails.
async fn wait_for(conn: &mut Conn, needle: &[u8]) -> io::Result<()> {
    loop {
        let (mut found, mut error, mut ping) = (false, None, false);
        let open = conn
            .next_frame(|op, p| match op {
                OP_TEXT if find(p, needle).is_some() => found = true,
                OP_TEXT if find(p, b"pusher:error").is_some() => {
                    error = Some(String::from_utf8_lossy(p).into_owned())
                }
                OP_TEXT => ping = is_ping(p),
                OP_CLOSE => error = Some("closed by the server".into()),
                _ => {}
            })
            .await?;
        if let Some(e) = error {
            return Err(io::Error::other(e));
        }
        if !open {
            return Err(io::Error::other("closed before subscribing"));
        }
        if found {
            return Ok(());
        }
        if ping {
            conn.send_text(PONG).await?;
        }
    }
}

/// An app's credentials for the HTTP API.
#[derive(Clone, Debug)]
pub struct EventsApi {
    pub app_id: String,
    pub key: String,
    pub secret: String,
}

impl EventsApi {
    pub fn events_path(&self) -> String {
        format!("/apps/{}/events", self.app_id)
    }

    /// The query string of a signed `POST /apps/ID/events` with `body`: the parameters in
    /// sorted order, then `auth_signature`, the hex HMAC-SHA256 with the app secret of
    /// "POST\n<path>\n<the parameters>".
    pub fn signed_query(&self, body: &[u8], timestamp: u64) -> String {
        let body_md5 = hex::encode(md5::Md5::digest(body));
        let params = format!(
            "auth_key={}&auth_timestamp={timestamp}&auth_version=1.0&body_md5={body_md5}",
            self.key
        );
        let to_sign = format!("POST\n{}\n{params}", self.events_path());
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(self.secret.as_bytes())
            .expect("HMAC takes a key of any length");
        mac.update(to_sign.as_bytes());
        let signature = hex::encode(mac.finalize().into_bytes());
        format!("{params}&auth_signature={signature}")
    }
}

/// The frame size the peers' S2 events are padded to: about what scholia's S2 frames measure
/// (1,001–1,003 bytes), so every server sends the same bytes per delivery.
pub const FRAME_BYTES: usize = 1_000;

/// The body of one stamped event on `channel`, whose text (`bstamp:<unix ns>;` and padding)
/// makes the delivered `{"event":"ev","channel":…,"data":"…"}` frame about [`FRAME_BYTES`].
pub fn event_body(channel: &str) -> String {
    let stamp = format!("bstamp:{};", now_ns());
    let envelope = json!({"event": "ev", "channel": channel, "data": ""})
        .to_string()
        .len();
    let pad = FRAME_BYTES.saturating_sub(envelope + stamp.len());
    json!({"name": "ev", "channel": channel, "data": format!("{stamp}{}", "x".repeat(pad))})
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wsclient::stamp_of;

    /// The worked example of Pusher's HTTP API reference (app 3, its key and secret).
    #[test]
    fn signs_like_the_pusher_reference_example() {
        let api = EventsApi {
            app_id: "3".into(),
            key: "278d425bdf160c739803".into(),
            secret: "7ad3773142a6692b25b8".into(),
        };
        let body = br#"{"name":"foo","channels":["project-3"],"data":"{\"some\":\"data\"}"}"#;
        assert_eq!(
            api.signed_query(body, 1353088179),
            "auth_key=278d425bdf160c739803&auth_timestamp=1353088179&auth_version=1.0\
             &body_md5=ec365a775a4cd0599faeb73354201b6f\
             &auth_signature=da454824c97ba181a32ccc17a72625ba02771f50b50e1e7430e47a1f3f457e6c"
        );
    }

    #[test]
    fn event_bodies_are_stamped_and_sized() {
        let body = event_body("bench");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        let data = v["data"].as_str().unwrap();
        let frame = json!({"event": "ev", "channel": "bench", "data": data}).to_string();
        assert_eq!(frame.len(), FRAME_BYTES);
        assert!(stamp_of(frame.as_bytes()).is_some_and(|s| s > 0));
    }

    #[test]
    fn control_frames_are_told_from_events() {
        assert!(is_ping(br#"{"event":"pusher:ping","data":{}}"#));
        assert!(is_control(
            br#"{"event":"pusher_internal:subscription_succeeded","channel":"bench"}"#
        ));
        let event = event_body("bench");
        assert!(!is_control(event.as_bytes()));
    }
}
