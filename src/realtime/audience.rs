//! Who may receive one annotation event, and as which viewer class (spec §6; h's
//! `h/streamer/messages.py` checks, in order: echo, NIPSA, permission, checkpoint). Pure: the
//! router gathers the facts once per event and asks this for each candidate socket.

use std::collections::HashSet;

use serde_json::Value;

use crate::domain::{Annotation, Group, Identity, authz};
use crate::render::ViewerFacts;
use crate::store::CheckpointScope;

/// Everything about one event that delivery depends on.
pub struct Audience<'a> {
    pub ann: &'a Annotation,
    pub group: Option<&'a Group>,
    pub author_nipsa: bool,
    /// Users (by id) who flagged the annotation.
    pub flaggers: &'a HashSet<i64>,
    /// An active Hide & Reveal checkpoint on the annotation's group and document.
    pub checkpoint: Option<&'a CheckpointScope>,
    /// Authors of the annotation's ancestors (only needed with a checkpoint).
    pub ancestor_authors: &'a HashSet<String>,
    /// The writer's `X-Client-Id`.
    pub src_client_id: Option<&'a str>,
    pub deleting: bool,
}

impl Audience<'_> {
    /// The class a socket with this identity and client id receives the event as, or `None`
    /// when it must not receive it.
    pub fn class_for(
        &self,
        who: Option<&Identity>,
        client_id: Option<&Value>,
    ) -> Option<ViewerFacts> {
        let ann = self.ann;
        // Echo suppression only when both sides name a client (quirk Q7 fixed).
        if let (Some(src), Some(Value::String(mine))) = (self.src_client_id, client_id)
            && src == mine
        {
            return None;
        }
        let is_author = who.is_some_and(|w| w.userid == ann.userid);
        // NIPSA'd content reaches its author only, anonymous sockets included (quirk Q6).
        if self.author_nipsa && !is_author {
            return None;
        }
        if !authz::can_read_realtime(ann, self.group, who) {
            return None;
        }
        if let (Some(cp), Some(w)) = (self.checkpoint, who)
            && withheld_by_checkpoint(cp, ann, w, self.ancestor_authors)
        {
            return None;
        }
        if self.deleting {
            // A delete carries only the id: one class for everyone.
            return Some(ViewerFacts::default());
        }
        Some(ViewerFacts {
            is_author,
            can_moderate: authz::can_moderate(ann, self.group, who),
            flagged: who.is_some_and(|w| self.flaggers.contains(&w.user.id)),
        })
    }
}

/// Whether an active checkpoint withholds `ann` from `viewer` (h's `hides_annotation` in
/// `h/services/checkpoint.py`): a student (a member who is not an instructor) sees their own
/// annotations, and an instructor's annotation only if it is top-level or replies to one of the
/// student's own; everything else waits for the reveal date.
fn withheld_by_checkpoint(
    cp: &CheckpointScope,
    ann: &Annotation,
    viewer: &Identity,
    ancestor_authors: &HashSet<String>,
) -> bool {
    let student =
        viewer.role_in(&ann.groupid).is_some() && !cp.instructors.contains(&viewer.userid);
    if !student || viewer.userid == ann.userid {
        return false;
    }
    let by_instructor = cp.instructors.contains(&ann.userid);
    let answers_viewer = ann.references.is_empty() || ancestor_authors.contains(&viewer.userid);
    !(by_instructor && answers_viewer)
}

#[cfg(test)]
mod tests;
