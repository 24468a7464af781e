//! What one client message does to its socket (spec §2–§4; h's `h/streamer/messages.py`):
//! replies, filter and client-id changes, and the resumes they start.

use super::resume::Resume;
use super::{Ending, Socket};
use crate::realtime::protocol::{self, Incoming};

/// What the loop does after a client message.
pub(super) enum Step {
    Nothing,
    Reply(String),
    /// Replay what the client missed before anything else is written.
    Resume(Resume),
}

/// Acts on one client message; returns what to do next, or why to close. `resume_tried` says
/// whether the socket has had its transparent resume (at most one, when it first has both a
/// filter and a client id; a filter with `since` counts as one).
pub(super) fn handle(sock: &Socket, raw: &[u8], resume_tried: &mut bool) -> Result<Step, Ending> {
    let incoming = protocol::interpret(raw, sock.limits.filter);
    let kind = incoming.kind();
    let mut step = None;
    let reply = match incoming {
        Incoming::NotJson => {
            metrics::counter!("scholia_ws_messages_in_total", "type" => kind).increment(1);
            return Err(Ending::InvalidJson);
        }
        Incoming::Ignored => None,
        Incoming::Ping { reply_to } => reply_to.map(|id| protocol::pong(&id)),
        Incoming::Whoami { reply_to } => {
            reply_to.map(|id| protocol::whoyouare(sock.userid.as_deref(), &id))
        }
        Incoming::ClientId(value) => {
            let keyed = value
                .as_ref()
                .and_then(crate::realtime::registry::cursor_key)
                .is_some();
            let may_resume = keyed && !*resume_tried;
            if may_resume {
                // Before the client id takes effect: a cursor taken in between would be
                // routing's progress, not this client's.
                sock.outbox.begin_resume();
            }
            let filtered_from = sock.registry.set_client_id(sock.id, value);
            match filtered_from.filter(|_| may_resume) {
                Some(upto) => {
                    *resume_tried = true;
                    step = Some(Step::Resume(Resume::Remembered { upto }));
                }
                None if may_resume => sock.outbox.end_resume(),
                None => {}
            }
            None
        }
        Incoming::Filter { keys, since } => {
            let remembered =
                since.is_none() && !*resume_tried && sock.registry.has_client_key(sock.id);
            if since.is_some() || remembered {
                sock.outbox.begin_resume();
                *resume_tried = true;
            }
            let upto = sock.registry.set_filter(sock.id, keys);
            step = match since {
                Some(since) => Some(Step::Resume(Resume::Asked { since, upto })),
                None if remembered => Some(Step::Resume(Resume::Remembered { upto })),
                None => None,
            };
            None
        }
        Incoming::Error {
            reply_to,
            kind,
            description,
        } => {
            tracing::debug!(socket = sock.id, kind, %description, "refused a client message");
            reply_to.map(|id| protocol::error(kind, &description, &id))
        }
    };
    // Counted once the message has taken effect, so a scrape that sees a filter counted knows
    // it applies (the end-to-end test waits on this).
    metrics::counter!("scholia_ws_messages_in_total", "type" => kind).increment(1);
    if let Some(r) = &reply {
        let kind = if r.starts_with(r#"{"type":"error""#) {
            "error"
        } else {
            "reply"
        };
        metrics::counter!("scholia_ws_messages_out_total", "type" => kind).increment(1);
    }
    Ok(match (reply, step) {
        (Some(r), _) => Step::Reply(r),
        (None, Some(step)) => step,
        (None, None) => Step::Nothing,
    })
}
