//! The router: one task per process that takes committed changes off the bus in `seq` order and
//! turns them into frames for the sockets that should see them (spec §6; h's
//! `h/streamer/messages.py`, reworked as the architecture's "route, authorise, render once").
//!
//! Per annotation event: one load of the annotation, its URI expansion, its group, and (for
//! create/update) its flaggers and author; then an index lookup, a pure permission check per
//! candidate, one render per viewer class, and a `try_send` per delivery. Nothing here waits on
//! a socket, and nothing here reads the database per socket.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use axum::extract::ws::Utf8Bytes;
use serde::Serialize;
use serde_json::json;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use super::audience::Audience;
use super::filter::{Key, event_keys};
use super::registry::Handoff;
use crate::api::profile::profile_json;
use crate::app::AppState;
use crate::domain::{Annotation, Group, Identity, time::now_micros};
use crate::render::{Related, Rendered, ViewerFacts};
use crate::store::{Change, ChangeAction, CheckpointScope};

/// Changes read back from the log at once when the bus has dropped some.
const CATCH_UP_BATCH: i64 = 1000;
/// Bounds the author NIPSA cache; it is simply emptied when full.
const NIPSA_CACHE_MAX: usize = 100_000;

/// Routes changes until `shutdown`. `last` is the seq of the newest change already handled
/// (the log's end when the server started).
pub async fn run(
    state: AppState,
    mut changes: broadcast::Receiver<Change>,
    last: i64,
    shutdown: CancellationToken,
) {
    let mut router = Router {
        state,
        last,
        nipsa: HashMap::new(),
    };
    loop {
        let change = tokio::select! {
            _ = shutdown.cancelled() => return,
            c = changes.recv() => c,
        };
        match change {
            Ok(change) => router.handle(change).await,
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                tracing::warn!(missed, "router fell behind the bus; reading the change log");
                router.catch_up().await;
            }
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

struct Router {
    state: AppState,
    /// The newest seq handled; older or repeated changes are skipped.
    last: i64,
    /// Whether an author is NIPSA'd; dropped when the change log says the user changed.
    nipsa: HashMap<String, bool>,
}

impl Router {
    /// Re-reads what the bus dropped, from the change log, so no event is skipped.
    async fn catch_up(&mut self) {
        loop {
            let batch = match self
                .state
                .db()
                .changes_after(self.last, CATCH_UP_BATCH)
                .await
            {
                Ok(b) => b,
                Err(e) => {
                    tracing::error!(error = %e, "could not read the change log to catch up");
                    return;
                }
            };
            let full = batch.len() as i64 == CATCH_UP_BATCH;
            for change in batch {
                self.handle(change).await;
            }
            if !full {
                return;
            }
        }
    }

    async fn handle(&mut self, change: Change) {
        if change.seq <= self.last {
            return;
        }
        self.last = change.seq;
        let result = match change.action {
            ChangeAction::Create | ChangeAction::Update | ChangeAction::Delete => {
                let started = Instant::now();
                let r = self.annotation_event(&change).await;
                metrics::histogram!("scholia_ws_route_seconds")
                    .record(started.elapsed().as_secs_f64());
                r
            }
            ChangeAction::GroupJoin | ChangeAction::GroupLeave => self.user_event(&change).await,
            ChangeAction::UserChange => {
                if let Some(u) = &change.userid {
                    self.nipsa.remove(u);
                }
                self.refresh_user(change.userid.as_deref())
                    .await
                    .map(|_| ())
            }
        };
        if let Err(e) = result {
            tracing::warn!(seq = change.seq, action = %change.action, error = %e, "dropped a change that could not be routed");
        }
    }

    async fn annotation_event(&mut self, change: &Change) -> Result<(), sqlx::Error> {
        let Some(id) = change.annotation_id.as_deref() else {
            return Ok(());
        };
        let db = self.state.db().clone();
        // A local create handed over what it wrote; anything else is read back.
        let preloaded = match change.action {
            ChangeAction::Create => self.state.realtime_preloads().take(change.seq),
            _ => None,
        };
        let (ann, known) = match preloaded {
            Some(p) => (p.ann, Some(p.related)),
            None => match db.annotation(id).await? {
                Some(ann) => (ann, None),
                None => {
                    tracing::debug!(
                        annotation = id,
                        "event for an annotation that no longer exists"
                    );
                    return Ok(());
                }
            },
        };
        let uris = db
            .expand_uri(&ann.target_uri, &ann.target_uri_normalized)
            .await?;
        let keys = event_keys(&ann.id, &ann.groupid, &ann.references, &uris, ann.version);
        if !self.state.realtime().any_subscribed(&keys) {
            handles().routed(change.action).increment(1);
            return Ok(());
        }
        let group = match &known {
            Some(k) => k.group.clone(),
            None => db.group_by_pubid(&ann.groupid).await?,
        };
        let author_nipsa = self.author_nipsa(&ann.userid).await?;
        let deleting = change.action == ChangeAction::Delete;
        // A just-created annotation has no flags yet.
        let flaggers: HashSet<i64> = if deleting || known.is_some() {
            HashSet::new()
        } else {
            db.flaggers(&ann.id).await?.into_iter().collect()
        };

        let checkpoint = match ann.document_id {
            Some(doc) => db.active_checkpoint(&ann.groupid, doc).await?,
            None => None,
        };
        let ancestor_authors = match &checkpoint {
            Some(_) => db.authors_of(&ann.references).await?,
            None => HashSet::new(),
        };

        let related = if deleting {
            None
        } else if let Some(k) = known {
            Some(k)
        } else {
            Some(Related {
                author_display_name: db.display_names(&[&ann.userid]).await?.remove(&ann.userid),
                document_title: match ann.document_id {
                    Some(d) => db.document_title(d).await?,
                    None => None,
                },
                group: group.clone(),
                flag_count: flaggers.len() as i64,
            })
        };
        let loaded = Loaded {
            ann,
            keys,
            group,
            author_nipsa,
            flaggers,
            checkpoint,
            ancestor_authors,
            related,
        };
        route(&self.state, change, &loaded);
        Ok(())
    }

    /// A group join or leave: refresh the user's sockets' memberships, then send them a
    /// `session-change` with the user's own session model (quirk Q9 fixed: h sends the acting
    /// user's model).
    async fn user_event(&mut self, change: &Change) -> Result<(), sqlx::Error> {
        let Some(userid) = change.userid.as_deref() else {
            return Ok(());
        };
        let Some(identity) = self.refresh_user(Some(userid)).await? else {
            return Ok(());
        };
        let model = match profile_json(&self.state, Some(&identity), None).await {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(error = ?e, "could not build a session model");
                return Ok(());
            }
        };
        let frame = json!({
            "type": "session-change",
            "action": change.action.as_str(),
            "model": model,
            "seq": change.seq,
        });
        let frame = Utf8Bytes::from(frame.to_string());
        let handoff = self.state.realtime().hand_off_to_user(userid, &frame);
        record_handoff(change, handoff);
        Ok(())
    }

    /// Reloads a user's memberships for their open sockets. Returns the fresh identity, or
    /// `None` when the user has no socket here (nothing to do) or no longer exists.
    async fn refresh_user(
        &mut self,
        userid: Option<&str>,
    ) -> Result<Option<Arc<Identity>>, sqlx::Error> {
        let Some(userid) = userid else {
            return Ok(None);
        };
        let registry = self.state.realtime().clone();
        registry.bump_user_epoch();
        if !registry.has_user(userid) {
            return Ok(None);
        }
        let db = self.state.db();
        let identity = match db.user_by_userid(userid).await? {
            Some(user) if !user.deleted => Some(Arc::new(db.identity_of(user).await?)),
            _ => None,
        };
        // A deleted user's sockets keep their name for `whoami` but lose every membership.
        let refreshed = match &identity {
            Some(i) => Some(i.clone()),
            None => registry.identity_of(userid).map(|old| {
                let mut stripped = (*old).clone();
                stripped.roles.clear();
                Arc::new(stripped)
            }),
        };
        registry.refresh_identity(userid, refreshed);
        Ok(identity)
    }

    async fn author_nipsa(&mut self, userid: &str) -> Result<bool, sqlx::Error> {
        if let Some(&n) = self.nipsa.get(userid) {
            return Ok(n);
        }
        let nipsa = self
            .state
            .db()
            .user_by_userid(userid)
            .await?
            .is_some_and(|u| u.nipsa);
        if self.nipsa.len() >= NIPSA_CACHE_MAX {
            self.nipsa.clear();
        }
        self.nipsa.insert(userid.to_owned(), nipsa);
        Ok(nipsa)
    }
}

/// Everything routing needs about one annotation event, loaded from the store by the router or
/// built directly by an in-process publisher ([`super::inject`]).
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

/// The part of routing that could grow with the number of sockets: index lookup, the pure
/// permission check per candidate, one render per viewer class and the hand-off of shared bytes.
/// Synchronous (no awaits), so it is timed on its own. Returns the number of sockets handed a
/// frame.
pub fn route(state: &AppState, change: &Change, ev: &Loaded) -> u64 {
    let registry = state.realtime();
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
        audience.class_for(socket.identity.as_deref(), socket.client_id.as_ref())
    });
    let m = handles();
    m.routed(change.action).increment(1);
    if targets.is_empty() {
        m.fanout.record(started.elapsed().as_secs_f64());
        return 0;
    }
    let frames = match &ev.related {
        None => {
            let frame = notification(change, &json!({ "id": ev.ann.id }));
            HashMap::from([(ViewerFacts::default(), frame)])
        }
        Some(related) => render_classes(state, change, &ev.ann, related, &targets),
    };
    let handoff = registry.hand_off(&targets, |class| frames[class].clone());
    m.fanout.record(started.elapsed().as_secs_f64());
    let delivered = handoff.delivered;
    record_handoff(change, handoff);
    delivered
}

/// Renders each distinct viewer class once; every socket of a class shares the bytes.
fn render_classes(
    state: &AppState,
    change: &Change,
    ann: &Annotation,
    related: &Related,
    targets: &[(u64, ViewerFacts)],
) -> HashMap<ViewerFacts, Utf8Bytes> {
    let mut frames = HashMap::new();
    for (_, class) in targets {
        frames.entry(*class).or_insert_with(|| {
            let payload = Rendered::new(state.site(), ann, related, *class);
            notification(change, &payload)
        });
    }
    handles().renders.increment(frames.len() as u64);
    frames
}

/// `{"type":"annotation-notification","options":{"action":...},"payload":[...],"seq":N}`,
/// serialised in one pass (no intermediate `Value`).
fn notification(change: &Change, payload: &impl Serialize) -> Utf8Bytes {
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
            action: change.action.as_str(),
        },
        payload: [payload],
        seq: change.seq,
    };
    // Sized for a typical annotation so the buffer is not regrown while writing.
    let mut buf = Vec::with_capacity(2048);
    // Serialising plain data into a Vec cannot fail, and serde_json writes only UTF-8.
    let _ = serde_json::to_writer(&mut buf, &frame);
    Utf8Bytes::from(String::from_utf8(buf).unwrap_or_default())
}

fn record_handoff(change: &Change, handoff: Handoff) {
    let m = handles();
    m.deliveries.increment(handoff.delivered);
    if handoff.slow > 0 {
        m.slow_closed.increment(handoff.slow);
    }
    let lag = (now_micros() - change.created).max(0) as f64 / 1e6;
    m.commit_to_handoff.record(lag);
}

/// The router's metric handles, looked up once: the `metrics!` macros hash their name and
/// labels on every call, and routing records several per event. The recorder is installed when
/// `AppState` is built, before anything is routed.
struct Handles {
    routed: [metrics::Counter; 3],
    fanout: metrics::Histogram,
    renders: metrics::Counter,
    deliveries: metrics::Counter,
    slow_closed: metrics::Counter,
    commit_to_handoff: metrics::Histogram,
}

impl Handles {
    fn routed(&self, action: ChangeAction) -> &metrics::Counter {
        match action {
            ChangeAction::Create => &self.routed[0],
            ChangeAction::Update => &self.routed[1],
            _ => &self.routed[2],
        }
    }
}

fn handles() -> &'static Handles {
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
