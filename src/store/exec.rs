//! The one way the store runs SQL on either engine. A statement is its text plus [`Arg`]
//! values; rows decode into any type that sqlx can build from a row of both engines
//! ([`Decode`]: the row structs of [`super::rows`], tuples, [`super::steps::StepRow`]). The
//! text is the same for both engines; only the connection it is sent on differs, and that
//! choice is made here, in one `match` per operation, so that store functions are plain code.

use sqlx::pool::PoolConnection;
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::{Arguments, AssertSqlSafe, Encode, SqlSafeStr, SqlStr, Type};

use super::steps::{Arg, Steps};
use super::{Db, Engine};

/// SQL text for [`Exec`]: a constant, or text built at run time from constant fragments and
/// `$N` placeholders, marked `AssertSqlSafe` where it is built (see [`super`]). It is taken
/// for any lifetime, not only `'static` as sqlx's own `SqlSafeStr` is, because a bound that
/// holds only for `'static` makes the futures of callers fail the `Send` check (rustc cannot
/// prove it for the erased lifetimes inside an `async` body).
pub(crate) trait Statement: Send {
    fn into_sql(self) -> SqlStr;
}

impl Statement for &str {
    fn into_sql(self) -> SqlStr {
        AssertSqlSafe(self).into_sql_str()
    }
}

impl Statement for AssertSqlSafe<String> {
    fn into_sql(self) -> SqlStr {
        self.into_sql_str()
    }
}

/// A type sqlx decodes from a row of either engine.
pub(crate) trait Decode:
    for<'r> sqlx::FromRow<'r, SqliteRow> + for<'r> sqlx::FromRow<'r, PgRow> + Send + Unpin
{
}
impl<T> Decode for T where
    T: for<'r> sqlx::FromRow<'r, SqliteRow> + for<'r> sqlx::FromRow<'r, PgRow> + Send + Unpin
{
}

/// `args` as one engine's bound values.
fn bind<'a, A: Arguments>(args: impl IntoIterator<Item = &'a Arg>) -> Result<A, sqlx::Error>
where
    for<'t> Option<String>: Encode<'t, A::Database> + Type<A::Database>,
    for<'t> Option<i64>: Encode<'t, A::Database> + Type<A::Database>,
    for<'t> bool: Encode<'t, A::Database> + Type<A::Database>,
{
    let mut out = A::default();
    for a in args {
        match a {
            Arg::Text(v) => out.add(v.clone()),
            Arg::Int(v) => out.add(*v),
            Arg::Bool(v) => out.add(*v),
        }
        .map_err(sqlx::Error::Encode)?;
    }
    Ok(out)
}

/// `args` as SQLite's bound values.
pub(crate) fn sqlite_args<'a>(
    args: impl IntoIterator<Item = &'a Arg>,
) -> Result<sqlx::sqlite::SqliteArguments, sqlx::Error> {
    bind(args)
}

/// `args` as PostgreSQL's bound values.
pub(crate) fn pg_args<'a>(
    args: impl IntoIterator<Item = &'a Arg>,
) -> Result<sqlx::postgres::PgArguments, sqlx::Error> {
    bind(args)
}

/// A row whose values nobody needs (those of a statement run for its effect).
pub(crate) struct Ignored;

impl<'r, R: sqlx::Row> sqlx::FromRow<'r, R> for Ignored {
    fn from_row(_: &'r R) -> Result<Ignored, sqlx::Error> {
        Ok(Ignored)
    }
}

/// Runs statements on one connection, pooled or inside a transaction.
pub(crate) trait Exec: Send {
    /// The engine the statements run on, for the few statements only one engine has.
    fn engine(&self) -> Engine;

    /// Every row the statement returns.
    fn fetch_all<T: Decode>(
        &mut self,
        sql: impl Statement,
        args: &[Arg],
    ) -> impl Future<Output = Result<Vec<T>, sqlx::Error>> + Send;

    /// The statement's first row, if any.
    fn fetch_optional<T: Decode>(
        &mut self,
        sql: impl Statement,
        args: &[Arg],
    ) -> impl Future<Output = Result<Option<T>, sqlx::Error>> + Send;

    /// Runs the statement; returns the number of rows it changed.
    fn execute(
        &mut self,
        sql: impl Statement,
        args: &[Arg],
    ) -> impl Future<Output = Result<u64, sqlx::Error>> + Send;

    /// The statement's first row; [`sqlx::Error::RowNotFound`] when there is none.
    fn fetch_one<T: Decode>(
        &mut self,
        sql: impl Statement,
        args: &[Arg],
    ) -> impl Future<Output = Result<T, sqlx::Error>> + Send {
        async move {
            self.fetch_optional(sql, args)
                .await?
                .ok_or(sqlx::Error::RowNotFound)
        }
    }
}

/// A connection taken out of a [`Db`]'s pool. Held across statements it spares the pool's
/// acquire and release (each a round trip of its own on SQLite: sqlx pings on release), which
/// is why the writer keeps one (`held.rs`).
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
}

impl Exec for HeldConnection {
    fn engine(&self) -> Engine {
        match self {
            HeldConnection::Sqlite(_) => Engine::Sqlite,
            HeldConnection::Postgres(_) => Engine::Postgres,
        }
    }

    async fn fetch_all<T: Decode>(
        &mut self,
        sql: impl Statement,
        args: &[Arg],
    ) -> Result<Vec<T>, sqlx::Error> {
        match self {
            HeldConnection::Sqlite(c) => {
                let q = sqlx::query_as_with(sql.into_sql(), sqlite_args(args)?);
                q.fetch_all(&mut **c).await
            }
            HeldConnection::Postgres(c) => {
                let q = sqlx::query_as_with(sql.into_sql(), pg_args(args)?);
                q.fetch_all(&mut **c).await
            }
        }
    }

    async fn fetch_optional<T: Decode>(
        &mut self,
        sql: impl Statement,
        args: &[Arg],
    ) -> Result<Option<T>, sqlx::Error> {
        match self {
            HeldConnection::Sqlite(c) => {
                let q = sqlx::query_as_with(sql.into_sql(), sqlite_args(args)?);
                q.fetch_optional(&mut **c).await
            }
            HeldConnection::Postgres(c) => {
                let q = sqlx::query_as_with(sql.into_sql(), pg_args(args)?);
                q.fetch_optional(&mut **c).await
            }
        }
    }

    async fn execute(&mut self, sql: impl Statement, args: &[Arg]) -> Result<u64, sqlx::Error> {
        Ok(match self {
            HeldConnection::Sqlite(c) => {
                let q = sqlx::query_with(sql.into_sql(), sqlite_args(args)?);
                q.execute(&mut **c).await?.rows_affected()
            }
            HeldConnection::Postgres(c) => {
                let q = sqlx::query_with(sql.into_sql(), pg_args(args)?);
                q.execute(&mut **c).await?.rows_affected()
            }
        })
    }
}

impl HeldConnection {
    /// Runs `steps` outside any transaction: on SQLite as one query (see [`super::steps`]),
    /// on PostgreSQL one statement after another. Returns every statement's rows, in order.
    pub(crate) async fn run_steps<T: Decode>(
        &mut self,
        steps: &Steps,
    ) -> Result<Vec<T>, sqlx::Error> {
        match self {
            HeldConnection::Sqlite(c) => {
                if steps.is_empty() {
                    return Ok(vec![]);
                }
                let (sql, args) = steps.combined();
                // Built from constant statements (see `Steps::push`).
                let q = sqlx::query_as_with(AssertSqlSafe(sql), sqlite_args(args)?);
                q.fetch_all(&mut **c).await
            }
            HeldConnection::Postgres(c) => {
                let mut rows = Vec::new();
                for (sql, args) in steps.statements() {
                    let q = sqlx::query_as_with(*sql, pg_args(args)?);
                    rows.extend(q.fetch_all(&mut **c).await?);
                }
                Ok(rows)
            }
        }
    }
}

/// Single statements straight on the pool (each takes a connection and gives it back).
impl Db {
    pub(crate) async fn fetch_all<T: Decode>(
        &self,
        sql: impl Statement,
        args: &[Arg],
    ) -> Result<Vec<T>, sqlx::Error> {
        match self {
            Db::Sqlite(p) => {
                sqlx::query_as_with(sql.into_sql(), sqlite_args(args)?)
                    .fetch_all(p)
                    .await
            }
            Db::Postgres(p) => {
                sqlx::query_as_with(sql.into_sql(), pg_args(args)?)
                    .fetch_all(p)
                    .await
            }
        }
    }

    pub(crate) async fn fetch_optional<T: Decode>(
        &self,
        sql: impl Statement,
        args: &[Arg],
    ) -> Result<Option<T>, sqlx::Error> {
        match self {
            Db::Sqlite(p) => {
                let q = sqlx::query_as_with(sql.into_sql(), sqlite_args(args)?);
                q.fetch_optional(p).await
            }
            Db::Postgres(p) => {
                let q = sqlx::query_as_with(sql.into_sql(), pg_args(args)?);
                q.fetch_optional(p).await
            }
        }
    }

    pub(crate) async fn fetch_one<T: Decode>(
        &self,
        sql: impl Statement,
        args: &[Arg],
    ) -> Result<T, sqlx::Error> {
        match self {
            Db::Sqlite(p) => {
                sqlx::query_as_with(sql.into_sql(), sqlite_args(args)?)
                    .fetch_one(p)
                    .await
            }
            Db::Postgres(p) => {
                sqlx::query_as_with(sql.into_sql(), pg_args(args)?)
                    .fetch_one(p)
                    .await
            }
        }
    }

    pub(crate) async fn execute(
        &self,
        sql: impl Statement,
        args: &[Arg],
    ) -> Result<u64, sqlx::Error> {
        Ok(match self {
            Db::Sqlite(p) => {
                let q = sqlx::query_with(sql.into_sql(), sqlite_args(args)?);
                q.execute(p).await?.rows_affected()
            }
            Db::Postgres(p) => {
                let q = sqlx::query_with(sql.into_sql(), pg_args(args)?);
                q.execute(p).await?.rows_affected()
            }
        })
    }
}
