//! The router: one task per process that takes committed changes off the bus in `seq` order and
//! turns them into frames for the sockets that should see them (spec §6; h's
//! `h/streamer/messages.py`, reworked as the architecture's "route, authorise, render once").
//!
//! Per annotation event: the annotation (handed over by a local create, else read back), its
//! URI expansion, and whatever else is not known yet (group, flaggers, author, checkpoint);
//! then [`route`]: index lookup, a pure permission check per candidate, one render per viewer
//! class, and a non-blocking push per delivery. Nothing here waits on a socket, and nothing
//! here reads the database per socket.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use axum::extract::ws::Utf8Bytes;
use serde_json::json;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use super::filter::event_keys;
use super::route::{Loaded, handles, record_handoff, route};
use crate::api::profile::profile_json;
use crate::app::AppState;
use crate::domain::Identity;
use crate::render::Related;
use crate::store::{Change, ChangeAction};

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
        let (ann, known, routing) = match preloaded {
            Some(p) => (p.ann, Some(p.related), Some(p.routing)),
            None => match db.annotation(id).await? {
                Some(ann) => (ann, None, None),
                None => {
                    tracing::debug!(
                        annotation = id,
                        "event for an annotation that no longer exists"
                    );
                    return Ok(());
                }
            },
        };
        let (uris, preloaded_checkpoint) = match routing {
            Some(r) => (r.uris, Some(r.checkpoint)),
            None => {
                let uris = db
                    .expand_uri(&ann.target_uri, &ann.target_uri_normalized)
                    .await?;
                (uris, None)
            }
        };
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

        let checkpoint = match (preloaded_checkpoint, ann.document_id) {
            (Some(known), _) => known,
            (None, Some(doc)) => db.active_checkpoint(&ann.groupid, doc).await?,
            (None, None) => None,
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
