//! The storage API: every SQL statement lives here, written once for both engines (SQLite and
//! PostgreSQL) behind the [`Db`] enum. Writes that clients may hear about append a row to the
//! change log in the same transaction (see [`changelog`]).
//!
//! Some SQL is assembled at run time (column lists, `IN ($2, $3, ...)` lists, search filters);
//! it is only ever built from constant fragments and `$N` placeholders, never from input, and
//! every value is bound. That is the audit behind each `AssertSqlSafe`.

mod annotation_write;
mod annotations;
pub mod changelog;
pub mod checkpointer;
pub mod checkpoints;
mod db;
pub mod direct;
pub mod documents;
mod groups;
mod held;
pub mod logins;
mod routing;
mod rows;
pub mod search;
mod steps;
mod tokens;
mod users;
mod writer;

pub use annotation_write::{AnnotationWrite, Written};
pub use annotations::ModerationChange;
pub use changelog::{Change, ChangeAction};
pub use checkpoints::CheckpointScope;
pub(crate) use db::db_run;
pub use db::{Db, Engine};
pub use direct::DirectReads;
pub use documents::{DocumentClaims, DocumentUri};
pub use groups::{MembershipChange, NewGroup};
pub use held::HeldConnection;
pub use routing::RoutingFacts;
pub use search::{SearchQuery, SearchResult, SortField};
pub use tokens::{AuthClient, OAuthTokens, TokenLookup};
pub use users::NewUser;
pub use writer::Writer;

/// `$from, $from+1, ...`: `count` bind placeholders for an `IN (...)` list.
pub(crate) fn placeholders(from: usize, count: usize) -> String {
    (from..from + count)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Errors from the store that callers handle, beyond plain database failures.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule would be broken (the message says which).
    #[error("{0}")]
    Conflict(String),
    /// A row the operation needs does not exist.
    #[error("{0}")]
    NotFound(String),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Whether a database error is a unique-constraint violation (same check on both engines).
pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

/// Starting a write transaction, per engine. SQLite takes the write lock up front
/// (`BEGIN IMMEDIATE`), so a transaction that reads before writing cannot deadlock against an
/// admin command in another process. PostgreSQL takes a transaction-scoped advisory lock, so
/// writers commit one at a time and change-log `seq` values become visible in order: a reader
/// tailing the log never sees seq N+1 before N.
pub(crate) trait BeginWrite {
    type Database: sqlx::Database;
    fn begin_write(
        &self,
    ) -> impl Future<Output = Result<sqlx::Transaction<'static, Self::Database>, sqlx::Error>> + Send;
}

impl BeginWrite for sqlx::SqlitePool {
    type Database = sqlx::Sqlite;
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, sqlx::Error> {
        self.begin_with("BEGIN IMMEDIATE").await
    }
}

/// Key of the advisory lock that serialises writers on PostgreSQL ("scholia" in ASCII-ish).
pub(crate) const WRITE_LOCK_KEY: i64 = 0x5c401a;

impl BeginWrite for sqlx::PgPool {
    type Database = sqlx::Postgres;
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
        let mut tx = self.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(WRITE_LOCK_KEY)
            .execute(&mut *tx)
            .await?;
        Ok(tx)
    }
}
