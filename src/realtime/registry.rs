//! The sockets of this process: each one's identity, client id, filter keys and outbound queue,
//! plus the subscription index over the filters and a map from user to sockets.
//!
//! One `std::sync::Mutex` guards it all. Every critical section is short, synchronous work
//! (map updates, pure permission checks, non-blocking `try_send`), and no lock is ever held
//! across an `.await`, so a std mutex is cheaper than an async one and cannot deadlock a task.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::ws::Utf8Bytes;
use serde_json::Value;

use super::filter::Key;
use super::index::{IdMap, IdSet, Index, SocketId};
use super::outbox;
use crate::bus::Watermark;
use crate::domain::Identity;

/// What routing needs to know about one socket. Kept small (48 bytes): routing reads one per
/// delivery, and with many sockets each read is a cache miss, so the rarely set client id and
/// the key list (read only when the filter changes) are behind pointers.
pub struct Entry {
    /// The socket's user with their *current* group roles (refreshed when the change log says
    /// the user changed; h freezes them at connect, quirk Q8).
    pub identity: Option<Arc<Identity>>,
    /// Set by `client_id`; compared with the writer's `X-Client-Id`.
    pub client_id: Option<Box<Value>>,
    /// `None` until the first valid filter: such a socket gets no annotation events.
    keys: Option<Box<[Key]>>,
    /// The newest committed seq when the filter took effect: the subscription starts after it.
    pub from_seq: i64,
    /// Its queue; a full one marks itself slow, which makes the socket's task close it.
    outbox: outbox::Sender,
}

#[derive(Default)]
struct State {
    sockets: IdMap<Entry>,
    index: Index,
    by_user: HashMap<String, IdSet>,
    /// Sockets with a string client id, whose resume cursor is kept (`resume.rs`).
    with_client: IdSet,
    /// Final cursors of sockets that closed settled, for the next flush.
    closed: Vec<Cursor>,
}

/// The outcome of handing frames to sockets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Handoff {
    pub delivered: u64,
    /// Sockets whose queue was full; each is now being closed.
    pub slow: u64,
}

#[derive(Default)]
pub struct Registry {
    state: Mutex<State>,
    /// The newest seq this node knows committed (see [`Watermark`]).
    watermark: Watermark,
    next_id: AtomicU64,
    /// Counts user changes the router has handled (joins, leaves, role and NIPSA changes). A
    /// handshake that saw it move while it loaded the user reloads them, so a change routed
    /// between that load and registration is not lost.
    user_epoch: AtomicU64,
    /// The seq of the last change routing has finished handing to sockets (`resume.rs`).
    routed: AtomicI64,
    /// Woken as routing finishes a change (webhook workers wait on it).
    routed_wake: tokio::sync::Notify,
}

impl Registry {
    /// A registry whose subscriptions start after `watermark`'s seq when they are made.
    pub fn new(watermark: Watermark) -> Registry {
        // Routing starts after the watermark's seq: what came before is not this process's.
        let routed = AtomicI64::new(watermark.get());
        Registry {
            watermark,
            routed,
            ..Registry::default()
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves maps that are still consistent (every update is
        // a single insert or remove), so a poisoned lock is safe to keep using.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a socket; it receives nothing until it sends a filter.
    pub fn register(&self, identity: Option<Arc<Identity>>, outbox: outbox::Sender) -> SocketId {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let mut st = self.lock();
        if let Some(i) = &identity {
            st.by_user.entry(i.userid.clone()).or_default().insert(id);
        }
        st.sockets.insert(
            id,
            Entry {
                identity,
                client_id: None,
                keys: None,
                from_seq: 0,
                outbox,
            },
        );
        id
    }

    /// Removes a socket and its subscriptions.
    pub fn unregister(&self, id: SocketId) {
        let mut st = self.lock();
        let Some(entry) = st.sockets.remove(&id) else {
            return;
        };
        if st.with_client.remove(&id) {
            let routed = self.routed_through();
            if let Some(c) = cursor_of(&entry, routed) {
                st.closed.push(c);
            }
        }
        if let Some(keys) = &entry.keys {
            st.index.remove(id, keys);
        }
        if let Some(i) = &entry.identity
            && let Some(set) = st.by_user.get_mut(&i.userid)
        {
            set.remove(&id);
            if set.is_empty() {
                st.by_user.remove(&i.userid);
            }
        }
    }

    /// Replaces a socket's filter. The new filter sees changes committed from now on: returns
    /// the seq its subscription starts after.
    pub fn set_filter(&self, id: SocketId, keys: Vec<Key>) -> i64 {
        let from_seq = self.watermark.get();
        let mut st = self.lock();
        let State { sockets, index, .. } = &mut *st;
        let Some(entry) = sockets.get_mut(&id) else {
            return from_seq;
        };
        if let Some(old) = &entry.keys {
            index.remove(id, old);
        }
        index.insert(id, &keys);
        entry.keys = Some(keys.into_boxed_slice());
        entry.from_seq = from_seq;
        from_seq
    }

    /// Whether a socket has a client id its resume cursor can be kept under.
    pub fn has_client_key(&self, id: SocketId) -> bool {
        self.lock().with_client.contains(&id)
    }

    /// Sets (or with `None` clears) a socket's client id. Returns the seq its filter's
    /// subscription started after, if it has a filter.
    pub fn set_client_id(&self, id: SocketId, client_id: Option<Value>) -> Option<i64> {
        let mut st = self.lock();
        let keyed = client_id.as_ref().is_some_and(|v| cursor_key(v).is_some());
        match keyed {
            true => st.with_client.insert(id),
            false => st.with_client.remove(&id),
        };
        let entry = st.sockets.get_mut(&id)?;
        entry.client_id = client_id.map(Box::new);
        entry.keys.as_ref().map(|_| entry.from_seq)
    }

    /// Open sockets.
    pub fn len(&self) -> usize {
        self.lock().sockets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Distinct subscribed keys.
    pub fn subscribed_keys(&self) -> usize {
        self.lock().index.len()
    }

    /// The router calls this before it looks for a changed user's sockets.
    pub fn bump_user_epoch(&self) {
        self.user_epoch.fetch_add(1, Ordering::SeqCst);
    }

    pub fn user_epoch(&self) -> u64 {
        self.user_epoch.load(Ordering::SeqCst)
    }

    /// Whether `userid` has an open socket here.
    pub fn has_user(&self, userid: &str) -> bool {
        self.lock().by_user.contains_key(userid)
    }

    /// The identity one of `userid`'s sockets holds now.
    pub fn identity_of(&self, userid: &str) -> Option<Arc<Identity>> {
        let st = self.lock();
        let id = st.by_user.get(userid)?.iter().next()?;
        st.sockets.get(id)?.identity.clone()
    }

    /// Gives every socket of `userid` a refreshed identity.
    pub fn refresh_identity(&self, userid: &str, identity: Option<Arc<Identity>>) {
        let mut st = self.lock();
        let State {
            sockets, by_user, ..
        } = &mut *st;
        for id in by_user.get(userid).into_iter().flatten() {
            if let Some(entry) = sockets.get_mut(id) {
                entry.identity.clone_from(&identity);
            }
        }
    }

    /// Whether any socket is subscribed to any of `keys` (lets the router skip loading what
    /// nobody will receive).
    pub fn any_subscribed(&self, keys: &[Key]) -> bool {
        self.lock().index.any(keys)
    }

    /// The sockets subscribed to any of `keys` for which `decide` picks a viewer class.
    pub fn classify<C>(
        &self,
        keys: &[Key],
        mut decide: impl FnMut(&Entry) -> Option<C>,
    ) -> Vec<(SocketId, C)> {
        let st = self.lock();
        st.index
            .candidates(keys)
            .into_iter()
            .filter_map(|id| {
                let entry = st.sockets.get(&id)?;
                decide(entry).map(|c| (id, c))
            })
            .collect()
    }

    /// Queues `frame_of(class)` on each socket; a socket whose queue is full is marked slow and
    /// skipped, so nobody waits on it.
    pub fn hand_off<C>(
        &self,
        targets: &[(SocketId, C)],
        frame_of: impl Fn(&C) -> Utf8Bytes,
    ) -> Handoff {
        let st = self.lock();
        let mut out = Handoff::default();
        for (id, class) in targets {
            if let Some(entry) = st.sockets.get(id) {
                push(entry, frame_of(class), &mut out);
            }
        }
        out
    }

    /// Queues `frame` on every socket of `userid`.
    pub fn hand_off_to_user(&self, userid: &str, frame: &Utf8Bytes) -> Handoff {
        let st = self.lock();
        let mut out = Handoff::default();
        for id in st.by_user.get(userid).into_iter().flatten() {
            if let Some(entry) = st.sockets.get(id) {
                push(entry, frame.clone(), &mut out);
            }
        }
        out
    }
}

fn push(entry: &Entry, frame: Utf8Bytes, out: &mut Handoff) {
    match entry.outbox.try_send(frame) {
        Ok(()) => out.delivered += 1,
        // Newly marked slow; its task now closes it.
        Err(outbox::TrySendError::Full) => out.slow += 1,
        // Its task has ended and is about to unregister, or it is closing as slow already.
        Err(outbox::TrySendError::Closed) => {}
    }
}

mod resume;
use resume::cursor_of;
pub use resume::{Cursor, Viewer, cursor_key};

#[cfg(test)]
mod tests;
