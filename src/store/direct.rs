//! Point reads on SQLite made on the calling thread, without sqlx's worker-thread round trip.
//!
//! sqlx runs every SQLite statement on a worker thread of the connection: a query is a wake-up
//! of that thread and one of ours, and a pooled connection adds a second round trip (a ping)
//! when it goes back to the pool. Measured on our 2-vCPU machines, a pooled `SELECT 1` costs
//! ~22 µs of CPU this way, and a POST's two lookups (its token with the user's roles, and the
//! group it writes to) were ~25% of its CPU at 1,000 POST/s, most of it wake-ups.
//!
//! The lookups that every write makes therefore go through rusqlite connections of their own
//! on the same file, called in place. They are indexed reads of a few pages, which the
//! operating system's page cache holds, so they take microseconds. They do not wait for locks:
//! the busy timeout is zero, and any error (a lock held while the WAL is recovered, a missing
//! file) answers `None`, upon which the caller reads through the pool as before. Each read is
//! its own read transaction, so what another process committed (an admin command) is seen at
//! once. (Memory-mapping the file made this slower: the file grows with every checkpoint, and
//! each growth made every connection unmap and map it again.)

use std::sync::Mutex;

use rusqlite::{Connection, OpenFlags};

use super::Db;
use crate::domain::{Group, Identity};

/// A small pool of rusqlite connections to one SQLite file, for reads only.
#[derive(Debug)]
pub struct DirectReads {
    path: String,
    idle: Mutex<Vec<Connection>>,
    /// At most this many connections are kept between reads: one per CPU (at least 4), as
    /// each runtime thread reads on its own. More may be open at a moment when more threads
    /// read at once; those are closed after use.
    idle_max: usize,
}

impl DirectReads {
    /// Direct reads of `db`'s file; `None` on PostgreSQL, where a read is a network round trip
    /// anyway, and for an in-memory SQLite database, which another connection cannot see.
    pub fn for_db(db: &Db) -> Option<DirectReads> {
        match db {
            Db::Sqlite(p) => {
                DirectReads::new(&p.connect_options().get_filename().to_string_lossy())
            }
            Db::Postgres(_) => None,
        }
    }

    fn new(path: &str) -> Option<DirectReads> {
        if path.is_empty() || path.starts_with(":memory:") || path.contains("mode=memory") {
            return None;
        }
        Some(DirectReads {
            path: path.to_owned(),
            idle: Mutex::new(Vec::new()),
            idle_max: std::thread::available_parallelism().map_or(4, |n| n.get().max(4)),
        })
    }

    fn open(&self) -> rusqlite::Result<Connection> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(std::time::Duration::ZERO)?;
        conn.execute_batch("PRAGMA query_only = ON;")?;
        Ok(conn)
    }

    /// [`Db::identity_for_token`]; `None` when the read could not be made here.
    pub fn identity_for_token(&self, token: &str) -> Option<Option<Identity>> {
        self.read("token", |c| Db::identity_for_token_direct(c, token))
    }

    /// [`Db::group_by_pubid`]; `None` when the read could not be made here.
    pub fn group_by_pubid(&self, pubid: &str) -> Option<Option<Group>> {
        self.read("group", |c| Db::group_by_pubid_direct(c, pubid))
    }

    /// Runs `f` on an idle connection (opening one if none is idle). `None` when that fails
    /// for any reason; the caller then reads through sqlx.
    fn read<T>(&self, what: &str, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Option<T> {
        let taken = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        let conn = match taken {
            Some(c) => c,
            None => match self.open() {
                Ok(c) => c,
                Err(e) => {
                    tracing::debug!(error = %e, "direct SQLite read: cannot open");
                    return None;
                }
            },
        };
        match f(&conn) {
            Ok(v) => {
                if let Ok(mut idle) = self.idle.lock()
                    && idle.len() < self.idle_max
                {
                    idle.push(conn);
                }
                Some(v)
            }
            Err(e) => {
                // The connection is dropped: a fresh one is cheap, and a broken one is not kept.
                tracing::debug!(error = %e, what, "direct SQLite read failed; reading through the pool");
                None
            }
        }
    }
}
