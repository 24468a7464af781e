//! What a local create already knows about its annotation, handed from the write path to the
//! router under the change's `seq`, so routing the event needs no read-back of the annotation,
//! its group, author name, document title, URI expansion or checkpoint. Changes from other processes (admin commands),
//! and any whose hand-over came too late, are routed from the database as before.

use std::collections::BTreeMap;
use std::sync::Mutex;

use crate::domain::Annotation;
use crate::render::Related;
use crate::store::RoutingFacts;

/// Hand-overs kept at most; older ones are dropped (the router then reads the database).
const MAX_PENDING: usize = 4096;

pub struct Preloaded {
    pub ann: Annotation,
    pub related: Related,
    /// Read in the create's own transaction.
    pub routing: RoutingFacts,
}

#[derive(Default)]
pub struct Preloads {
    pending: Mutex<BTreeMap<i64, Preloaded>>,
}

impl Preloads {
    pub fn put(&self, seq: i64, preloaded: Preloaded) {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        pending.insert(seq, preloaded);
        while pending.len() > MAX_PENDING {
            pending.pop_first();
        }
    }

    /// The hand-over for `seq`, if any. Older ones are dropped: the router handles changes in
    /// `seq` order, so they were routed without it.
    pub fn take(&self, seq: i64) -> Option<Preloaded> {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        let newer = pending.split_off(&(seq + 1));
        let found = pending.remove(&seq);
        *pending = newer;
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::Related;
    use crate::store::RoutingFacts;

    fn ann(id: &str) -> Annotation {
        let mut a = crate::domain::fixtures::annotation("alice", "__world__", true, None);
        a.id = id.to_owned();
        a
    }

    #[test]
    fn taken_once_and_older_ones_are_dropped() {
        let p = Preloads::default();
        for (seq, id) in [(1, "a"), (2, "b"), (3, "c")] {
            let routing = RoutingFacts::default();
            let related = Related::default();
            p.put(
                seq,
                Preloaded {
                    ann: ann(id),
                    related,
                    routing,
                },
            );
        }
        assert_eq!(p.take(2).map(|x| x.ann.id), Some("b".to_owned()));
        assert!(p.take(2).is_none());
        assert!(p.take(1).is_none(), "older than a taken seq");
        assert_eq!(p.take(3).map(|x| x.ann.id), Some("c".to_owned()));
    }
}
