//! A socket's outbound queue: bounded, one consumer (the socket's task), fed by the registry.
//! It replaces a `tokio::sync::mpsc` channel, which allocates a 32-slot block
//! (about 1.5 KiB with its bookkeeping) for every socket up front; this queue allocates nothing
//! until a frame is queued and gives its memory back once drained, so an idle socket costs a
//! few dozen bytes here.
//!
//! It also carries the socket's "too slow" mark. A sender that finds the queue full marks it,
//! drops what it holds and wakes the task, which then closes the socket. Keeping the mark in
//! the state the sender already locks spares every delivery a second shared object to touch
//! (a cancellation token's node), which at 19k sockets is one more cold cache line per event.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::ws::Utf8Bytes;
use tokio::sync::Notify;

/// A drained queue keeps at most this much capacity (frames) for the next burst.
const KEEP_CAPACITY: usize = 8;

struct State {
    frames: VecDeque<Utf8Bytes>,
    cap: usize,
    senders: usize,
    receiver_gone: bool,
    /// Set when a frame found the queue full: the socket is to be closed as too slow.
    slow: bool,
    /// Frames were taken (or a replay began) and their write has not been confirmed yet
    /// ([`Receiver::settle`]): until then the socket may owe its client something.
    unsettled: bool,
    /// A replay is due or being written ([`Receiver::begin_resume`]); only its end clears it.
    resuming: bool,
    /// Routing dropped a change this socket may have been owed: never settled again, so its
    /// client's cursor stays before that change and its next resume replays it.
    owed: bool,
}

struct Shared {
    state: Mutex<State>,
    ready: Notify,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // The lock is never held across a panic point that matters; recover the data.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum TrySendError {
    /// The queue held `cap` frames already: it is now marked slow, its frames are dropped and
    /// its task is woken to close the socket. Returned once per queue.
    Full,
    /// The socket's task is gone, or the queue was marked slow before.
    Closed,
}

pub struct Sender {
    shared: Arc<Shared>,
}

pub struct Receiver {
    shared: Arc<Shared>,
}

/// A queue that holds at most `cap` frames.
pub fn channel(cap: usize) -> (Sender, Receiver) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            frames: VecDeque::new(),
            cap: cap.max(1),
            senders: 1,
            receiver_gone: false,
            slow: false,
            unsettled: false,
            resuming: false,
            owed: false,
        }),
        ready: Notify::new(),
    });
    (
        Sender {
            shared: shared.clone(),
        },
        Receiver { shared },
    )
}

impl Sender {
    pub fn try_send(&self, frame: Utf8Bytes) -> Result<(), TrySendError> {
        let wake = {
            let mut st = self.shared.lock();
            if st.receiver_gone || st.slow {
                return Err(TrySendError::Closed);
            }
            if st.frames.len() >= st.cap {
                st.slow = true;
                // The socket is going to be closed: its backlog would never be sent.
                st.frames = VecDeque::new();
                drop(st);
                self.shared.ready.notify_one();
                return Err(TrySendError::Full);
            }
            st.frames.push_back(frame);
            let len = st.frames.len();
            len == 1 || len == half(st.cap)
        };
        // Only the first frame of a batch wakes the task (and the one that fills half the queue,
        // for a task holding its write back, see `half_full`): a queue that held frames already
        // has a wake-up pending, or a task that is draining it and checks the queue before it
        // waits again. A broadcast saves one `Notify` per frame that lands behind another. The
        // notify stores a permit if the task is not waiting yet, so no wake-up is lost.
        if wake {
            self.shared.ready.notify_one();
        }
        Ok(())
    }
}

impl Sender {
    /// Whether everything ever queued here has been written and flushed to the socket: nothing
    /// waits in the queue or in a write, and the queue was never found full. A client's resume
    /// cursor advances only while this holds (`realtime::cursors`).
    pub fn is_settled(&self) -> bool {
        let st = self.shared.lock();
        st.frames.is_empty() && !st.unsettled && !st.slow && !st.resuming && !st.owed
    }

    /// Marks the socket as owing its client a change routing could not deliver (see `owed`).
    pub fn mark_owed(&self) {
        self.shared.lock().owed = true;
    }
}

impl Clone for Sender {
    fn clone(&self) -> Self {
        self.shared.lock().senders += 1;
        Sender {
            shared: self.shared.clone(),
        }
    }
}

impl Drop for Sender {
    fn drop(&mut self) {
        let last = {
            let mut st = self.shared.lock();
            st.senders -= 1;
            st.senders == 0
        };
        if last {
            self.shared.ready.notify_one();
        }
    }
}

impl Receiver {
    /// The next frame; `None` once the queue is marked slow, or once every sender is gone and
    /// the queue is empty ([`Receiver::is_slow`] tells which).
    pub async fn recv(&self) -> Option<Utf8Bytes> {
        loop {
            {
                let mut st = self.shared.lock();
                if st.slow {
                    return None;
                }
                if let Some(f) = pop(&mut st) {
                    return Some(f);
                }
                if st.senders == 0 {
                    return None;
                }
            }
            self.shared.ready.notified().await;
        }
    }

    /// Whether a sender found the queue full.
    pub fn is_slow(&self) -> bool {
        self.shared.lock().slow
    }

    /// Returns once the queue is marked slow. Waiting here may take the wake-up meant for a
    /// frame; that is harmless, as the task checks the queue before it next waits for one.
    pub async fn slowed(&self) {
        loop {
            if self.is_slow() {
                return;
            }
            self.shared.ready.notified().await;
        }
    }

    pub fn try_recv(&self) -> Option<Utf8Bytes> {
        pop(&mut self.shared.lock())
    }

    /// Marks the socket as owing its client frames that are not in the queue (a replay being
    /// written), until the next [`Receiver::settle`].
    pub fn unsettle(&self) {
        self.shared.lock().unsettled = true;
    }

    /// Confirms that every frame taken so far has been written and flushed.
    pub fn settle(&self) {
        self.shared.lock().unsettled = false;
    }

    /// Marks a replay as due, before the message that asks for it takes effect, so that no
    /// cursor is taken between the two.
    pub fn begin_resume(&self) {
        self.shared.lock().resuming = true;
    }

    /// The replay is written (or none was due).
    pub fn end_resume(&self) {
        self.shared.lock().resuming = false;
    }

    /// Returns once at least half the queue's capacity is taken (a socket holding its write
    /// back for pacing must not fill up and be closed as slow), or once it is marked slow.
    pub async fn half_full(&self) {
        loop {
            {
                let st = self.shared.lock();
                if st.slow || st.frames.len() >= half(st.cap) {
                    return;
                }
            }
            self.shared.ready.notified().await;
        }
    }
}

fn half(cap: usize) -> usize {
    (cap / 2).max(1)
}

fn pop(st: &mut State) -> Option<Utf8Bytes> {
    let f = st.frames.pop_front();
    st.unsettled |= f.is_some();
    if st.frames.is_empty() && st.frames.capacity() > KEEP_CAPACITY {
        st.frames = VecDeque::new();
    }
    f
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let mut st = self.shared.lock();
        st.receiver_gone = true;
        // Frames dropped unwritten are owed to the client: the socket is not settled.
        st.unsettled |= !st.frames.is_empty();
        st.frames.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn bounded_in_order_and_closes() {
        let (tx, rx) = channel(2);
        tx.try_send("a".into()).unwrap();
        tx.try_send("b".into()).unwrap();
        assert_eq!(rx.recv().await.as_deref(), Some("a"));
        assert_eq!(rx.try_recv().as_deref(), Some("b"));
        assert_eq!(rx.try_recv(), None);
        tx.try_send("d".into()).unwrap();
        drop(tx);
        assert_eq!(rx.recv().await.as_deref(), Some("d"));
        assert_eq!(rx.recv().await, None);
        assert!(!rx.is_slow());
    }

    #[tokio::test]
    async fn a_full_queue_is_marked_slow_once_and_wakes_its_receiver() {
        let (tx, rx) = channel(2);
        let waiter = tokio::spawn(async move {
            rx.slowed().await;
            rx
        });
        tokio::task::yield_now().await;
        tx.try_send("a".into()).unwrap();
        tx.try_send("b".into()).unwrap();
        assert_eq!(tx.try_send("c".into()), Err(TrySendError::Full));
        assert_eq!(tx.try_send("d".into()), Err(TrySendError::Closed));
        let rx = tokio::time::timeout(std::time::Duration::from_secs(5), waiter)
            .await
            .expect("woken when marked slow")
            .unwrap();
        assert!(rx.is_slow());
        // Its backlog is dropped: the socket is closed rather than drained.
        assert_eq!(rx.recv().await, None);
        assert_eq!(rx.try_recv(), None);
    }

    #[tokio::test]
    async fn a_waiting_receiver_is_woken_and_a_gone_one_refuses_frames() {
        let (tx, rx) = channel(4);
        let waiter = tokio::spawn(async move {
            let f = rx.recv().await;
            (f, rx)
        });
        tokio::task::yield_now().await;
        tx.try_send("x".into()).unwrap();
        let (f, rx) = waiter.await.unwrap();
        assert_eq!(f.as_deref(), Some("x"));
        drop(rx);
        assert_eq!(tx.try_send("y".into()), Err(TrySendError::Closed));
    }

    #[test]
    fn settled_only_once_what_was_taken_is_confirmed_written() {
        let (tx, rx) = channel(4);
        assert!(tx.is_settled());
        tx.try_send("a".into()).unwrap();
        assert!(!tx.is_settled(), "queued");
        assert_eq!(rx.try_recv().as_deref(), Some("a"));
        assert!(!tx.is_settled(), "taken, not yet written");
        rx.settle();
        assert!(tx.is_settled());
        rx.begin_resume();
        rx.settle();
        assert!(!tx.is_settled(), "a replay due");
        rx.end_resume();
        assert!(tx.is_settled());
        tx.mark_owed();
        rx.settle();
        assert!(!tx.is_settled(), "owed a dropped change, for good");
        let (tx, rx) = channel(4);
        tx.try_send("b".into()).unwrap();
        tx.try_send("c".into()).unwrap();
        tx.try_send("d".into()).unwrap();
        tx.try_send("e".into()).unwrap();
        assert_eq!(tx.try_send("f".into()), Err(TrySendError::Full));
        rx.settle();
        assert!(
            !tx.is_settled(),
            "a socket closed as slow owes what it dropped"
        );
    }

    #[tokio::test]
    async fn half_full_wakes_a_waiting_receiver() {
        let (tx, rx) = channel(8);
        tx.try_send("a".into()).unwrap();
        let waiter = tokio::spawn(async move {
            rx.half_full().await;
            rx
        });
        tokio::task::yield_now().await;
        for f in ["b", "c", "d"] {
            tx.try_send(f.into()).unwrap();
        }
        let rx = tokio::time::timeout(std::time::Duration::from_secs(5), waiter)
            .await
            .expect("woken at half full")
            .unwrap();
        assert_eq!(rx.try_recv().as_deref(), Some("a"));
    }

    #[tokio::test]
    async fn frames_queued_behind_others_still_reach_a_waiting_receiver() {
        let (tx, rx) = channel(8);
        // Only "a" notifies; "b" lands behind it.
        tx.try_send("a".into()).unwrap();
        tx.try_send("b".into()).unwrap();
        assert_eq!(rx.recv().await.as_deref(), Some("a"));
        let waiter = tokio::spawn(async move {
            let first = rx.recv().await;
            let second = rx.recv().await;
            (first, second)
        });
        tokio::task::yield_now().await;
        // The queue is empty again, so this one notifies the waiting task.
        tx.try_send("c".into()).unwrap();
        let (first, second) = tokio::time::timeout(std::time::Duration::from_secs(5), waiter)
            .await
            .expect("receiver woken")
            .unwrap();
        assert_eq!(first.as_deref(), Some("b"));
        assert_eq!(second.as_deref(), Some("c"));
    }
}
