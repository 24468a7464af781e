//! What resuming reads and keeps (issue 16): the change log's retention horizon and its pruning,
//! and the resume cursors of clients that know nothing of `seq` (per client id and user).

use sqlx::AssertSqlSafe;

use super::Db;
use super::steps::Arg;

/// Cursors written by one statement (4 values each, well under SQLite's 32,766 binds).
const CURSORS_PER_STATEMENT: usize = 500;

impl Db {
    /// The seq up to which change-log rows may have been pruned: a replay from before it
    /// cannot be complete.
    pub async fn log_horizon(&self) -> Result<i64, sqlx::Error> {
        let (h,): (i64,) = self
            .fetch_one(
                "SELECT pruned_through FROM change_log_horizon WHERE id = 1",
                &[],
            )
            .await?;
        Ok(h)
    }

    /// Prunes up to `batch` change-log rows committed before `before` (microseconds), oldest
    /// first, never the newest row (the log's last seq is where a restarted node starts). The
    /// horizon is raised first, so a crash in between only makes it cautious. Returns the rows
    /// removed; one short statement each, so writes never wait long behind it.
    pub async fn prune_change_log(&self, before: i64, batch: i64) -> Result<u64, sqlx::Error> {
        let (through,): (Option<i64>,) = self
            .fetch_one(
                "SELECT MAX(seq) FROM (SELECT seq FROM change_log WHERE created < $1 \
                 AND seq < (SELECT MAX(seq) FROM change_log) ORDER BY seq LIMIT $2) oldest",
                &[before.into(), batch.into()],
            )
            .await?;
        let Some(through) = through else {
            return Ok(0);
        };
        self.execute(
            "UPDATE change_log_horizon SET pruned_through = $1 \
             WHERE id = 1 AND pruned_through < $1",
            &[through.into()],
        )
        .await?;
        self.execute("DELETE FROM change_log WHERE seq <= $1", &[through.into()])
            .await
    }

    /// The cursor remembered for `client_id` and `userid` (`""`: anonymous) if it was written at
    /// or after `not_before` (microseconds).
    pub async fn ws_cursor(
        &self,
        client_id: &str,
        userid: &str,
        not_before: i64,
    ) -> Result<Option<i64>, sqlx::Error> {
        let row: Option<(i64,)> = self
            .fetch_optional(
                "SELECT seq FROM ws_cursors WHERE client_id = $1 AND userid = $2 AND updated >= $3",
                &[client_id.into(), userid.into(), not_before.into()],
            )
            .await?;
        Ok(row.map(|(s,)| s))
    }

    /// Writes `(client_id, userid, seq)` cursors at time `now`; a later entry for the same key
    /// wins over an earlier one.
    pub async fn save_ws_cursors(
        &self,
        cursors: &[(String, String, i64)],
        now: i64,
    ) -> Result<(), sqlx::Error> {
        // One row per key, the last given: a statement may not upsert one key twice.
        let mut last = std::collections::HashMap::new();
        for (i, (c, u, _)) in cursors.iter().enumerate() {
            last.insert((c.as_str(), u.as_str()), i);
        }
        let mut rows: Vec<usize> = last.into_values().collect();
        rows.sort_unstable();
        for chunk in rows.chunks(CURSORS_PER_STATEMENT) {
            let mut args: Vec<Arg> = Vec::with_capacity(chunk.len() * 4);
            let values: Vec<String> = chunk
                .iter()
                .enumerate()
                .map(|(n, &i)| {
                    let (c, u, s) = &cursors[i];
                    args.extend([c.into(), u.into(), (*s).into(), now.into()]);
                    let b = n * 4;
                    format!("(${}, ${}, ${}, ${})", b + 1, b + 2, b + 3, b + 4)
                })
                .collect();
            // Built from placeholders only; every value is bound.
            let sql = format!(
                "INSERT INTO ws_cursors (client_id, userid, seq, updated) VALUES {} \
                 ON CONFLICT (client_id, userid) DO UPDATE SET seq = excluded.seq, \
                 updated = excluded.updated",
                values.join(", ")
            );
            self.execute(AssertSqlSafe(sql), &args).await?;
        }
        Ok(())
    }

    /// Forgets cursors last written before `before` (microseconds).
    pub async fn prune_ws_cursors(&self, before: i64) -> Result<u64, sqlx::Error> {
        self.execute(
            "DELETE FROM ws_cursors WHERE updated < $1",
            &[before.into()],
        )
        .await
    }
}

/// Change-log rows pruned by one statement.
const PRUNE_BATCH: i64 = 10_000;

/// Keeps the change log to `retention` and forgets resume cursors older than `cursor_ttl`, until
/// `shutdown`: a pass at start, then one every `retention / 2` (at most a minute apart). Each
/// pass prunes in short batches, so no write waits long behind it.
pub async fn retention_task(
    db: Db,
    retention: std::time::Duration,
    cursor_ttl: std::time::Duration,
    shutdown: tokio_util::sync::CancellationToken,
) {
    let every = (retention / 2).clamp(
        std::time::Duration::from_millis(100),
        std::time::Duration::from_secs(60),
    );
    loop {
        let now = crate::domain::time::now_micros();
        let before = now - retention.as_micros() as i64;
        loop {
            match db.prune_change_log(before, PRUNE_BATCH).await {
                Ok(n) if n > 0 => {
                    metrics::counter!("scholia_changelog_pruned_total").increment(n);
                    tracing::debug!(rows = n, "pruned the change log");
                    if shutdown.is_cancelled() {
                        return;
                    }
                }
                Ok(_) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "could not prune the change log");
                    break;
                }
            }
        }
        if let Err(e) = db
            .prune_ws_cursors(now - cursor_ttl.as_micros() as i64)
            .await
        {
            tracing::warn!(error = %e, "could not forget old resume cursors");
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
    }
}
