//! Group commit for annotation creates and updates: one task takes the writes that are waiting
//! and stores them in one transaction. Under load, commits (and SQLite's WAL page writes, its
//! locks and the connection round trips around them) are shared by every write in the group;
//! when writes arrive one at a time each is its own group and waits for nothing.
//!
//! On SQLite the task writes through a connection of its own, so its page cache stays warm
//! from one group to the next; the request pool's connections drop theirs whenever another
//! connection commits.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::annotation_write::{AnnotationWrite, Written};
use super::checkpointer::{self, Restart, WRITER_CHECKPOINT};
use super::exec::HeldConnection;
use super::search_index::{INDEX_BATCH, SearchIndex};
use super::{Db, Engine, StoreError};

/// At most this many writes share a transaction, bounding how long one group holds the lock.
const MAX_GROUP: usize = 64;
/// Writes waiting beyond this make callers wait for room (back-pressure, not loss).
const QUEUE: usize = 1024;

struct Job {
    write: AnnotationWrite,
    done: oneshot::Sender<Result<Written, sqlx::Error>>,
}

/// The handle requests write through. Cheap to clone; the task stops when every handle is gone.
#[derive(Clone, Debug)]
pub struct Writer {
    jobs: mpsc::Sender<Job>,
    search: SearchIndex,
}

impl Writer {
    /// Starts the writing task on `writer_db` (a connection reserved for it, on SQLite) and,
    /// on SQLite, the checkpointer on `db`, which runs until `shutdown`. Both are spawned on
    /// `tasks`, so whoever waits for it at shutdown waits for the last write to commit.
    pub fn start(
        db: &Db,
        writer_db: Db,
        tasks: &TaskTracker,
        shutdown: CancellationToken,
    ) -> Writer {
        let (jobs, rx) = mpsc::channel(QUEUE);
        let restart = Arc::new(Restart::default());
        tasks.spawn(checkpointer::run(
            db.clone(),
            restart.clone(),
            shutdown.clone(),
        ));
        let search = SearchIndex::new(writer_db.engine());
        let writing = run(writer_db.clone(), rx, restart, search.clone(), shutdown);
        match writer_db {
            // A group holds the lock every writer of the cluster waits for from its first
            // statement to its commit: between statements this task must wake at once (S7:
            // cross-node p99 310 -> 44 ms).
            Db::Postgres(_) => crate::own_thread::spawn("scholia-writer", writing, tasks),
            // SQLite's lock is this process's alone and its connection has a thread of its
            // own already: a second thread only adds a wake-up per write (S4 on SQLite, A/B:
            // 600-700 -> 720-810 us of CPU per POST).
            Db::Sqlite(_) => {
                tasks.spawn(writing);
            }
        }
        Writer { jobs, search }
    }

    /// Stores `write` in the next group and returns what was stored once it has committed.
    /// Once queued, a write completes even if its caller goes away (as a request already sent
    /// would); its change is then not announced, and the hub reads it from the log.
    /// [`StoreError::WriterStopped`] when the task is gone (it stopped, or could not get a
    /// connection for this write's group).
    /// Where SQLite's full-text index stands against the writes answered so far.
    pub fn search_index(&self) -> &SearchIndex {
        &self.search
    }

    pub async fn write(&self, write: AnnotationWrite) -> Result<Written, StoreError> {
        let (done, answer) = oneshot::channel();
        self.jobs
            .send(Job { write, done })
            .await
            .map_err(|_| StoreError::WriterStopped)?;
        Ok(answer.await.map_err(|_| StoreError::WriterStopped)??)
    }
}

/// Writes groups until every [`Writer`] is gone. From `shutdown` on, the connection goes back to
/// the pool after each group (so the pool can close), but writes still in flight are stored.
async fn run(
    db: Db,
    mut rx: mpsc::Receiver<Job>,
    restart: Arc<Restart>,
    search: SearchIndex,
    shutdown: CancellationToken,
) {
    let mut group = Vec::with_capacity(MAX_GROUP);
    let mut held: Option<HeldConnection> = None;
    let sqlite = db.engine() == Engine::Sqlite;
    // Writes committed since the last index pass (SQLite).
    let mut unindexed = 0;
    // Whatever an earlier process left unindexed (a crash after a commit, an upgrade).
    if sqlite {
        match HeldConnection::take(&db).await {
            Ok(c) => search.index(held.insert(c), true).await,
            Err(e) => tracing::error!(error = %e, "the writer has no database connection"),
        }
    }
    loop {
        let got = tokio::select! {
            n = rx.recv_many(&mut group, MAX_GROUP) => n,
            _ = shutdown.cancelled(), if held.is_some() => {
                // Stopping: what is still unindexed now, so the next start has nothing to do.
                if unindexed > 0 && let Some(conn) = held.as_mut() {
                    search.index(conn, false).await;
                    unindexed = 0;
                }
                held = None;
                continue;
            }
            () = search.requested(), if sqlite => {
                // A full-text search waits for what is unindexed.
                let conn = match &mut held {
                    Some(c) => c,
                    None => match HeldConnection::take(&db).await {
                        Ok(c) => held.insert(c),
                        Err(e) => {
                            tracing::error!(error = %e, "the writer has no database connection");
                            continue;
                        }
                    },
                };
                search.index(conn, false).await;
                unindexed = 0;
                if shutdown.is_cancelled() {
                    held = None;
                }
                continue;
            }
        };
        if got == 0 {
            return;
        }
        let (writes, waiting): (Vec<_>, Vec<_>) =
            group.drain(..).map(|j| (j.write, j.done)).unzip();
        metrics::histogram!("scholia_write_group_size").record(writes.len() as f64);
        // A connection held since an earlier group may have died meanwhile (PostgreSQL was
        // restarted, a proxy cut it): a group that finds it dead is written once more on a
        // fresh one, so the first writes after an outage do not fail for nothing. Nothing was
        // committed on a dead connection, and a write whose commit did land but whose answer
        // was lost is refused the second time by its annotation id, never stored twice.
        let mut results = Vec::new();
        for attempt in 0..2 {
            let reused = held.is_some();
            let conn = match &mut held {
                Some(c) => c,
                None => match HeldConnection::take(&db).await {
                    Ok(c) => held.insert(c),
                    Err(e) => {
                        tracing::error!(error = %e, "the writer has no database connection");
                        break;
                    }
                },
            };
            results = conn.write_annotations(&writes).await;
            let lost = results
                .iter()
                .all(|r| r.as_ref().is_err_and(super::is_connection_error));
            if !(lost && reused && attempt == 0) {
                break;
            }
            tracing::warn!(
                "the writer's connection was lost; writing the group again on a new one"
            );
            held = None;
        }
        if results.is_empty() {
            // No connection: dropping the senders answers every waiting write with an error.
            continue;
        }
        restart.committed();
        // Nothing at all stored: the connection itself may be broken. The pool tests it on
        // return and the next group takes a fresh one.
        let broken = results.iter().all(Result::is_err);
        if sqlite && !broken {
            search.marked();
            unindexed += results.iter().filter(|r| r.is_ok()).count();
        }
        for (done, result) in waiting.into_iter().zip(results) {
            // A caller that went away no longer needs the answer.
            let _ = done.send(result);
        }
        // The writes are answered; their full-text rows (SQLite) follow in batches, or at once
        // when stopping (a search asks for them through `search.requested()`).
        if unindexed > 0
            && (unindexed >= INDEX_BATCH || shutdown.is_cancelled())
            && let Some(conn) = held.as_mut()
        {
            search.index(conn, false).await;
            unindexed = 0;
        }
        if broken || shutdown.is_cancelled() {
            held = None;
        } else if let Some(conn) = held.as_mut()
            && restart.take()
            && let Err(e) = conn.run(WRITER_CHECKPOINT).await
        {
            tracing::warn!(error = %e, "the writer's WAL checkpoint failed");
        }
    }
}
