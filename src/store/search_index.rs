//! SQLite's full-text index, kept off the commit path.
//!
//! A create or update does not touch the FTS5 table in its own transaction: it appends the
//! annotation's id to `search_backlog` (one small B-tree insert), and the writer indexes the
//! backlog later, in a transaction of its own sent as one query: once [`INDEX_BATCH`] writes
//! wait to be indexed, when a full-text search asks for them, and at shutdown. FTS5's insert
//! (tokenising, writing a segment, merging segments) was a sizeable share of a POST's commit;
//! now a POST's answer and its event never wait for it, and one pass writes many rows as one
//! segment, so there are fewer segments to merge. Indexed after every write instead, the pass
//! was a second transaction per POST: 10-15% of a POST's CPU at 1,000 POST/s (S4, A/B).
//! This mirrors h, whose Elasticsearch index follows its writes (h/search/index.py); unlike h,
//! a full-text search here first has every write answered before it indexed
//! ([`SearchIndex::caught_up`] asks the writer for a pass and waits for it), so a client never
//! misses its own annotation.
//!
//! The backlog lives in the database, written in the annotation's own transaction: a crash
//! between the commit and the index pass leaves the rows there, and the next writer indexes
//! them at start. The FTS row of an annotation is found through `annotations_fts_rows`
//! (FTS5 cannot index its `annotation_id` column, so deleting by it would scan the table).
//! PostgreSQL indexes the annotation's own columns in the same transaction, so none of this
//! applies there.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, watch};

use super::Engine;
use super::exec::{Exec, HeldConnection};
use super::steps::Steps;

/// Writes left unindexed before the writer indexes them without being asked (SQLite). A write
/// that arrives during a pass waits for it, so a pass must stay short: on our 2-vCPU machines a
/// pass of 64 writes took 1-2.5 ms (`scholia_search_index_pass_seconds`), about 22 µs a write,
/// against about 70 µs for a pass of one; 32 keeps each pass under a millisecond or so.
pub(super) const INDEX_BATCH: usize = 32;

/// Backlog rows indexed per transaction, so that a large backlog (after the upgrade that
/// introduced it, every annotation) never holds the write lock for long.
const CHUNK: i64 = 1000;

/// How long a full-text search waits for the index before it runs anyway (only a failing
/// index pass, logged, makes it wait this long).
const WAIT_LIMIT: Duration = Duration::from_secs(2);

/// Marks the annotation's FTS row as stale (the writer's statement run, on SQLite).
pub(super) const MARK_STALE: &str = "INSERT INTO search_backlog (annotation_id) VALUES ($1)";

/// Removes a deleted annotation from the index at once (a delete is not a writer group).
pub(super) const FORGET: &str = "DELETE FROM annotations_fts WHERE rowid IN \
     (SELECT fts_rowid FROM annotations_fts_rows WHERE annotation_id = $1); \
     DELETE FROM annotations_fts_rows WHERE annotation_id = $1;";

/// One chunk of the backlog, up to seq `$1`: old rows out, the annotations' current text in
/// (none for a deleted one), each under the newest backlog seq of its id (seqs are never
/// reused, so neither are FTS rowids). Sent as one query with `BEGIN` and `COMMIT`: one round
/// trip to SQLite's thread per pass.
const INDEX_CHUNK: [&str; 5] = [
    "DELETE FROM annotations_fts WHERE rowid IN (SELECT r.fts_rowid FROM annotations_fts_rows r \
        WHERE r.annotation_id IN (SELECT annotation_id FROM search_backlog WHERE seq <= $1))",
    "DELETE FROM annotations_fts_rows \
        WHERE annotation_id IN (SELECT annotation_id FROM search_backlog WHERE seq <= $1)",
    "INSERT INTO annotations_fts (rowid, annotation_id, text, quote, tags) \
        SELECT b.seq, a.id, a.text, a.quote, \
            coalesce((SELECT group_concat(t.value, ' ') FROM json_each(a.tags) t), '') \
        FROM (SELECT annotation_id, max(seq) AS seq FROM search_backlog WHERE seq <= $1 \
              GROUP BY annotation_id) b \
        JOIN annotations a ON a.id = b.annotation_id WHERE a.deleted = FALSE",
    "INSERT INTO annotations_fts_rows (annotation_id, fts_rowid) \
        SELECT b.annotation_id, b.seq \
        FROM (SELECT annotation_id, max(seq) AS seq FROM search_backlog WHERE seq <= $1 \
              GROUP BY annotation_id) b \
        JOIN annotations a ON a.id = b.annotation_id WHERE a.deleted = FALSE",
    "DELETE FROM search_backlog WHERE seq <= $1",
];

/// Where the index stands against the writes answered so far. Cheap to clone; shared by the
/// writer (which advances it) and searches (which wait on it).
#[derive(Clone, Debug)]
pub struct SearchIndex {
    /// (generations marked, generations indexed): a commit that left backlog rows adds one to
    /// the first before its writes are answered; an index pass, once committed, raises the
    /// second to the first as it read it when the pass began.
    marked: watch::Sender<(u64, u64)>,
    /// A search waits for writes not yet indexed: the writer should index them now. A
    /// `Notify` keeps one request while the writer is busy with a group.
    wanted: Arc<Notify>,
}

impl SearchIndex {
    /// `engine` decides whether there is anything to wait for: on SQLite the writer's first
    /// pass (at start) covers whatever an earlier process left in the backlog.
    pub(super) fn new(engine: Engine) -> SearchIndex {
        let start = match engine {
            Engine::Sqlite => (1, 0),
            Engine::Postgres => (0, 0),
        };
        SearchIndex {
            marked: watch::Sender::new(start),
            wanted: Arc::new(Notify::new()),
        }
    }

    /// Resolves when a search has asked for the backlog to be indexed (the writer's loop).
    pub(super) async fn requested(&self) {
        self.wanted.notified().await
    }

    /// A commit left backlog rows.
    pub(super) fn marked(&self) {
        self.marked.send_modify(|(marked, _)| *marked += 1);
    }

    /// Indexes the backlog on `conn` (all of it, in chunks when `at_start`); searches waiting
    /// for writes marked before this call are released once it has committed.
    pub(super) async fn index(&self, conn: &mut HeldConnection, at_start: bool) {
        let target = self.marked.borrow().0;
        let start = std::time::Instant::now();
        let done = match at_start {
            true => index_all_in_chunks(conn).await,
            false => index_backlog(conn).await,
        };
        metrics::histogram!("scholia_search_index_pass_seconds")
            .record(start.elapsed().as_secs_f64());
        match done {
            Ok(_) => self
                .marked
                .send_modify(|(_, indexed)| *indexed = (*indexed).max(target)),
            Err(e) => tracing::error!(error = %e, "indexing annotations for search failed"),
        }
    }

    /// Waits until every write answered before this call is in the full-text index (at most
    /// [`WAIT_LIMIT`]).
    pub async fn caught_up(&self) {
        let (target, indexed) = *self.marked.borrow();
        if indexed >= target {
            return;
        }
        self.wanted.notify_one();
        let mut rx = self.marked.subscribe();
        let reached = rx.wait_for(|&(_, indexed)| indexed >= target);
        if tokio::time::timeout(WAIT_LIMIT, reached).await.is_err() {
            tracing::warn!("a full-text search ran before the index caught up with the writes");
        }
    }
}

/// Indexes every backlog row there is, in one transaction (the writer's passes: at most a
/// batch and one group's writes).
pub(super) async fn index_backlog(conn: &mut HeldConnection) -> Result<(), sqlx::Error> {
    index_upto(conn, i64::MAX).await
}

/// Indexes a large backlog (at start: after a crash, or every annotation after the upgrade
/// that introduced the backlog) a chunk per transaction, so that no transaction holds the
/// write lock for long.
pub(super) async fn index_all_in_chunks(conn: &mut HeldConnection) -> Result<(), sqlx::Error> {
    loop {
        let chunk: Option<(i64, i64)> = conn
            .fetch_optional(
                "SELECT coalesce(max(seq), 0), count(*) FROM \
                 (SELECT seq FROM search_backlog ORDER BY seq LIMIT $1)",
                &[CHUNK.into()],
            )
            .await?;
        match chunk {
            Some((upto, n)) if n > 0 => index_upto(conn, upto).await?,
            _ => return Ok(()),
        }
    }
}

async fn index_upto(conn: &mut HeldConnection, upto: i64) -> Result<(), sqlx::Error> {
    let mut steps = Steps::default();
    for sql in INDEX_CHUNK {
        steps.push(sql, vec![upto.into()]);
    }
    let mut tx = conn.begin_write().await?;
    // The statements return no rows; the row type is never decoded.
    tx.run_final_steps::<(i64,)>(&steps).await?;
    tx.commit().await
}
