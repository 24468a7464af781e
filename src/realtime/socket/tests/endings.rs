//! How a socket ends: peers that never read (Pongs, replies, events), the close codes, and
//! broken or oversized reads.

use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::ws::Message;
use tokio::time::Instant;

use super::super::{self as socket, Ending, Limits};
use super::start;
use crate::realtime::wire::conn::ConnError;
use crate::realtime::wire::frame::WireError;

#[tokio::test(start_paused = true)]
async fn a_peer_that_pings_and_never_reads_is_closed_as_slow() {
    let c = start(Limits::default());
    c.stalled.store(true, Ordering::SeqCst);
    let t0 = Instant::now();
    for _ in 0..socket::MAX_OWED_PONGS {
        c.send.send(Ok(Message::Ping(Bytes::new()))).unwrap();
    }
    // The Pongs owed are flushed once there are this many; the flush stalls, and a stalled
    // write with no queue behind it ends at the idle timeout, as slow. The close frame then
    // waits its grace for a reader that never comes.
    assert_eq!(c.task.await.unwrap(), Ending::Slow);
    let closing = socket::SLOW_CLOSE_GRACE + socket::CLOSE_GRACE;
    assert_eq!(t0.elapsed(), Limits::default().idle_timeout + closing);
}

/// A peer that asks (`ping` with an id) and never reads the answer, on a socket nothing is
/// routed to: the stalled reply write ends at the idle timeout as slow, as a stalled Pong
/// flush does, instead of holding the task forever.
#[tokio::test(start_paused = true)]
async fn a_peer_that_never_reads_its_replies_is_closed_as_slow() {
    let c = start(Limits::default());
    c.stalled.store(true, Ordering::SeqCst);
    let t0 = Instant::now();
    c.send
        .send(Ok(Message::text(r#"{"type":"ping","id":1}"#)))
        .unwrap();
    assert_eq!(c.task.await.unwrap(), Ending::Slow);
    let closing = socket::SLOW_CLOSE_GRACE + socket::CLOSE_GRACE;
    assert_eq!(t0.elapsed(), Limits::default().idle_timeout + closing);
}

/// Issue 18, finding 5: a reader that falls behind is cut off with 1013, and the close frame
/// reaches it if it reads again within the grace, after what was already on its way.
#[tokio::test(start_paused = true)]
async fn a_slow_reader_that_catches_up_gets_its_1013() {
    let mut c = start(Limits::default());
    c.stalled.store(true, Ordering::SeqCst);
    while c.outbox.try_send("x".into()).is_ok() {}
    tokio::time::sleep(socket::SLOW_CLOSE_GRACE - Duration::from_secs(1)).await;
    c.unstall();
    assert_eq!(c.close_code().await, 1013);
    assert_eq!(c.task.await.unwrap(), Ending::Slow);
}

#[tokio::test(start_paused = true)]
async fn slow_and_shutdown_have_their_own_codes() {
    let mut c = start(Limits::default());
    // Fills the queue before the task gets to run: the frame that finds it full marks it slow.
    while c.outbox.try_send("x".into()).is_ok() {}
    assert_eq!(c.close_code().await, 1013);
    assert_eq!(c.task.await.unwrap(), Ending::Slow);

    let mut c = start(Limits::default());
    c.shutdown.cancel();
    assert_eq!(c.close_code().await, 1012);
    assert_eq!(c.task.await.unwrap(), Ending::Shutdown);
}

#[tokio::test(start_paused = true)]
async fn oversized_messages_close_with_1009() {
    let mut c = start(Limits::default());
    c.send.send(Err(too_long())).unwrap();
    assert_eq!(c.close_code().await, 1009);
}

/// The read error the connection yields for a message over the limit (wrapped, as a transport
/// may wrap it).
fn too_long() -> axum::Error {
    axum::Error::new(ConnError::Wire(WireError::TooBig(65_536)))
}

#[tokio::test(start_paused = true)]
async fn a_broken_read_ends_the_socket_without_a_close_frame() {
    let c = start(Limits::default());
    let reset = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
    c.send
        .send(Err(axum::Error::new(ConnError::Io(reset))))
        .unwrap();
    assert_eq!(c.task.await.unwrap(), Ending::Gone);
}

#[test]
fn refused_frames_end_with_their_close_codes_and_anything_else_as_gone() {
    let cases = [
        (WireError::TooBig(10), Ending::TooBig, Some(1009)),
        (WireError::Protocol("x"), Ending::ProtocolError, Some(1002)),
        (WireError::Utf8, Ending::InvalidUtf8, Some(1007)),
    ];
    for (e, ending, code) in cases {
        // Bare, wrapped once, and wrapped twice.
        assert_eq!(socket::ending_of(&e), ending);
        assert_eq!(socket::ending_of(&ConnError::Wire(e.clone())), ending);
        assert_eq!(
            socket::ending_of(&axum::Error::new(ConnError::Wire(e))),
            ending
        );
        assert_eq!(ending.close_frame().map(|f| f.code), code);
    }
    let not = [
        axum::Error::new(ConnError::Closed),
        axum::Error::new(ConnError::Io(std::io::ErrorKind::ConnectionReset.into())),
        axum::Error::new(std::io::Error::other("Message too long")),
    ];
    for e in &not {
        assert_eq!(socket::ending_of(e), Ending::Gone, "{e}");
    }
}
