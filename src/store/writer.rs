//! Group commit for annotation creates and updates: one task takes the writes that are waiting
//! and stores them in one transaction. Under load, commits (and SQLite's WAL page writes, its
//! locks and the connection round trips around them) are shared by every write in the group;
//! when writes arrive one at a time each is its own group and waits for nothing.
//!
//! On SQLite the task writes through a connection of its own, so its page cache stays warm
//! from one group to the next; the request pool's connections drop theirs whenever another
//! connection commits.

use tokio::sync::{mpsc, oneshot};

use super::Db;
use super::annotation_write::{AnnotationWrite, Written};

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
    /// Starts the writing task on `db` (a connection reserved for it, on SQLite).
    pub fn start(db: Db) -> Writer {
        let (jobs, rx) = mpsc::channel(QUEUE);
        tokio::spawn(run(db, rx));
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

async fn run(db: Db, mut rx: mpsc::Receiver<Job>) {
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
    }
}
