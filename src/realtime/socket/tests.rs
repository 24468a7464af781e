//! The socket loop over an in-memory connection, with paused time: heartbeats, idle close,
//! throttling, coalescing and close codes, deterministically.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::ws::{Message, Utf8Bytes};
use futures_util::{Sink, Stream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{Ending, Limits, Socket, drive};
use crate::realtime::outbox;
use crate::realtime::registry::Registry;

/// The server's end of an in-memory WebSocket.
struct Fake {
    incoming: mpsc::UnboundedReceiver<Result<Message, axum::Error>>,
    outgoing: mpsc::UnboundedSender<Message>,
    flushes: Arc<AtomicUsize>,
    /// While set, nothing more can be written and flushes never complete: a peer that has
    /// stopped reading. The task waiting on it is woken when it is cleared.
    stalled: Arc<AtomicBool>,
    waiting: Arc<Mutex<Option<Waker>>>,
}

impl Fake {
    fn blocked(&self, cx: &mut Context<'_>) -> bool {
        let stalled = self.stalled.load(Ordering::SeqCst);
        if stalled {
            *self.waiting.lock().unwrap() = Some(cx.waker().clone());
        }
        stalled
    }
}

impl Stream for Fake {
    type Item = Result<Message, axum::Error>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.incoming.poll_recv(cx)
    }
}

impl Sink<Message> for Fake {
    type Error = String;
    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), String>> {
        match self.blocked(cx) {
            true => Poll::Pending,
            false => Poll::Ready(Ok(())),
        }
    }
    fn start_send(self: Pin<&mut Self>, item: Message) -> Result<(), String> {
        self.outgoing.send(item).map_err(|e| e.to_string())
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), String>> {
        self.flushes.fetch_add(1, Ordering::SeqCst);
        match self.blocked(cx) {
            true => Poll::Pending,
            false => Poll::Ready(Ok(())),
        }
    }
    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), String>> {
        Poll::Ready(Ok(()))
    }
}

/// The test's end: what it sends, what it receives, and the running loop.
struct Client {
    send: mpsc::UnboundedSender<Result<Message, axum::Error>>,
    recv: mpsc::UnboundedReceiver<Message>,
    outbox: outbox::Sender,
    shutdown: CancellationToken,
    flushes: Arc<AtomicUsize>,
    stalled: Arc<AtomicBool>,
    waiting: Arc<Mutex<Option<Waker>>>,
    registry: Arc<Registry>,
    task: JoinHandle<Ending>,
}

fn start(limits: Limits) -> Client {
    let (send, incoming) = mpsc::unbounded_channel();
    let (outgoing, recv) = mpsc::unbounded_channel();
    let flushes = Arc::new(AtomicUsize::new(0));
    let registry = Arc::new(Registry::default());
    let (outbox, rx) = outbox::channel(limits.queue);
    let shutdown = CancellationToken::new();
    let id = registry.register(None, outbox.clone());
    let sock = Socket {
        hub: None,
        id,
        registry: registry.clone(),
        userid: Some("acct:alice@example.com".into()),
        outbox: rx,
        shutdown: shutdown.clone(),
        limits,
    };
    let stalled = Arc::new(AtomicBool::new(false));
    let waiting = Arc::new(Mutex::new(None));
    let fake = Fake {
        incoming,
        outgoing,
        flushes: flushes.clone(),
        stalled: stalled.clone(),
        waiting: waiting.clone(),
    };
    Client {
        send,
        recv,
        outbox,
        shutdown,
        flushes,
        stalled,
        waiting,
        registry,
        task: tokio::spawn(drive(fake, sock)),
    }
}

impl Client {
    /// The peer reads again: what the socket's task was waiting to write goes out.
    fn unstall(&self) {
        self.stalled.store(false, Ordering::SeqCst);
        if let Some(w) = self.waiting.lock().unwrap().take() {
            w.wake();
        }
    }
    /// Queues the event frame `{"n":i}`.
    fn event(&self, i: usize) {
        self.outbox
            .try_send(Utf8Bytes::from(format!("{{\"n\":{i}}}")))
            .unwrap();
    }
    /// Waits for the event frame `{"n":i}`.
    async fn expect_event(&mut self, i: usize) {
        assert_eq!(self.next_text().await, format!("{{\"n\":{i}}}"));
    }
    fn text(&self, s: &str) {
        self.send.send(Ok(Message::Text(s.into()))).unwrap();
    }
    async fn next(&mut self) -> Message {
        tokio::time::timeout(Duration::from_secs(3600), self.recv.recv())
            .await
            .expect("a frame within the hour")
            .expect("socket still open")
    }
    async fn next_text(&mut self) -> String {
        loop {
            match self.next().await {
                Message::Text(t) => return t.as_str().to_owned(),
                Message::Ping(_) | Message::Pong(_) => continue,
                other => panic!("expected text, got {other:?}"),
            }
        }
    }
    async fn close_code(&mut self) -> u16 {
        loop {
            if let Message::Close(frame) = self.next().await {
                return frame.map(|f| f.code).unwrap_or(1005);
            }
        }
    }
}

#[tokio::test(start_paused = true)]
async fn idle_socket_gets_a_pong_beep_every_heartbeat() {
    let mut c = start(Limits::default());
    let t0 = Instant::now();
    let mut beeps = vec![];
    while beeps.len() < 4 {
        match c.next().await {
            Message::Pong(p) => {
                assert_eq!(&p[..], b"beep");
                beeps.push(t0.elapsed().as_secs());
            }
            // Answer liveness probes, as a browser does, so the idle timeout never fires.
            Message::Ping(_) => c.send.send(Ok(Message::Pong(Bytes::new()))).unwrap(),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(beeps, vec![30, 60, 90, 120]);
    assert!(!c.task.is_finished());
}

#[tokio::test(start_paused = true)]
async fn silent_peer_is_closed_after_the_idle_timeout() {
    let mut c = start(Limits::default());
    let t0 = Instant::now();
    assert_eq!(c.close_code().await, 4000);
    assert_eq!(t0.elapsed(), Duration::from_secs(90));
    assert_eq!(c.task.await.unwrap(), Ending::Idle);
}

#[tokio::test(start_paused = true)]
async fn replies_and_state_changes() {
    let mut c = start(Limits::default());
    c.text(r#"{"type":"ping","id":5}"#);
    assert_eq!(
        c.next_text().await,
        r#"{"type":"pong","ok":true,"reply_to":5}"#
    );
    c.text(r#"{"type":"whoami","id":1}"#);
    assert_eq!(
        c.next_text().await,
        r#"{"type":"whoyouare","userid":"acct:alice@example.com","ok":true,"reply_to":1}"#
    );
    c.text(r#"{"filter":{"match_policy":"include_any","clauses":[{"field":"/group","value":"g"}],"actions":{}}}"#);
    c.text(r#"{"type":"ping","id":6}"#);
    c.next_text().await;
    assert_eq!(c.registry.subscribed_keys(), 1);
    c.send
        .send(Ok(Message::Binary(Bytes::from_static(
            b"{\"type\":\"ping\",\"id\":7}",
        ))))
        .unwrap();
    assert_eq!(
        c.next_text().await,
        r#"{"type":"pong","ok":true,"reply_to":7}"#
    );
}

#[tokio::test(start_paused = true)]
async fn invalid_json_closes_with_1000() {
    let mut c = start(Limits::default());
    c.text("{not json");
    assert_eq!(c.close_code().await, 1000);
    assert_eq!(c.task.await.unwrap(), Ending::InvalidJson);
}

#[tokio::test(start_paused = true)]
async fn pending_frames_leave_in_one_write() {
    let mut c = start(Limits::default());
    for i in 0..3 {
        c.event(i);
    }
    for i in 0..3 {
        c.expect_event(i).await;
    }
    assert_eq!(c.flushes.load(Ordering::SeqCst), 1);
}

/// A socket that fell behind catches up in writes of at most MAX_BATCH frames, in order, each
/// flushed once, without waiting between them (batches come from the backlog, not a timer).
#[tokio::test(start_paused = true)]
async fn a_backlog_leaves_in_writes_of_at_most_a_batch() {
    let mut c = start(Limits::default());
    let t0 = Instant::now();
    let n = 2 * super::MAX_BATCH + 10;
    for i in 0..n {
        c.event(i);
    }
    for i in 0..n {
        c.expect_event(i).await;
    }
    assert_eq!(c.flushes.load(Ordering::SeqCst), 3);
    assert_eq!(t0.elapsed(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn a_socket_sent_events_faster_than_the_write_rate_gets_them_in_batches() {
    let mut c = start(Limits {
        write_rate: 2.0,
        write_burst: 1.0,
        ..Limits::default()
    });
    let t0 = Instant::now();
    // The burst: written at once.
    c.event(0);
    c.expect_event(0).await;
    assert_eq!(t0.elapsed(), Duration::ZERO);
    // Past it: the next write waits for the rate (1/2 s) and carries all three.
    for i in 1..=3 {
        c.event(i);
    }
    for i in 1..=3 {
        c.expect_event(i).await;
        assert_eq!(t0.elapsed(), Duration::from_millis(500));
    }
    assert_eq!(c.flushes.load(Ordering::SeqCst), 2);
    // A reply is never paced, and it brings the events queued before it along, in order.
    c.event(5);
    c.event(6);
    c.text(r#"{"type":"ping","id":7}"#);
    c.expect_event(5).await;
    c.expect_event(6).await;
    assert!(c.next_text().await.contains(r#""reply_to":7"#));
    assert_eq!(t0.elapsed(), Duration::from_millis(500));
    // A quiet spell refills the bucket: the next event goes out at once.
    tokio::time::sleep(Duration::from_secs(1)).await;
    c.event(4);
    c.expect_event(4).await;
    assert_eq!(t0.elapsed(), Duration::from_millis(1500));
}

#[tokio::test(start_paused = true)]
async fn a_held_write_goes_at_once_when_half_the_queue_is_full() {
    let mut c = start(Limits {
        queue: 8,
        write_rate: 0.1,
        write_burst: 1.0,
        ..Limits::default()
    });
    let t0 = Instant::now();
    c.event(0);
    c.expect_event(0).await;
    // Frame 1 is held for ten seconds; by frame 5 half the queue (4) is taken behind it, so
    // the write goes now rather than let the queue fill and the socket be closed as slow.
    for i in 1..=5 {
        c.event(i);
        tokio::task::yield_now().await;
    }
    for i in 1..=5 {
        c.expect_event(i).await;
    }
    assert_eq!(t0.elapsed(), Duration::ZERO);
    assert_ne!(
        c.outbox.try_send("x".into()),
        Err(outbox::TrySendError::Closed)
    );
}

#[tokio::test(start_paused = true)]
async fn a_reply_behind_a_long_queue_flushes_it_in_bounded_batches() {
    let mut c = start(Limits {
        write_rate: 0.1,
        write_burst: 1.0,
        ..Limits::default()
    });
    c.event(0);
    c.expect_event(0).await;
    let big = |i: usize| Utf8Bytes::from(format!("{i}{}", "x".repeat(40 * 1024)));
    for i in 1..=3 {
        c.outbox.try_send(big(i)).unwrap();
    }
    c.text(r#"{"type":"ping","id":9}"#);
    for i in 1..=3 {
        assert!(c.next_text().await.starts_with(&i.to_string()));
    }
    assert!(c.next_text().await.contains(r#""reply_to":9"#));
    // One flush for event 0, one once 64 KiB had gone in (frames 1 and 2), one at the end.
    assert_eq!(c.flushes.load(Ordering::SeqCst), 3);
}

#[tokio::test(start_paused = true)]
async fn a_write_rate_of_zero_writes_every_event_at_once() {
    let mut c = start(Limits {
        write_rate: 0.0,
        ..Limits::default()
    });
    let t0 = Instant::now();
    for i in 0..30 {
        c.event(i);
        c.expect_event(i).await;
    }
    assert_eq!(t0.elapsed(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn fast_senders_are_throttled_not_dropped() {
    let mut c = start(Limits {
        messages_per_second: 1.0,
        message_burst: 2.0,
        ..Limits::default()
    });
    let t0 = Instant::now();
    for id in 1..=5 {
        c.text(&format!(r#"{{"type":"ping","id":{id}}}"#));
    }
    let mut at = vec![];
    for id in 1..=5 {
        let reply = c.next_text().await;
        assert!(reply.contains(&format!("\"reply_to\":{id}")), "{reply}");
        at.push(t0.elapsed().as_secs());
    }
    // Two in the burst plus the one that empties the bucket, then one a second.
    assert_eq!(at, vec![0, 0, 0, 1, 2]);
}

#[tokio::test(start_paused = true)]
async fn pings_draw_on_the_message_budget() {
    let mut c = start(Limits {
        messages_per_second: 1.0,
        message_burst: 2.0,
        ..Limits::default()
    });
    let t0 = Instant::now();
    for _ in 0..5 {
        c.send.send(Ok(Message::Ping(Bytes::new()))).unwrap();
    }
    c.text(r#"{"type":"ping","id":9}"#);
    assert!(c.next_text().await.contains(r#""reply_to":9"#));
    // Two Pings in the burst, the third empties the bucket, then one a second: the message
    // after five Pings waits as it would after five messages.
    assert_eq!(t0.elapsed(), Duration::from_secs(3));
}

mod endings;
