//! What resuming needs from the registry: a socket's viewer as it is now (for a replay), and the
//! resume cursor of each socket that named a client id (for the transparent resume of clients
//! that know nothing of `seq`; see `realtime::cursors`).
//!
//! A cursor is a promise: "this client is owed nothing at or below `seq`". It is the seq routing
//! had finished when the socket was last seen *settled* (nothing queued, nothing taken from the
//! queue and not yet flushed, no replay in progress). Routing records how far it got only after
//! it has handed a change to every socket, so a socket seen settled after that reading has
//! written everything up to it; a socket that is not settled keeps its older cursor, which can
//! only cost duplicates.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use serde_json::Value;

use super::{Entry, Registry};
use crate::domain::Identity;
use crate::realtime::filter::Key;
use crate::realtime::index::SocketId;

/// The longest client id a cursor is kept for (the official client's are 32 hex digits).
const MAX_CLIENT_ID: usize = 128;

/// One client's resume position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cursor {
    pub client_id: String,
    /// The socket's user, `""` when anonymous.
    pub userid: String,
    pub seq: i64,
}

/// A socket as a replay sees it: who it is now and what its filter is.
#[derive(Clone, Debug)]
pub struct Viewer {
    pub identity: Option<Arc<Identity>>,
    pub client_id: Option<Value>,
    pub keys: Box<[Key]>,
}

/// The key a client id's cursor is kept under: only a non-empty string of bounded length.
pub fn cursor_key(client_id: &Value) -> Option<&str> {
    client_id
        .as_str()
        .filter(|s| !s.is_empty() && s.len() <= MAX_CLIENT_ID)
}

/// The cursor `entry` has reached once routing has finished `routed`, if it has one now.
pub(super) fn cursor_of(entry: &Entry, routed: i64) -> Option<Cursor> {
    entry.keys.as_ref()?;
    let client_id = cursor_key(entry.client_id.as_deref()?)?;
    entry.outbox.is_settled().then(|| Cursor {
        client_id: client_id.to_owned(),
        userid: entry
            .identity
            .as_ref()
            .map(|i| i.userid.clone())
            .unwrap_or_default(),
        seq: routed,
    })
}

impl Registry {
    /// Called by routing once `seq` has been handed to every socket it was for.
    pub fn mark_routed(&self, seq: i64) {
        self.routed.fetch_max(seq, Ordering::AcqRel);
        self.routed_wake.notify_waiters();
    }

    /// Resolves once routing finishes its next change.
    pub fn routed_notified(&self) -> tokio::sync::futures::Notified<'_> {
        self.routed_wake.notified()
    }

    /// Marks every socket with a client id as owed a change routing dropped (see
    /// `outbox::State::owed`).
    pub fn mark_all_owed(&self) {
        let st = self.lock();
        for id in &st.with_client {
            if let Some(entry) = st.sockets.get(id) {
                entry.outbox.mark_owed();
            }
        }
    }

    /// The user of socket `id`, if it has one.
    pub fn viewer_userid(&self, id: SocketId) -> Option<String> {
        let st = self.lock();
        Some(st.sockets.get(&id)?.identity.as_ref()?.userid.clone())
    }

    /// The seq of the last change routing has finished.
    pub fn routed_through(&self) -> i64 {
        self.routed.load(Ordering::Acquire)
    }

    /// A socket's identity, client id and filter now; `None` without a filter.
    pub fn viewer(&self, id: SocketId) -> Option<Viewer> {
        let st = self.lock();
        let entry = st.sockets.get(&id)?;
        Some(Viewer {
            identity: entry.identity.clone(),
            client_id: entry.client_id.as_deref().cloned(),
            keys: entry.keys.clone()?,
        })
    }

    /// The cursors of the open sockets that are settled now, then those of sockets that closed
    /// settled since the last call (taken, so each is reported once).
    pub fn cursors(&self) -> Vec<Cursor> {
        // Read before the sockets are looked at: see the module's comment.
        let routed = self.routed_through();
        let mut st = self.lock();
        let mut out = std::mem::take(&mut st.closed);
        out.extend(
            st.with_client
                .iter()
                .filter_map(|id| cursor_of(st.sockets.get(id)?, routed)),
        );
        out
    }
}
