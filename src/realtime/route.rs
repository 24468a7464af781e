//! The synchronous half of routing one annotation event, shared by the router task
//! ([`super::fanout`]) and the in-process publish path ([`super::hub::Hub`]'s `Inject`): index lookup, the
//! pure permission check per candidate, one render per viewer class into shared bytes, and the
//! hand-off to socket queues. No awaits and no database: its cost is the event's keys plus its
//! deliveries, whatever the number of connected sockets.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use axum::extract::ws::Utf8Bytes;
use serde::Serialize;
use serde_json::json;

use super::audience::Audience;
use super::filter::Key;
use super::filter::event_keys;
use super::hub::Hub;
use super::registry::Handoff;
use crate::bus::Known;
use crate::domain::{Annotation, Group, time::now_micros};
use crate::render::{Related, Rendered, ViewerFacts};
use crate::store::{Change, ChangeAction, CheckpointScope};

/// Everything routing needs about one annotation event: loaded from the store by the router, or
/// made from what a create's write knew ([`Loaded::from_known`]).
pub struct Loaded {
    pub ann: Annotation,
    /// The index keys the event is looked up under ([`event_keys`]).
    pub keys: Vec<Key>,
    pub group: Option<Group>,
    pub author_nipsa: bool,
    pub flaggers: HashSet<i64>,
    pub checkpoint: Option<CheckpointScope>,
    pub ancestor_authors: HashSet<String>,
    /// What rendering needs besides the annotation; `None` for a delete (its payload is the id).
    pub related: Option<Related>,
}

impl Loaded {
    /// The event of a create whose write handed over what it knew: nothing has flagged the new
    /// annotation yet, and its author's NIPSA status and the thread's authors (needed only under
    /// a checkpoint) are the router's to add.
    pub fn from_known(
        known: Known,
        author_nipsa: bool,
        ancestor_authors: HashSet<String>,
    ) -> Loaded {
        let Known {
            annotation: ann,
            related,
            routing,
        } = known;
        let keys = event_keys(
            &ann.id,
            &ann.groupid,
            &ann.references,
            &routing.uris,
            ann.version,
        );
        Loaded {
            ann,
            keys,
            group: related.group.clone(),
            author_nipsa,
            flaggers: HashSet::new(),
            checkpoint: routing.checkpoint,
            ancestor_authors,
            related: Some(related),
        }
    }
}

/// The part of routing that could grow with the number of sockets: index lookup, the pure
/// permission check per candidate, one render per viewer class and the hand-off of shared bytes.
/// Synchronous (no awaits), so it is timed on its own.
pub fn route(hub: &Hub, change: &Change, ev: &Loaded) -> Routed {
    let registry = hub.registry();
    let audience = Audience {
        ann: &ev.ann,
        group: ev.group.as_ref(),
        author_nipsa: ev.author_nipsa,
        flaggers: &ev.flaggers,
        checkpoint: ev.checkpoint.as_ref(),
        ancestor_authors: &ev.ancestor_authors,
        src_client_id: change.src_client_id.as_deref(),
        deleting: change.action == ChangeAction::Delete,
    };
    let started = Instant::now();
    let targets = registry.classify(&ev.keys, |socket| {
        // A subscription starts after the change that was newest when it was made (synthetic
        // events, seq 0, go to every subscriber).
        if change.seq != 0 && change.seq <= socket.from_seq {
            return None;
        }
        audience.class_for(socket.identity.as_deref(), socket.client_id.as_deref())
    });
    let m = handles();
    m.routed(change.action).increment(1);
    if targets.is_empty() {
        m.fanout.record(started.elapsed().as_secs_f64());
        return Routed::default();
    }
    let frames = match &ev.related {
        None => {
            let frame = notification(change.action, change.seq, &json!({ "id": ev.ann.id }));
            HashMap::from([(ViewerFacts::default(), frame)])
        }
        Some(related) => render_classes(hub, change, &ev.ann, related, &targets),
    };
    let handoff = registry.hand_off(&targets, |class| frames[class].clone());
    m.fanout.record(started.elapsed().as_secs_f64());
    let routed = Routed {
        candidates: targets.len() as u64,
        delivered: handoff.delivered,
    };
    record_handoff(change, handoff);
    routed
}

/// What routing one event came to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Routed {
    /// Sockets whose filter named the event and whose viewer may read it.
    pub candidates: u64,
    /// Sockets handed a frame (the rest were too slow, or closing).
    pub delivered: u64,
}

/// Renders each distinct viewer class once; every socket of a class shares the bytes.
fn render_classes(
    hub: &Hub,
    change: &Change,
    ann: &Annotation,
    related: &Related,
    targets: &[(u64, ViewerFacts)],
) -> HashMap<ViewerFacts, Utf8Bytes> {
    let mut frames = HashMap::new();
    for (_, class) in targets {
        frames.entry(*class).or_insert_with(|| {
            let payload = Rendered::new(hub.site(), ann, related, *class);
            notification(change.action, change.seq, &payload)
        });
    }
    handles().renders.increment(frames.len() as u64);
    frames
}

/// `{"type":"annotation-notification","options":{"action":...},"payload":[...],"seq":N}`,
/// serialised in one pass (no intermediate `Value`).
pub(super) fn notification(action: ChangeAction, seq: i64, payload: &impl Serialize) -> Utf8Bytes {
    #[derive(Serialize)]
    struct Frame<'a, P: Serialize> {
        r#type: &'static str,
        options: Options,
        payload: [&'a P; 1],
        seq: i64,
    }
    #[derive(Serialize)]
    struct Options {
        action: &'static str,
    }
    let frame = Frame {
        r#type: "annotation-notification",
        options: Options {
            action: action.as_str(),
        },
        payload: [payload],
        seq,
    };
    // Sized for a typical annotation so the buffer is not regrown while writing.
    let mut buf = Vec::with_capacity(2048);
    // Serialising plain data into a Vec cannot fail, and serde_json writes only UTF-8.
    let _ = serde_json::to_writer(&mut buf, &frame);
    Utf8Bytes::from(String::from_utf8(buf).unwrap_or_default())
}

pub(super) fn record_handoff(change: &Change, handoff: Handoff) {
    let m = handles();
    m.deliveries.increment(handoff.delivered);
    if handoff.slow > 0 {
        m.slow_closed.increment(handoff.slow);
    }
    let lag = (now_micros() - change.created).max(0) as f64 / 1e6;
    m.commit_to_handoff.record(lag);
}

/// The router's metric handles, looked up once: the `metrics!` macros hash their name and
/// labels on every call, and routing records several per event. The recorder is installed as the
/// server starts (`app::run`), before anything is routed.
pub(super) struct Handles {
    routed: [metrics::Counter; 3],
    fanout: metrics::Histogram,
    renders: metrics::Counter,
    deliveries: metrics::Counter,
    slow_closed: metrics::Counter,
    commit_to_handoff: metrics::Histogram,
}

impl Handles {
    pub(super) fn routed(&self, action: ChangeAction) -> &metrics::Counter {
        match action {
            ChangeAction::Create => &self.routed[0],
            ChangeAction::Update => &self.routed[1],
            _ => &self.routed[2],
        }
    }
}

pub(super) fn handles() -> &'static Handles {
    static HANDLES: std::sync::OnceLock<Handles> = std::sync::OnceLock::new();
    HANDLES.get_or_init(|| {
        let routed = |a: ChangeAction| {
            metrics::counter!("scholia_ws_events_routed_total", "action" => a.as_str())
        };
        Handles {
            routed: [
                routed(ChangeAction::Create),
                routed(ChangeAction::Update),
                routed(ChangeAction::Delete),
            ],
            fanout: metrics::histogram!("scholia_ws_fanout_seconds"),
            renders: metrics::counter!("scholia_ws_renders_total"),
            deliveries: metrics::counter!("scholia_ws_deliveries_total"),
            slow_closed: metrics::counter!("scholia_ws_slow_closed_total"),
            commit_to_handoff: metrics::histogram!("scholia_ws_commit_to_handoff_seconds"),
        }
    })
}
