//! The writer's transactions, on a connection held out of the pool: several
//! writes share one when they all succeed; if any fails, the whole transaction is rolled back
//! and each is retried on its own, so one bad write never takes another down with it.

use super::annotation_write::{AnnotationWrite, Written, put_annotation};
use super::exec::{Exec, HeldConnection};
use super::search_index::index_backlog;
use super::{Db, Engine};

impl HeldConnection {
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
        let last = writes.len().saturating_sub(1);
        let mut tx = self.begin_write().await?;
        let mut all = Vec::with_capacity(writes.len());
        for (i, w) in writes.iter().enumerate() {
            match put_annotation(&mut tx, w, i == last).await {
                Ok(written) => all.push(written),
                Err(e) => {
                    // This connection is used again (for each write on its own): leave it
                    // with nothing open.
                    tx.rollback().await;
                    return Err(e);
                }
            }
        }
        tx.commit().await?;
        Ok(all)
    }

    /// Runs a statement that returns nothing (the writer's WAL checkpoint).
    pub async fn run(&mut self, sql: &'static str) -> Result<(), sqlx::Error> {
        Exec::execute(self, sql, &[]).await.map(|_| ())
    }
}

impl Db {
    /// Stores one created or updated annotation in its own transaction, and indexes it for
    /// search before returning (the writer's groups index after answering instead).
    pub async fn write_annotation(&self, w: &AnnotationWrite) -> Result<Written, sqlx::Error> {
        let mut conn = HeldConnection::take(self).await?;
        let written = conn.write_annotation(w).await?;
        // The write has committed: a failed index pass must not report it as failed (the
        // backlog keeps it for the next pass).
        if self.engine() == Engine::Sqlite
            && let Err(e) = index_backlog(&mut conn).await
        {
            tracing::error!(error = %e, "indexing annotations for search failed");
        }
        Ok(written)
    }
}
