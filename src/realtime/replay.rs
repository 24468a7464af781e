//! Replaying what a client missed, from the change log (issue 16; architecture "Resume").
//!
//! A replay covers the log's changes after the client's `since` up to the seq its subscription
//! starts after (`upto`: live delivery takes over from there, so nothing is sent twice by the
//! two and nothing falls between them). It is decided and rendered *as things are now*: each
//! annotation changed in the window is sent once, at the seq of its latest change in the window,
//! as it reads now to the socket's current viewer (permissions, NIPSA, moderation, checkpoints,
//! echo suppression against that latest change's writer); one that is deleted now goes only as
//! its delete (a create or update of it whose delete comes later is skipped: the delete, in this
//! replay or live after it, tells the client). A group join or leave of the socket's own user in the window gives one
//! `session-change` with the user's session as it is now. `docs/realtime-protocol.md` says this
//! to clients.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use axum::extract::ws::Utf8Bytes;
use serde_json::json;

use super::audience::Audience;
use super::fanout::{keys_with, load_rest, session_change};
use super::hub::Hub;
use super::index::SocketId;
use super::registry::Viewer;
use super::route::notification;
use crate::render::session::session_model;
use crate::render::{RelatedReads, Rendered};
use crate::store::{Change, ChangeAction};

/// How sockets resume (from `[ws]`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ResumeSettings {
    /// Most change-log rows one replay covers; a longer gap is not replayed (`recovered: false`).
    pub replay_max: usize,
    /// How long a client id's cursor is remembered after it was last written.
    pub resume_ttl: Duration,
    /// How often cursors are written to the database.
    pub cursor_flush: Duration,
}

impl Default for ResumeSettings {
    fn default() -> Self {
        ResumeSettings {
            replay_max: 10_000,
            resume_ttl: Duration::from_secs(15 * 60),
            cursor_flush: Duration::from_secs(1),
        }
    }
}

/// Annotations rendered per page: a page's frames are written before the next is read, so a
/// long replay holds only a page in memory.
const PAGE: usize = 100;

/// One annotation to replay.
struct Due {
    id: String,
    /// Its latest change in the window.
    seq: i64,
    /// Whether the window holds its create (the client cannot have seen it at all).
    created: bool,
    /// The action of that latest change.
    last: ChangeAction,
    /// The writer of that latest change, for echo suppression.
    src_client_id: Option<String>,
}

/// A replay in progress: what remains to send, page by page.
pub struct Replay {
    hub: Hub,
    viewer: Viewer,
    due: VecDeque<Due>,
    /// The latest join or leave of the socket's own user in the window.
    session: Option<(ChangeAction, i64)>,
    /// Authors' NIPSA status, read once per replay.
    nipsa: HashMap<String, bool>,
    /// Documents' expanded URIs by (target URI, normalised), read once per replay: a replay
    /// is mostly one page's annotations.
    uris: HashMap<(String, String), Vec<String>>,
    pub since: i64,
    /// The seq the replay covers up to (live delivery starts after it).
    pub upto: i64,
    /// Whether every change after `since` is covered; when false nothing is replayed and the
    /// client must refetch.
    pub recovered: bool,
}

impl Replay {
    /// Plans the replay of `(since, upto]` for socket `id`; `None` when the socket has no
    /// filter (or is gone).
    pub async fn plan(
        hub: &Hub,
        id: SocketId,
        since: i64,
        upto: i64,
    ) -> Result<Option<Replay>, sqlx::Error> {
        let Some(viewer) = hub.registry().viewer(id) else {
            return Ok(None);
        };
        Replay::plan_for(hub, viewer, since, upto).await.map(Some)
    }

    /// Plans the replay of `(since, upto]` for `viewer`, reading the log.
    pub async fn plan_for(
        hub: &Hub,
        viewer: Viewer,
        since: i64,
        upto: i64,
    ) -> Result<Replay, sqlx::Error> {
        let db = hub.db();
        let mut replay = Replay::of_changes(hub, viewer, since, upto, Vec::new());
        if since >= upto {
            // Nothing between: but a seq past the whole log is not a position in this log.
            replay.recovered = since <= db.last_seq().await?;
            return Ok(replay);
        }
        let max = hub.resume().replay_max;
        let rows = db.changes_after(since, max as i64 + 1).await?;
        // Read after the rows: the pruner raises the horizon before it deletes, so rows pruned
        // before they were read show here.
        if since < db.log_horizon().await? {
            replay.recovered = false;
            return Ok(replay);
        }
        if rows.len() > max && rows[max].seq <= upto {
            replay.recovered = false;
            return Ok(replay);
        }
        let rows = rows.into_iter().take_while(|c| c.seq <= upto).collect();
        Ok(Replay::of_changes(hub, replay.viewer, since, upto, rows))
    }

    /// The replay of `changes` (log rows in seq order, all within `(since, upto]`) for
    /// `viewer`: one event per annotation, at its latest change, and one `session-change` for
    /// the viewer's own joins and leaves.
    pub fn of_changes(
        hub: &Hub,
        viewer: Viewer,
        since: i64,
        upto: i64,
        changes: Vec<Change>,
    ) -> Replay {
        let mut replay = Replay {
            hub: hub.clone(),
            viewer,
            due: VecDeque::new(),
            session: None,
            nipsa: HashMap::new(),
            uris: HashMap::new(),
            since,
            upto,
            recovered: true,
        };
        let me = replay.viewer.identity.as_ref().map(|i| i.userid.clone());
        let mut at: HashMap<String, usize> = HashMap::new();
        let mut due: Vec<Due> = Vec::new();
        for c in changes {
            match c.action {
                ChangeAction::Create | ChangeAction::Update | ChangeAction::Delete => {
                    let Some(ann) = c.annotation_id else { continue };
                    match at.get(&ann) {
                        Some(&i) => {
                            due[i].seq = c.seq;
                            due[i].last = c.action;
                            due[i].src_client_id = c.src_client_id;
                        }
                        None => {
                            at.insert(ann.clone(), due.len());
                            due.push(Due {
                                id: ann,
                                seq: c.seq,
                                created: c.action == ChangeAction::Create,
                                last: c.action,
                                src_client_id: c.src_client_id,
                            });
                        }
                    }
                }
                ChangeAction::GroupJoin | ChangeAction::GroupLeave
                    if me.is_some() && c.userid == me =>
                {
                    replay.session = Some((c.action, c.seq));
                }
                _ => {}
            }
        }
        due.sort_by_key(|d| d.seq);
        replay.due = due.into();
        replay
    }

    /// The next page of frames, in seq order; `None` once everything has been sent.
    pub async fn next_page(&mut self) -> Result<Option<Vec<Utf8Bytes>>, sqlx::Error> {
        if self.due.is_empty() {
            return Ok(self.session_frame().await?.map(|f| vec![f]));
        }
        let mut frames = Vec::new();
        let n = self.due.len().min(PAGE);
        let db = self.hub.db().clone();
        // Groups, authors and titles, read once per page.
        let mut reads = RelatedReads::new(&db);
        for due in self.due.drain(..n).collect::<Vec<_>>() {
            // The session change goes where its seq puts it.
            if self.session.is_some_and(|(_, seq)| seq < due.seq)
                && let Some(f) = self.session_frame().await?
            {
                frames.push(f);
            }
            if let Some(frame) = self.render(&mut reads, &due).await? {
                frames.push(frame);
            }
        }
        Ok(Some(frames))
    }

    /// The `session-change` for the viewer's own joins and leaves, once.
    async fn session_frame(&mut self) -> Result<Option<Utf8Bytes>, sqlx::Error> {
        let Some((action, seq)) = self.session.take() else {
            return Ok(None);
        };
        let hub = &self.hub;
        let model =
            session_model(hub.db(), hub.site(), self.viewer.identity.as_deref(), None).await?;
        Ok(Some(session_change(action, seq, model)))
    }

    /// The frame `due` gives this socket now, if it may have one.
    async fn render(
        &mut self,
        reads: &mut RelatedReads<'_>,
        due: &Due,
    ) -> Result<Option<Utf8Bytes>, sqlx::Error> {
        let db = self.hub.db().clone();
        let Some(ann) = db.annotation(&due.id).await? else {
            return Ok(None);
        };
        let doc = (ann.target_uri.clone(), ann.target_uri_normalized.clone());
        let uris = match self.uris.get(&doc) {
            Some(u) => u,
            None => {
                let u = db.expand_uri(&doc.0, &doc.1).await?;
                self.uris.entry(doc.clone()).or_insert(u)
            }
        };
        let keys = keys_with(&ann, uris);
        // Event keys come sorted and de-duplicated.
        let wanted = self
            .viewer
            .keys
            .iter()
            .any(|k| keys.binary_search(k).is_ok());
        if !wanted {
            return Ok(None);
        }
        let deleting = ann.deleted;
        if deleting && due.last != ChangeAction::Delete {
            // Deleted since: its delete, later in the log, stands for it (in this replay, or
            // live after it).
            return Ok(None);
        }
        let ev = load_rest(&db, reads, ann, keys, deleting).await?;
        let author_nipsa = match self.nipsa.get(&ev.ann.userid) {
            Some(&n) => n,
            None => {
                let n = db
                    .user_by_userid(&ev.ann.userid)
                    .await?
                    .is_some_and(|u| u.nipsa);
                self.nipsa.insert(ev.ann.userid.clone(), n);
                n
            }
        };
        let audience = Audience {
            ann: &ev.ann,
            group: ev.group.as_ref(),
            author_nipsa,
            flaggers: &ev.flaggers,
            checkpoint: ev.checkpoint.as_ref(),
            ancestor_authors: &ev.ancestor_authors,
            src_client_id: due.src_client_id.as_deref(),
            deleting,
        };
        let viewer = &self.viewer;
        let Some(class) = audience.class_for(viewer.identity.as_deref(), viewer.client_id.as_ref())
        else {
            return Ok(None);
        };
        let frame = match &ev.related {
            None => notification(ChangeAction::Delete, due.seq, &json!({ "id": ev.ann.id })),
            Some(related) => {
                let action = match due.created {
                    true => ChangeAction::Create,
                    false => ChangeAction::Update,
                };
                let payload = Rendered::new(self.hub.site(), &ev.ann, related, class);
                notification(action, due.seq, &payload)
            }
        };
        Ok(Some(frame))
    }

    /// `{"type":"resumed","since":N,"seq":S,"recovered":bool}`: the end of an asked-for replay.
    pub fn resumed(&self) -> Utf8Bytes {
        resumed_frame(self.since, self.upto, self.recovered)
    }

    /// An answer for a replay that could not be read (the database failed): nothing recovered.
    pub fn failed(since: i64, upto: i64) -> Utf8Bytes {
        resumed_frame(since, upto, false)
    }
}

fn resumed_frame(since: i64, upto: i64, recovered: bool) -> Utf8Bytes {
    let frame = json!({"type": "resumed", "since": since, "seq": upto, "recovered": recovered});
    Utf8Bytes::from(frame.to_string())
}
