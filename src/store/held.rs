//! The writer's connection, held out of the pool, and the transactions it writes in: several
//! writes share one when they all succeed; if any fails, the whole transaction is rolled back
//! and each is retried on its own, so one bad write never takes another down with it.

use sqlx::pool::PoolConnection;

use super::annotation_write::{AnnotationTx, AnnotationWrite, Frame, Written};
use super::{Db, Engine};

/// A connection kept out of the pool for writing. Every pooled use costs sqlx a ping on release
/// (and one on acquire unless turned off), each a round trip of its own; a held connection
/// pays neither.
pub enum HeldConnection {
    Sqlite(PoolConnection<sqlx::Sqlite>),
    Postgres(PoolConnection<sqlx::Postgres>),
}

impl HeldConnection {
    /// Takes a connection from `db`'s pool until the handle is dropped.
    pub async fn take(db: &Db) -> Result<HeldConnection, sqlx::Error> {
        Ok(match db {
            Db::Sqlite(p) => HeldConnection::Sqlite(p.acquire().await?),
            Db::Postgres(p) => HeldConnection::Postgres(p.acquire().await?),
        })
    }

    fn engine(&self) -> Engine {
        match self {
            HeldConnection::Sqlite(_) => Engine::Sqlite,
            HeldConnection::Postgres(_) => Engine::Postgres,
        }
    }

    /// Stores one write in its own transaction.
    pub async fn write_annotation(&mut self, w: &AnnotationWrite) -> Result<Written, sqlx::Error> {
        let mut one = self.write_together(std::slice::from_ref(w)).await?;
        one.pop().ok_or(sqlx::Error::RowNotFound)
    }

    /// Stores several writes, in one transaction when they all succeed; otherwise each in its
    /// own, so each gets its own outcome. Results are in the order of `writes`.
    pub async fn write_annotations(
        &mut self,
        writes: &[AnnotationWrite],
    ) -> Vec<Result<Written, sqlx::Error>> {
        if writes.len() > 1 {
            match self.write_together(writes).await {
                Ok(all) => return all.into_iter().map(Ok).collect(),
                Err(e) => {
                    tracing::debug!(error = %e, "a grouped write failed; writing one at a time")
                }
            }
        }
        let mut out = Vec::with_capacity(writes.len());
        for w in writes {
            out.push(self.write_annotation(w).await);
        }
        out
    }

    /// Stores `writes` in one transaction: all or none.
    async fn write_together(
        &mut self,
        writes: &[AnnotationWrite],
    ) -> Result<Vec<Written>, sqlx::Error> {
        let engine = self.engine();
        let last = writes.len().saturating_sub(1);
        match self {
            HeldConnection::Sqlite(c) => {
                let conn = &mut **c;
                let mut all = Vec::with_capacity(writes.len());
                let mut failed = None;
                for (i, w) in writes.iter().enumerate() {
                    let frame = Frame {
                        begin: i == 0,
                        commit: i == last,
                    };
                    match conn.put_annotation(w, engine, frame).await {
                        Ok(written) => all.push(written),
                        Err(e) => {
                            failed = Some(e);
                            break;
                        }
                    }
                }
                let Some(e) = failed else { return Ok(all) };
                // sqlx does not know of a transaction opened in a query string: undo whatever the
                // failure left open. With none open (BEGIN itself failed) this fails harmlessly.
                if let Err(r) = sqlx::query("ROLLBACK").execute(&mut *conn).await {
                    tracing::debug!(error = %r, "rollback after a failed write");
                }
                Err(e)
            }
            HeldConnection::Postgres(c) => {
                let mut tx = sqlx::Connection::begin(&mut **c).await?;
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind(super::WRITE_LOCK_KEY)
                    .execute(&mut *tx)
                    .await?;
                let mut all = Vec::with_capacity(writes.len());
                for w in writes {
                    all.push(tx.put_annotation(w, engine, Frame::default()).await?);
                }
                tx.commit().await?;
                Ok(all)
            }
        }
    }

    /// Runs a statement that returns nothing (the writer's WAL checkpoint).
    pub async fn execute(&mut self, sql: &'static str) -> Result<(), sqlx::Error> {
        match self {
            HeldConnection::Sqlite(c) => sqlx::query(sql).execute(&mut **c).await.map(|_| ()),
            HeldConnection::Postgres(c) => sqlx::query(sql).execute(&mut **c).await.map(|_| ()),
        }
    }
}

impl Db {
    /// Stores one created or updated annotation in its own transaction.
    pub async fn write_annotation(&self, w: &AnnotationWrite) -> Result<Written, sqlx::Error> {
        HeldConnection::take(self).await?.write_annotation(w).await
    }
}
