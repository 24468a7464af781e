//! Routing one change (spec §6; h's `h/streamer/messages.py`, reworked as the architecture's
//! "route, authorise, render once"). The hub ([`super::hub::run`]) hands the [`Router`] each
//! change in `seq` order.
//!
//! Per annotation event: the annotation and its routing facts (handed over by a local create,
//! else read back), whatever else is not known yet (group, flaggers, author, checkpoint), then
//! [`route`]: index lookup, a pure permission check per candidate, one render per viewer class,
//! and a non-blocking push per delivery. Nothing here waits on a socket, and nothing here reads
//! the database per socket.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ws::Utf8Bytes;
use serde_json::json;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use tracing::field::Empty;

use super::filter::{Key, event_keys};
use super::hub::Hub;
use super::route::{Loaded, handles, record_handoff, route};
use crate::bus::{Known, Sequenced};
use crate::domain::{Annotation, Identity};
use crate::render::RelatedReads;
use crate::render::session::session_model;
use crate::store::{self, Change, ChangeAction, Db};

/// Bounds the author NIPSA cache; it is simply emptied when full.
const NIPSA_CACHE_MAX: usize = 100_000;

pub struct Router {
    hub: Hub,
    /// Whether an author is NIPSA'd; dropped when the change log says the user changed.
    nipsa: HashMap<String, bool>,
}

impl Router {
    pub fn new(hub: Hub) -> Router {
        Router {
            hub,
            nipsa: HashMap::new(),
        }
    }

    /// Routes one change, in a span (`route`: seq, action, candidates, deliveries) that logs
    /// at debug level. While the database cannot be reached the same change is tried again
    /// (after 50 ms, doubling to 2 s), never skipped: the socket protocol has no way to say
    /// "you missed one", and later changes wait their turn. A change the database refuses for
    /// any other reason is logged and skipped. Stops trying at `shutdown`.
    pub async fn handle(&mut self, due: Sequenced, shutdown: &CancellationToken) -> Handled {
        self.handle_prefetched(due, None, shutdown).await
    }

    /// [`Router::handle`], with the store's facts about the change already read by
    /// [`prefetch`] (a failed prefetch is read again here, as any first try that failed).
    pub async fn handle_prefetched(
        &mut self,
        due: Sequenced,
        prefetched: Option<Result<Prefetched, sqlx::Error>>,
        shutdown: &CancellationToken,
    ) -> Handled {
        let Sequenced { change, mut known } = due;
        let mut prefetched = prefetched.and_then(Result::ok);
        let mut pause = Duration::from_millis(50);
        loop {
            let span = tracing::debug_span!(
                "route",
                seq = change.seq,
                action = change.action.as_str(),
                candidates = Empty,
                deliveries = Empty,
            );
            let result = self
                .handle_in(&change, &mut known, prefetched.take())
                .instrument(span)
                .await;
            let Err(e) = result else {
                return Handled::Routed;
            };
            if !store::is_connection_error(&e) {
                tracing::warn!(seq = change.seq, action = %change.action, error = %e, "dropped a change that could not be routed");
                return Handled::Dropped;
            }
            metrics::counter!("scholia_route_retries_total").increment(1);
            tracing::warn!(seq = change.seq, error = %e, "the database is unreachable; routing this change again in {pause:?}");
            tokio::select! {
                _ = shutdown.cancelled() => return Handled::Stopped,
                _ = tokio::time::sleep(pause) => {}
            }
            pause = (pause * 2).min(Duration::from_secs(2));
        }
    }

    /// Routes one change once. A create's handed-over facts are taken on the first try; a
    /// second try reads the store like any other change.
    async fn handle_in(
        &mut self,
        change: &Change,
        known: &mut Option<Box<Known>>,
        prefetched: Option<Prefetched>,
    ) -> Result<(), sqlx::Error> {
        let known = known.take();
        match change.action {
            ChangeAction::Create | ChangeAction::Update | ChangeAction::Delete => {
                let started = Instant::now();
                let r = self.annotation_event(change, known, prefetched).await;
                metrics::histogram!("scholia_ws_route_seconds")
                    .record(started.elapsed().as_secs_f64());
                r
            }
            ChangeAction::GroupJoin | ChangeAction::GroupLeave => self.user_event(change).await,
            ChangeAction::UserChange => {
                if let Some(u) = &change.userid {
                    self.nipsa.remove(u);
                }
                self.refresh_user(change.userid.as_deref())
                    .await
                    .map(|_| ())
            }
        }
    }

    async fn annotation_event(
        &mut self,
        change: &Change,
        known: Option<Box<Known>>,
        prefetched: Option<Prefetched>,
    ) -> Result<(), sqlx::Error> {
        let loaded = match (known, prefetched) {
            // A create whose write (here, or on another node through the bus) handed over
            // what it wrote.
            (Some(known), _) if change.action == ChangeAction::Create => {
                self.handed_over(change, *known).await?
            }
            (_, Some(pre)) => self.with_nipsa(change, pre).await?,
            _ => {
                let pre = prefetch(self.hub.clone(), change.clone()).await?;
                self.with_nipsa(change, pre).await?
            }
        };
        let routed = match loaded {
            Some(loaded) => route(&self.hub, change, &loaded),
            None => Default::default(),
        };
        let span = tracing::Span::current();
        span.record("candidates", routed.candidates);
        span.record("deliveries", routed.delivered);
        tracing::debug!("routed");
        Ok(())
    }

    /// The event of a create whose write handed over the annotation and its routing facts;
    /// `None` when no socket holds any of its keys.
    async fn handed_over(
        &mut self,
        change: &Change,
        known: Known,
    ) -> Result<Option<Loaded>, sqlx::Error> {
        let mut loaded = Loaded::from_known(known, false, HashSet::new());
        if !self.hub.registry().any_subscribed(&loaded.keys) {
            handles().routed(change.action).increment(1);
            return Ok(None);
        }
        loaded.author_nipsa = self.author_nipsa(&loaded.ann.userid).await?;
        if loaded.checkpoint.is_some() {
            loaded.ancestor_authors = self.hub.db().authors_of(&loaded.ann.references).await?;
        }
        Ok(Some(loaded))
    }

    /// The event of a change read back from the store, completed with its author's NIPSA
    /// status (cached here, and dropped when the log says the user changed, so it is looked up
    /// at routing time, in order, never ahead of it). `None` when there is nothing to route.
    async fn with_nipsa(
        &mut self,
        change: &Change,
        pre: Prefetched,
    ) -> Result<Option<Loaded>, sqlx::Error> {
        match pre {
            Prefetched::Gone => Ok(None),
            Prefetched::Unwatched => {
                handles().routed(change.action).increment(1);
                Ok(None)
            }
            Prefetched::Loaded(mut loaded) => {
                loaded.author_nipsa = self.author_nipsa(&loaded.ann.userid).await?;
                Ok(Some(*loaded))
            }
        }
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
        let model = session_model(self.hub.db(), self.hub.site(), Some(&identity), None).await?;
        let frame = session_change(change.action, change.seq, model);
        let handoff = self.hub.registry().hand_off_to_user(userid, &frame);
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
        let registry = self.hub.registry().clone();
        registry.bump_user_epoch();
        if !registry.has_user(userid) {
            return Ok(None);
        }
        let db = self.hub.db();
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
            .hub
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

/// How routing one change ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Handled {
    /// Handed to every socket it was for.
    Routed,
    /// Refused by the database for good and skipped: sockets may have missed it.
    Dropped,
    /// The server stopped before it could be routed.
    Stopped,
}

/// A `session-change` frame: the user's own session model, as it is now.
pub fn session_change(action: ChangeAction, seq: i64, model: serde_json::Value) -> Utf8Bytes {
    let frame = json!({
        "type": "session-change",
        "action": action.as_str(),
        "model": model,
        "seq": seq,
    });
    Utf8Bytes::from(frame.to_string())
}

/// What the store says about an annotation event nothing was handed over for.
pub enum Prefetched {
    /// The annotation no longer exists (or the change names none).
    Gone,
    /// No socket on this node holds any of its keys.
    Unwatched,
    /// Everything routing needs but the author's NIPSA status (left false).
    Loaded(Box<Loaded>),
}

/// Whether [`Router::handle`] reads this change's annotation back from the store, so that the
/// hub may [`prefetch`] it: updates, deletes, and creates nothing was handed over for.
pub fn reads_back(due: &Sequenced) -> bool {
    match due.change.action {
        ChangeAction::Create => due.known.is_none(),
        ChangeAction::Update | ChangeAction::Delete => true,
        _ => false,
    }
}

/// Reads an annotation event's facts from the store: the annotation, its keys, and (when a
/// socket here holds one of them) its group, flags, checkpoint and what rendering needs. Reads
/// only committed rows and no router state, so the hub runs several at once ahead of routing,
/// which stays in seq order.
pub async fn prefetch(hub: Hub, change: Change) -> Result<Prefetched, sqlx::Error> {
    let Some(id) = change.annotation_id.as_deref() else {
        return Ok(Prefetched::Gone);
    };
    metrics::counter!("scholia_route_read_backs_total").increment(1);
    let db = hub.db().clone();
    let Some(ann) = db.annotation(id).await? else {
        tracing::debug!(
            annotation = id,
            "event for an annotation that no longer exists"
        );
        return Ok(Prefetched::Gone);
    };
    let keys = keys_of(&db, &ann).await?;
    if !hub.registry().any_subscribed(&keys) {
        return Ok(Prefetched::Unwatched);
    }
    let deleting = change.action == ChangeAction::Delete;
    let loaded = load_rest(&db, &mut RelatedReads::new(&db), ann, keys, deleting).await?;
    Ok(Prefetched::Loaded(Box::new(loaded)))
}

/// The index keys of a stored annotation's events (its document's URIs expanded).
pub async fn keys_of(db: &Db, ann: &Annotation) -> Result<Vec<Key>, sqlx::Error> {
    let uris = db
        .expand_uri(&ann.target_uri, &ann.target_uri_normalized)
        .await?;
    Ok(keys_with(ann, &uris))
}

/// [`keys_of`], given the annotation's expanded document URIs.
pub fn keys_with(ann: &Annotation, expanded_uris: &[String]) -> Vec<Key> {
    event_keys(
        &ann.id,
        &ann.groupid,
        &ann.references,
        expanded_uris,
        ann.version,
    )
}

/// Everything but the author's NIPSA status (left false) that deciding and rendering an event
/// of `ann` needs, read from the store as it is now: its group, flags, checkpoint and what
/// rendering needs (nothing for a delete, whose payload is the id).
pub async fn load_rest(
    db: &Db,
    reads: &mut RelatedReads<'_>,
    ann: Annotation,
    keys: Vec<Key>,
    deleting: bool,
) -> Result<Loaded, sqlx::Error> {
    let group = reads.group(&ann.groupid).await?;
    let flaggers: HashSet<i64> = if deleting {
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
    } else {
        Some(reads.related(&ann, flaggers.len() as i64).await?)
    };
    Ok(Loaded {
        ann,
        keys,
        group,
        author_nipsa: false,
        flaggers,
        checkpoint,
        ancestor_authors,
        related,
    })
}
