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

use super::Db;
use super::annotation_write::{AnnotationWrite, Written};
use super::checkpointer::{self, Restart, WRITER_CHECKPOINT};

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
}

impl Writer {
    /// Starts the writing task on `writer_db` (a connection reserved for it, on SQLite) and,
    /// on SQLite, the checkpointer on `db`, which runs until `shutdown`.
    pub fn start(db: &Db, writer_db: Db, shutdown: CancellationToken) -> Writer {
        let (jobs, rx) = mpsc::channel(QUEUE);
        let restart = Arc::new(Restart::default());
        tokio::spawn(checkpointer::run(db.clone(), restart.clone(), shutdown));
        tokio::spawn(run(writer_db, rx, restart));
        Writer { jobs }
    }

    /// Stores `write` in the next group and returns what was stored once it has committed.
    /// If the caller goes away first, the write still completes (as a request already sent
    /// would); its event is then read back from the change log.
    pub async fn write(&self, write: AnnotationWrite) -> Result<Written, sqlx::Error> {
        let (done, answer) = oneshot::channel();
        self.jobs
            .send(Job { write, done })
            .await
            .map_err(|_| sqlx::Error::PoolClosed)?;
        answer.await.map_err(|_| sqlx::Error::PoolClosed)?
    }
}

async fn run(db: Db, mut rx: mpsc::Receiver<Job>, restart: Arc<Restart>) {
    let mut group = Vec::with_capacity(MAX_GROUP);
    while rx.recv_many(&mut group, MAX_GROUP).await > 0 {
        let (writes, waiting): (Vec<_>, Vec<_>) =
            group.drain(..).map(|j| (j.write, j.done)).unzip();
        metrics::histogram!("scholia_write_group_size").record(writes.len() as f64);
        let results = db.write_annotations(&writes).await;
        for (done, result) in waiting.into_iter().zip(results) {
            // A caller that went away no longer needs the answer.
            let _ = done.send(result);
        }
        if restart.take()
            && let Db::Sqlite(p) = &db
            && let Err(e) = sqlx::query(WRITER_CHECKPOINT).execute(p).await
        {
            tracing::warn!(error = %e, "the writer's WAL checkpoint failed");
        }
    }
}
