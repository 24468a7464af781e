//! The subscription index: from each filter key to the sockets whose filter names it. An event
//! looks up its own keys (a handful) and gets exactly the sockets that match, so its cost does
//! not depend on how many sockets are connected (h scans them all, `h/streamer/messages.py`).

use std::collections::{HashMap, HashSet};

use super::filter::Key;

/// A socket's id within one server process.
pub type SocketId = u64;

#[derive(Default, Debug)]
pub struct Index {
    by_key: HashMap<Key, HashSet<SocketId>>,
}

impl Index {
    /// Subscribes `socket` to `keys`.
    pub fn insert(&mut self, socket: SocketId, keys: &[Key]) {
        for key in keys {
            self.by_key.entry(key.clone()).or_default().insert(socket);
        }
    }

    /// Unsubscribes `socket` from `keys` (the keys it was subscribed with), dropping keys no
    /// socket names any more so the index never outgrows the live filters.
    pub fn remove(&mut self, socket: SocketId, keys: &[Key]) {
        for key in keys {
            if let Some(set) = self.by_key.get_mut(key) {
                set.remove(&socket);
                if set.is_empty() {
                    self.by_key.remove(key);
                }
            }
        }
    }

    /// The sockets subscribed to any of `keys`, each once, in ascending order.
    pub fn candidates(&self, keys: &[Key]) -> Vec<SocketId> {
        let mut out: Vec<SocketId> = keys
            .iter()
            .filter_map(|k| self.by_key.get(k))
            .flatten()
            .copied()
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Distinct keys with at least one subscriber.
    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::{Index, Key};

    fn k(s: &str) -> Key {
        Key::Uri(s.to_owned())
    }

    #[test]
    fn lookup_is_by_key_and_deduplicated() {
        let mut idx = Index::default();
        idx.insert(1, &[k("a"), k("b")]);
        idx.insert(2, &[k("b")]);
        idx.insert(3, &[k("c")]);
        assert_eq!(idx.candidates(&[k("a"), k("b")]), vec![1, 2]);
        assert_eq!(idx.candidates(&[k("z")]), Vec::<u64>::new());
        // The same name under another field is another key.
        assert_eq!(idx.candidates(&[Key::Id("a".into())]), Vec::<u64>::new());
    }

    #[test]
    fn removal_forgets_empty_keys() {
        let mut idx = Index::default();
        idx.insert(1, &[k("a"), k("b")]);
        idx.insert(2, &[k("b")]);
        idx.remove(1, &[k("a"), k("b")]);
        assert_eq!(idx.candidates(&[k("a"), k("b")]), vec![2]);
        assert_eq!(idx.len(), 1);
        idx.remove(2, &[k("b")]);
        assert!(idx.is_empty());
    }
}
