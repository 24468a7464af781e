//! A socket's replay of what its client missed (`super::super::replay` decides and renders),
//! written before anything else the socket has queued, so that the client gets the replay and
//! then the live stream with nothing between them and nothing twice.

use futures_util::{Sink, SinkExt};

use super::{Ending, Message, Socket, Utf8Bytes};
use crate::domain::time::now_micros;
use crate::realtime::registry::cursor_key;
use crate::realtime::replay::Replay;

/// Which replay a socket runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Resume {
    /// The filter carried `since`: replay `(since, upto]`, then say `resumed`.
    Asked { since: i64, upto: i64 },
    /// The socket's client id has a remembered cursor, maybe: replay from it up to `upto`,
    /// silently (the client knows nothing of `seq`).
    Remembered { upto: i64 },
}

/// Runs the replay on `ws`; `held` (a paced frame taken before the filter changed) goes first.
pub(super) async fn run<S>(
    ws: &mut S,
    sock: &Socket,
    how: Resume,
    held: Option<Utf8Bytes>,
) -> Result<(), Ending>
where
    S: Sink<Message> + Unpin,
{
    // What was queued before the filter took effect goes first (with the frame pacing held):
    // after the replay it would put back older renderings than the replay's.
    let mut earlier = 0;
    for frame in held
        .into_iter()
        .chain(std::iter::from_fn(|| sock.outbox.try_recv()))
    {
        ws.feed(Message::Text(frame))
            .await
            .map_err(|_| Ending::Gone)?;
        earlier += 1;
    }
    if earlier > 0 {
        ws.flush().await.map_err(|_| Ending::Gone)?;
    }
    if sock.hub.is_none() {
        sock.outbox.end_resume();
        return Ok(());
    }
    let outcome = match how {
        Resume::Asked { since, upto } => asked(ws, sock, since, upto).await,
        Resume::Remembered { upto } => remembered(ws, sock, upto).await,
    };
    // On failure the socket closes still marked: its cursor stays where it was.
    if outcome.is_ok() {
        sock.outbox.settle();
        sock.outbox.end_resume();
    }
    outcome.map(|replayed| metrics::counter!("scholia_ws_replayed_total").increment(replayed))
}

/// An asked-for replay, closed by `resumed`; a database failure answers `recovered: false`.
async fn asked<S>(ws: &mut S, sock: &Socket, since: i64, upto: i64) -> Result<u64, Ending>
where
    S: Sink<Message> + Unpin,
{
    let hub = sock.hub.as_ref().expect("checked by the caller");
    let mut sent = 0;
    let end = match Replay::plan(hub, sock.id, since, upto).await {
        Ok(Some(mut replay)) => match write_all(ws, &mut replay).await? {
            Ok(n) => {
                sent = n;
                replay.resumed()
            }
            Err(e) => {
                tracing::warn!(socket = sock.id, error = %e, "a replay failed part-way");
                Replay::failed(since, upto)
            }
        },
        // No filter any more (the socket is going): nothing to answer.
        Ok(None) => return Ok(0),
        Err(e) => {
            tracing::warn!(socket = sock.id, error = %e, "could not plan a replay");
            Replay::failed(since, upto)
        }
    };
    ws.send(Message::Text(end))
        .await
        .map_err(|_| Ending::Gone)?;
    metrics::counter!("scholia_ws_messages_out_total", "type" => "resumed").increment(1);
    Ok(sent)
}

/// A transparent resume: replays from the cursor remembered for the socket's client id and
/// user, if there is one. A database failure closes the socket (1011) without moving its
/// cursor, so the client's reconnect tries again.
async fn remembered<S>(ws: &mut S, sock: &Socket, upto: i64) -> Result<u64, Ending>
where
    S: Sink<Message> + Unpin,
{
    let hub = sock.hub.as_ref().expect("checked by the caller");
    let Some(viewer) = hub.registry().viewer(sock.id) else {
        return Ok(0);
    };
    let Some(client_id) = viewer.client_id.as_ref().and_then(cursor_key) else {
        return Ok(0);
    };
    let userid = viewer
        .identity
        .as_ref()
        .map(|i| i.userid.as_str())
        .unwrap_or("");
    let fail = |e: sqlx::Error| {
        tracing::warn!(socket = sock.id, error = %e, "could not replay what a client missed");
        Ending::ResumeFailed
    };
    let not_before = now_micros() - hub.resume().resume_ttl.as_micros() as i64;
    let Some(since) = hub
        .db()
        .ws_cursor(client_id, userid, not_before)
        .await
        .map_err(fail)?
    else {
        return Ok(0);
    };
    let Some(mut replay) = Replay::plan(hub, sock.id, since, upto)
        .await
        .map_err(fail)?
    else {
        return Ok(0);
    };
    if !replay.recovered {
        tracing::info!(
            socket = sock.id,
            since,
            upto,
            "a returning client missed more than can be replayed"
        );
        return Ok(0);
    }
    let sent = write_all(ws, &mut replay).await?.map_err(fail)?;
    tracing::debug!(
        socket = sock.id,
        since,
        upto,
        sent,
        "resumed a returning client"
    );
    Ok(sent)
}

/// Writes every page of `replay`, one flush per page. The outer error is the connection's, the
/// inner one the database's.
async fn write_all<S>(ws: &mut S, replay: &mut Replay) -> Result<Result<u64, sqlx::Error>, Ending>
where
    S: Sink<Message> + Unpin,
{
    let mut sent = 0;
    loop {
        let frames = match replay.next_page().await {
            Ok(Some(frames)) => frames,
            Ok(None) => return Ok(Ok(sent)),
            Err(e) => return Ok(Err(e)),
        };
        for frame in frames {
            ws.feed(Message::Text(frame))
                .await
                .map_err(|_| Ending::Gone)?;
            sent += 1;
        }
        ws.flush().await.map_err(|_| Ending::Gone)?;
    }
}
