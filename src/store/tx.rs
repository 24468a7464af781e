//! Write transactions: [`HeldConnection::begin_write`] is the one place a write transaction
//! starts, on either engine.
//!
//! SQLite takes the write lock up front (`BEGIN IMMEDIATE`), so a transaction that reads before
//! writing cannot deadlock against an admin command in another process. Each statement is
//! otherwise a round trip to sqlx's worker thread (see [`super::steps`]), so the transaction
//! sends no statement of its own: `BEGIN IMMEDIATE` goes in front of its first query, and
//! [`WriteTx::run_final_steps`] puts `COMMIT` after its last. A statement that fails rolls
//! the transaction back at once; one dropped while open (its future cancelled) closes its
//! connection, which rolls back too, rather than hand the pool a connection holding the lock.
//!
//! PostgreSQL takes a transaction-scoped advisory lock, so writers commit one at a time and
//! change-log `seq` values become visible in order: a reader tailing the log never sees
//! seq N+1 before N.

use futures_util::TryStreamExt;
use sqlx::Either;
use sqlx::pool::PoolConnection;
use sqlx::sqlite::SqliteArguments;
use sqlx::{AssertSqlSafe, SqlSafeStr, SqlStr};

use super::Engine;
use super::exec::{Decode, Exec, HeldConnection, Ignored, Statement, pg_args, sqlite_args};
use super::pg_tx::PgTx;
use super::steps::{Arg, Steps};

/// Key of the advisory lock that serialises writers on PostgreSQL ("scholia" in ASCII-ish).
pub(crate) const WRITE_LOCK_KEY: i64 = 0x5c401a;

/// An open write transaction. Commit it with [`WriteTx::commit`]; dropped, it rolls back.
pub(crate) enum WriteTx<'c> {
    Sqlite(SqliteTx<'c>),
    Postgres(PgTx<'c>),
}

/// Where a write transaction stands, on either engine.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum State {
    /// Nothing sent yet: the next query starts with `BEGIN IMMEDIATE` (SQLite) or `BEGIN` and
    /// the writers' lock (PostgreSQL).
    Pending,
    Open,
    /// Committed; later statements run on their own (reads after the last write).
    Committed,
    /// Rolled back; later statements are refused, lest they commit on their own.
    RolledBack,
}

/// A SQLite write transaction on a connection of the pool.
pub(crate) struct SqliteTx<'c> {
    conn: &'c mut PoolConnection<sqlx::Sqlite>,
    state: State,
}

impl HeldConnection {
    /// Starts a write transaction on this connection.
    pub(crate) async fn begin_write(&mut self) -> Result<WriteTx<'_>, sqlx::Error> {
        Ok(match self {
            HeldConnection::Sqlite(conn) => WriteTx::Sqlite(SqliteTx {
                conn,
                state: State::Pending,
            }),
            // `BEGIN` and the lock go with the first statement (see `pg_tx`).
            HeldConnection::Postgres(conn) => WriteTx::Postgres(PgTx::new(conn)),
        })
    }
}

impl SqliteTx<'_> {
    /// Sends `sql` (one statement, or several ending in `;`) framed as the transaction's state
    /// asks, plus `COMMIT` when `commit`; returns its rows and the changes of its last
    /// statement. On failure the transaction is rolled back.
    async fn send<T: Decode>(
        &mut self,
        sql: SqlStr,
        args: SqliteArguments,
        commit: bool,
    ) -> Result<(Vec<T>, u64), sqlx::Error> {
        if self.state == State::RolledBack {
            return Err(sqlx::Error::Protocol(
                "statement sent in a rolled-back transaction".into(),
            ));
        }
        let begin = self.state == State::Pending;
        let commit = commit && self.state != State::Committed;
        let text = match (begin, commit) {
            (false, false) => sql,
            // Built from constant text around a statement that is itself safe.
            (begin, commit) => AssertSqlSafe(format!(
                "{}{}{}",
                if begin { "BEGIN IMMEDIATE;\n" } else { "" },
                sql.as_str(),
                if commit { "COMMIT;\n" } else { "" }
            ))
            .into_sql_str(),
        };
        if begin {
            self.state = State::Open;
        }
        let query = sqlx::query_with(text, args);
        let result: Result<Vec<_>, sqlx::Error> =
            sqlx::Executor::fetch_many(&mut **self.conn, query)
                .try_collect()
                .await;
        let mut rows = Vec::new();
        let mut changes = 0;
        let outcome = result.and_then(|items| {
            for item in items {
                match item {
                    Either::Left(done) => changes = done.rows_affected(),
                    Either::Right(row) => rows.push(T::from_row(&row)?),
                }
            }
            Ok(())
        });
        match outcome {
            Ok(()) => {
                if commit {
                    self.state = State::Committed;
                }
                Ok((rows, changes))
            }
            Err(e) => {
                if self.state == State::Open {
                    self.rollback().await;
                }
                Err(e)
            }
        }
    }

    /// Undoes whatever is open. With nothing open (`BEGIN` itself failed) this fails
    /// harmlessly.
    async fn rollback(&mut self) {
        self.state = State::RolledBack;
        if let Err(e) = sqlx::query("ROLLBACK").execute(&mut **self.conn).await {
            tracing::debug!(error = %e, "rollback after a failed write");
        }
    }
}

impl Drop for SqliteTx<'_> {
    fn drop(&mut self) {
        // sqlx does not know of a transaction opened in a query string, and would hand the
        // connection back to the pool with the lock held: closing it rolls back instead.
        if self.state == State::Open {
            self.conn.close_on_drop();
        }
    }
}

impl WriteTx<'_> {
    /// Runs `steps`; returns the rows every statement produced, in order.
    pub(crate) async fn run_steps<T: Decode>(
        &mut self,
        steps: &Steps,
    ) -> Result<Vec<T>, sqlx::Error> {
        self.steps(steps, false).await
    }

    /// Runs `steps`, the transaction's last writes. On SQLite they commit in the same query,
    /// and statements sent after them run outside the transaction; on PostgreSQL the
    /// transaction stays open until [`WriteTx::commit`]. [`WriteTx::committed`] tells which.
    pub(crate) async fn run_final_steps<T: Decode>(
        &mut self,
        steps: &Steps,
    ) -> Result<Vec<T>, sqlx::Error> {
        self.steps(steps, true).await
    }

    async fn steps<T: Decode>(&mut self, steps: &Steps, last: bool) -> Result<Vec<T>, sqlx::Error> {
        match self {
            WriteTx::Sqlite(tx) => {
                let frames = tx.state == State::Pending || (last && tx.state == State::Open);
                if steps.is_empty() && !frames {
                    return Ok(vec![]);
                }
                let (sql, args) = steps.combined();
                // Built from constant statements (see `Steps::push`).
                Ok(tx
                    .send(AssertSqlSafe(sql).into_sql_str(), sqlite_args(args)?, last)
                    .await?
                    .0)
            }
            WriteTx::Postgres(tx) => tx.run_steps(steps, last).await,
        }
    }

    /// Whether the transaction has committed already ([`WriteTx::run_final_steps`]).
    pub(crate) fn committed(&self) -> bool {
        match self {
            WriteTx::Sqlite(tx) => tx.state == State::Committed,
            WriteTx::Postgres(tx) => tx.committed(),
        }
    }

    /// Commits what is still open.
    pub(crate) async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            WriteTx::Sqlite(mut tx) => {
                if tx.state == State::Open {
                    sqlx::query("COMMIT").execute(&mut **tx.conn).await?;
                    tx.state = State::Committed;
                }
                Ok(())
            }
            WriteTx::Postgres(mut tx) => tx.commit().await,
        }
    }

    /// Undoes what is still open (after a failure that was not the database's: a statement
    /// that fails rolls back by itself).
    pub(crate) async fn rollback(self) {
        match self {
            WriteTx::Sqlite(mut tx) => {
                if tx.state == State::Open {
                    tx.rollback().await;
                }
            }
            WriteTx::Postgres(mut tx) => tx.rollback().await,
        }
    }
}

impl Exec for WriteTx<'_> {
    fn engine(&self) -> Engine {
        match self {
            WriteTx::Sqlite(_) => Engine::Sqlite,
            WriteTx::Postgres(_) => Engine::Postgres,
        }
    }

    async fn fetch_all<T: Decode>(
        &mut self,
        sql: impl Statement,
        args: &[Arg],
    ) -> Result<Vec<T>, sqlx::Error> {
        match self {
            WriteTx::Sqlite(tx) => Ok(tx.send(sql.into_sql(), sqlite_args(args)?, false).await?.0),
            WriteTx::Postgres(tx) => tx.fetch_all(sql.into_sql(), args).await,
        }
    }

    async fn fetch_optional<T: Decode>(
        &mut self,
        sql: impl Statement,
        args: &[Arg],
    ) -> Result<Option<T>, sqlx::Error> {
        match self {
            WriteTx::Sqlite(tx) => Ok(tx
                .send(sql.into_sql(), sqlite_args(args)?, false)
                .await?
                .0
                .into_iter()
                .next()),
            WriteTx::Postgres(tx) => {
                Ok(tx.fetch_all(sql.into_sql(), args).await?.into_iter().next())
            }
        }
    }

    async fn execute(&mut self, sql: impl Statement, args: &[Arg]) -> Result<u64, sqlx::Error> {
        match self {
            WriteTx::Sqlite(tx) => Ok(tx
                .send::<Ignored>(sql.into_sql(), sqlite_args(args)?, false)
                .await?
                .1),
            WriteTx::Postgres(tx) => {
                tx.open().await?;
                let q = sqlx::query_with(sql.into_sql(), pg_args(args)?);
                let result = q.execute(tx.conn()).await;
                Ok(tx.after(result).await?.rows_affected())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Db;

    const INSERT_GROUP: &str = "INSERT INTO groups (pubid, authority, name, group_type, \
         pre_moderated, created) VALUES ($1, 'example.com', 'n', 'open', FALSE, 0)";

    async fn groups_named(db: &Db, pubid: &str) -> i64 {
        let (n,): (i64,) = db
            .fetch_one(
                "SELECT COUNT(*) FROM groups WHERE pubid = $1",
                &[pubid.into()],
            )
            .await
            .unwrap();
        n
    }

    /// A transaction abandoned while open (its request cancelled) must not hand the pool a
    /// connection that still holds SQLite's write lock, nor leave its writes behind.
    #[tokio::test]
    async fn an_abandoned_sqlite_transaction_rolls_back_and_releases_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::connect(&format!("sqlite://{}/t.db", dir.path().display()))
            .await
            .unwrap();
        {
            let mut conn = HeldConnection::take(&db).await.unwrap();
            let mut tx = conn.begin_write().await.unwrap();
            tx.execute(INSERT_GROUP, &["abandoned".into()])
                .await
                .unwrap();
        }
        // A held lock would make this wait out the 10-second busy timeout.
        let next = ["next".into()];
        let write = db.execute(INSERT_GROUP, &next);
        tokio::time::timeout(std::time::Duration::from_secs(5), write)
            .await
            .expect("the write lock was released")
            .unwrap();
        assert_eq!(groups_named(&db, "abandoned").await, 0);
        assert_eq!(groups_named(&db, "next").await, 1);
    }

    /// A failed statement rolls back everything before it, and the transaction refuses
    /// statements after it rather than run them on their own.
    #[tokio::test]
    async fn a_failed_sqlite_statement_rolls_the_transaction_back() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::connect(&format!("sqlite://{}/t.db", dir.path().display()))
            .await
            .unwrap();
        let mut conn = HeldConnection::take(&db).await.unwrap();
        let mut tx = conn.begin_write().await.unwrap();
        tx.execute(INSERT_GROUP, &["first".into()]).await.unwrap();
        let duplicate = tx.execute(INSERT_GROUP, &["first".into()]).await;
        assert!(duplicate.is_err());
        assert!(tx.execute(INSERT_GROUP, &["later".into()]).await.is_err());
        assert!(!tx.committed());
        drop(tx);
        drop(conn);
        assert_eq!(groups_named(&db, "first").await, 0);
        assert_eq!(groups_named(&db, "later").await, 0);
    }

    /// On PostgreSQL an abandoned transaction holds the lock every writer of the cluster waits
    /// for: its connection must not go back to the pool open. Needs `SCHOLIA_TEST_POSTGRES_URL`
    /// (skipped without it, except under CI).
    #[tokio::test]
    async fn an_abandoned_postgres_transaction_releases_the_writers_lock() {
        let base = match std::env::var("SCHOLIA_TEST_POSTGRES_URL") {
            Ok(url) if !url.is_empty() => url,
            _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
                panic!("CI=true but SCHOLIA_TEST_POSTGRES_URL is not set")
            }
            _ => return,
        };
        let schema = format!("scholia_txtest_{}", std::process::id());
        let admin = sqlx::PgPool::connect(&base).await.unwrap();
        let reset = format!("DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}");
        sqlx::raw_sql(AssertSqlSafe(reset).into_sql_str())
            .execute(&admin)
            .await
            .unwrap();
        let sep = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{sep}options=-c%20search_path%3D{schema}");
        let db = Db::connect(&url).await.unwrap();
        {
            let mut conn = HeldConnection::take(&db).await.unwrap();
            let mut tx = conn.begin_write().await.unwrap();
            tx.execute(INSERT_GROUP, &["abandoned".into()])
                .await
                .unwrap();
        }
        // A held lock would make this wait for as long as the pool kept the connection.
        let write = async {
            let mut conn = HeldConnection::take(&db).await.unwrap();
            let mut tx = conn.begin_write().await.unwrap();
            tx.execute(INSERT_GROUP, &["next".into()]).await.unwrap();
            tx.commit().await.unwrap();
        };
        tokio::time::timeout(std::time::Duration::from_secs(5), write)
            .await
            .expect("the writers' lock was released");
        assert_eq!(groups_named(&db, "abandoned").await, 0);
        assert_eq!(groups_named(&db, "next").await, 1);
        db.close().await;
        let drop = format!("DROP SCHEMA IF EXISTS {schema} CASCADE");
        sqlx::raw_sql(AssertSqlSafe(drop).into_sql_str())
            .execute(&admin)
            .await
            .unwrap();
    }
}
