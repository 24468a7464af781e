//! The subscription index: from each filter key to the sockets whose filter names it. An event
//! looks up its own keys (a handful) and gets exactly the sockets that match, so its cost does
//! not depend on how many sockets are connected (h scans them all, `h/streamer/messages.py`).

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

use super::filter::Key;

/// A socket's id within one server process.
pub type SocketId = u64;

/// Hashes a socket id with one multiplication. Ids are handed out by this process (never by a
/// client), so nobody can pick them to collide, and SipHash's flood resistance buys nothing; a
/// broadcast to 10k sockets hashed each id three times at ~20 ns a time.
#[derive(Default, Clone, Copy, Debug)]
pub struct IdHasher(u64);

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn write_u64(&mut self, id: u64) {
        // Fibonacci hashing: sequential ids spread over the whole range, high bits included
        // (hashbrown takes its control byte from the top bits).
        self.0 = id.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

pub type IdBuildHasher = BuildHasherDefault<IdHasher>;
/// A set of socket ids.
pub type IdSet = HashSet<SocketId, IdBuildHasher>;
/// A map keyed by socket id.
pub type IdMap<V> = HashMap<SocketId, V, IdBuildHasher>;

/// The sockets under one key. Most keys (a page's URI, an annotation id) have one subscriber:
/// keeping a lone one inline spares each lookup the read of a set's table, a cold cache line
/// once there are more sockets than the cache holds.
#[derive(Debug)]
enum Subscribers {
    One(SocketId),
    Many(IdSet),
}

impl Subscribers {
    fn insert(&mut self, socket: SocketId) {
        match self {
            Subscribers::One(only) if *only == socket => {}
            Subscribers::One(only) => {
                *self = Subscribers::Many(IdSet::from_iter([*only, socket]));
            }
            Subscribers::Many(set) => {
                set.insert(socket);
            }
        }
    }

    /// Removes `socket`; true when none is left.
    fn remove(&mut self, socket: SocketId) -> bool {
        match self {
            Subscribers::One(only) => *only == socket,
            Subscribers::Many(set) => {
                set.remove(&socket);
                let mut left = set.iter().copied();
                match (left.next(), left.next()) {
                    (None, _) => return true,
                    (Some(last), None) => *self = Subscribers::One(last),
                    _ => {}
                }
                false
            }
        }
    }

    fn extend_into(&self, out: &mut Vec<SocketId>) {
        match self {
            Subscribers::One(only) => out.push(*only),
            Subscribers::Many(set) => out.extend(set.iter().copied()),
        }
    }
}

#[derive(Default, Debug)]
pub struct Index {
    by_key: HashMap<Key, Subscribers>,
    /// Keys held of each kind ([`Key::kind`]). An event has a key of every kind (its id, its
    /// group, its URI...), but most servers hold few kinds: the official client's sidebar
    /// subscribes by URI alone. A kind nobody holds is not looked up: that saves a hash and a
    /// probe of a table that, with many sockets, is out of the cache.
    kinds: [usize; Key::KINDS],
}

impl Index {
    /// Subscribes `socket` to `keys`.
    pub fn insert(&mut self, socket: SocketId, keys: &[Key]) {
        for key in keys {
            match self.by_key.get_mut(key) {
                Some(subs) => subs.insert(socket),
                None => {
                    self.by_key.insert(key.clone(), Subscribers::One(socket));
                    self.kinds[key.kind()] += 1;
                }
            }
        }
    }

    /// Unsubscribes `socket` from `keys` (the keys it was subscribed with), dropping keys no
    /// socket names any more so the index never outgrows the live filters.
    pub fn remove(&mut self, socket: SocketId, keys: &[Key]) {
        for key in keys {
            if let Some(subs) = self.by_key.get_mut(key)
                && subs.remove(socket)
            {
                self.by_key.remove(key);
                self.kinds[key.kind()] -= 1;
            }
        }
    }

    /// The sockets subscribed to any of `keys`, each once.
    pub fn candidates(&self, keys: &[Key]) -> Vec<SocketId> {
        let mut sets = keys
            .iter()
            .filter(|k| self.kinds[k.kind()] > 0)
            .filter_map(|k| self.by_key.get(k));
        let Some(first) = sets.next() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        first.extend_into(&mut out);
        // A socket subscribed under several of the event's keys must get it once. With one
        // matching key (a broadcast to one URI, say) the set holds each socket once already.
        let mut merged = false;
        for subs in sets {
            subs.extend_into(&mut out);
            merged = true;
        }
        if merged {
            out.sort_unstable();
            out.dedup();
        }
        out
    }

    /// Whether any socket is subscribed to any of `keys` (an empty set is never kept).
    pub fn any(&self, keys: &[Key]) -> bool {
        keys.iter()
            .any(|k| self.kinds[k.kind()] > 0 && self.by_key.contains_key(k))
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
        let mut one = idx.candidates(&[k("b"), k("z")]);
        one.sort_unstable();
        assert_eq!(one, vec![1, 2]);
        assert!(idx.any(&[k("z"), k("c")]));
        assert!(!idx.any(&[k("z")]));
        assert_eq!(idx.candidates(&[k("z")]), Vec::<u64>::new());
        // The same name under another field is another key.
        assert_eq!(idx.candidates(&[Key::Id("a".into())]), Vec::<u64>::new());
    }

    #[test]
    fn a_key_grows_from_one_subscriber_to_many_and_back() {
        let mut idx = Index::default();
        idx.insert(1, &[k("a")]);
        idx.insert(1, &[k("a")]);
        assert_eq!(idx.candidates(&[k("a")]), vec![1]);
        idx.insert(2, &[k("a")]);
        idx.insert(3, &[k("a")]);
        let mut all = idx.candidates(&[k("a")]);
        all.sort_unstable();
        assert_eq!(all, vec![1, 2, 3]);
        idx.remove(2, &[k("a")]);
        idx.remove(3, &[k("a")]);
        assert_eq!(idx.candidates(&[k("a")]), vec![1]);
        // Removing a socket the key does not hold leaves its subscriber alone.
        idx.remove(9, &[k("a")]);
        assert_eq!(idx.candidates(&[k("a")]), vec![1]);
        idx.remove(1, &[k("a")]);
        assert!(idx.is_empty());
    }

    #[test]
    fn kinds_are_counted_as_keys_come_and_go() {
        let mut idx = Index::default();
        idx.insert(1, &[k("a"), Key::Id("a".into())]);
        idx.insert(2, &[k("a")]);
        assert_eq!(idx.kinds[k("a").kind()], 1);
        assert_eq!(idx.kinds[Key::Id("a".into()).kind()], 1);
        idx.remove(1, &[k("a"), Key::Id("a".into())]);
        assert_eq!(idx.kinds[Key::Id("a".into()).kind()], 0);
        assert_eq!(idx.candidates(&[Key::Id("a".into()), k("a")]), vec![2]);
        idx.remove(2, &[k("a")]);
        assert_eq!(idx.kinds, [0; Key::KINDS]);
        assert!(!idx.any(&[k("a")]));
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
