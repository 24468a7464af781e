//! The storage API: every SQL statement lives here, written once for both engines (SQLite and
//! PostgreSQL) behind the [`Db`] enum. Statements run through one executor (`exec`: on the
//! pool or a held connection; `tx`: inside a write transaction, which only
//! `HeldConnection::begin_write` starts), so store functions are plain code. Writes that
//! clients may hear about append a row to the change log in the same transaction (see
//! [`changelog`]).
//!
//! Some SQL is assembled at run time (column lists, `IN ($2, $3, ...)` lists, search filters);
//! it is only ever built from constant fragments and `$N` placeholders, never from input, and
//! every value is bound, except in a PostgreSQL transaction's runs of statements, where
//! `pg_tx::inline` writes each value as an escaped, typed literal (one round trip for the run).
//! That is the audit behind each `AssertSqlSafe`.

mod accounts;
mod annotation_write;
mod annotations;
pub mod changelog;
pub mod checkpointer;
pub mod checkpoints;
mod db;
pub mod direct;
pub mod documents;
mod exec;
mod groups;
mod handle;
mod held;
pub mod location;
pub mod logins;
mod pg_tx;
pub mod resume;
mod routing;
mod rows;
pub mod schema;
pub mod search;
mod search_index;
mod steps;
mod tokens;
mod tx;
mod users;
pub mod webhooks;
mod writer;

pub use annotation_write::{AnnotationWrite, Written};
pub use annotations::ModerationChange;
pub use changelog::{Change, ChangeAction};
pub use checkpoints::CheckpointScope;
pub use db::{Db, Engine};
pub use direct::DirectReads;
pub use documents::{DocumentClaims, DocumentUri};
pub use exec::HeldConnection;
pub use groups::{MembershipChange, NewGroup};
pub use handle::Store;
pub use routing::RoutingFacts;
pub(crate) use rows::ChangeRow;
pub use schema::SchemaVersions;
pub use search::{SearchQuery, SearchResult, SortField};
pub use search_index::SearchIndex;
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
    /// The group-commit writer is no longer taking writes.
    #[error("the writer has stopped")]
    WriterStopped,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Whether an error says the database could not be reached or the connection died, rather
/// than that the statement was refused: an I/O, protocol or pool-timeout error, or
/// PostgreSQL's connection-exception and operator-intervention classes (08xxx, 57Pxx: shut
/// down, terminated by an administrator). Trying again later may succeed.
pub fn is_connection_error(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_) | sqlx::Error::Protocol(_) | sqlx::Error::PoolTimedOut => true,
        sqlx::Error::Database(d) => d
            .code()
            .is_some_and(|c| c.starts_with("08") || c.starts_with("57P")),
        _ => false,
    }
}

/// Whether a database error is a unique-constraint violation (same check on both engines).
pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}
