//! PostgreSQL write transactions, framed as SQLite's are ([`super::tx`]): nothing is sent at
//! `begin_write`; `BEGIN` and the writers' advisory lock go in front of the first statement,
//! and a run of statements ([`Steps`]) goes as one round trip, with `COMMIT` after it when it
//! is the transaction's last.
//!
//! Why: PostgreSQL's extended protocol (bound values) takes one statement per round trip, and
//! sqlx does not pipeline them, so an annotation create took a dozen round trips, all of them
//! while holding the lock every writer of the cluster waits for. A run is therefore sent with
//! the simple protocol, which takes many statements at once but no bound values: each value is
//! written into the text by [`inline`], the one place that does so, as a typed literal
//! (`E'…'::text`, `(…)::int8`, `TRUE`, `NULL::text`) of the type the extended protocol would
//! have bound, so the statements mean exactly what they mean with `$N`. So does the
//! transaction's first statement, which goes with `BEGIN` and the lock; later single statements
//! go with bound values.

use std::fmt::Write as _;

use futures_util::TryStreamExt;
use sqlx::pool::PoolConnection;
use sqlx::postgres::PgRow;
use sqlx::{AssertSqlSafe, Column, Either, Postgres, Row, SqlSafeStr, SqlStr};

use super::exec::{Decode, Ignored, pg_args};
use super::steps::{Arg, Steps};
use super::tx::{State, WRITE_LOCK_KEY};

/// The alias of the lock's row, which [`PgTx::send`] leaves out of the rows it returns.
const LOCK_COLUMN: &str = "scholia_write_lock";

/// A PostgreSQL write transaction on a connection of the pool.
pub(crate) struct PgTx<'c> {
    conn: &'c mut PoolConnection<Postgres>,
    state: State,
}

fn begin_sql() -> String {
    format!("BEGIN;\nSELECT pg_advisory_xact_lock({WRITE_LOCK_KEY}) AS {LOCK_COLUMN};\n")
}

impl<'c> PgTx<'c> {
    pub(crate) fn new(conn: &'c mut PoolConnection<Postgres>) -> PgTx<'c> {
        PgTx {
            conn,
            state: State::Pending,
        }
    }

    pub(crate) fn committed(&self) -> bool {
        self.state == State::Committed
    }

    fn refuse_if_rolled_back(&self) -> Result<(), sqlx::Error> {
        match self.state {
            State::RolledBack => Err(sqlx::Error::Protocol(
                "statement sent in a rolled-back transaction".into(),
            )),
            _ => Ok(()),
        }
    }

    /// Runs `steps` in one round trip (opening the transaction first if nothing has, and
    /// committing after them when `commit`); returns their rows. On failure the transaction is
    /// rolled back.
    pub(crate) async fn run_steps<T: Decode>(
        &mut self,
        steps: &Steps,
        commit: bool,
    ) -> Result<Vec<T>, sqlx::Error> {
        self.refuse_if_rolled_back()?;
        let mut text = String::new();
        for (sql, args) in steps.statements() {
            text.push_str(&inline(sql, args)?);
            text.push_str(";\n");
        }
        self.send(text, commit).await
    }

    /// Every row of one statement. The transaction's first statement goes with `BEGIN` and the
    /// lock in one round trip (its values inlined): a write's first read (the document lookup)
    /// then costs no round trip of its own while the lock is held. Later ones go with bound
    /// values.
    pub(crate) async fn fetch_all<T: Decode>(
        &mut self,
        sql: SqlStr,
        args: &[Arg],
    ) -> Result<Vec<T>, sqlx::Error> {
        self.refuse_if_rolled_back()?;
        if self.state == State::Pending {
            let mut text = inline(sql.as_str(), args)?;
            text.push_str(";\n");
            return self.send(text, false).await;
        }
        let q = sqlx::query_as_with(sql, pg_args(args)?);
        let result = q.fetch_all(&mut **self.conn).await;
        self.after(result).await
    }

    /// Opens the transaction if nothing has yet (for a statement sent with bound values).
    pub(crate) async fn open(&mut self) -> Result<(), sqlx::Error> {
        self.refuse_if_rolled_back()?;
        if self.state == State::Pending {
            self.send::<Ignored>(String::new(), false).await?;
        }
        Ok(())
    }

    /// Records the outcome of a statement sent with bound values after [`PgTx::open`]: a
    /// failed one leaves the transaction aborted, so it is rolled back at once.
    pub(crate) async fn after<T>(
        &mut self,
        result: Result<T, sqlx::Error>,
    ) -> Result<T, sqlx::Error> {
        if result.is_err() && self.state == State::Open {
            self.rollback_open().await;
        }
        result
    }

    /// The connection, for a statement sent with bound values.
    pub(crate) fn conn(&mut self) -> &mut sqlx::PgConnection {
        self.conn
    }

    async fn send<T: Decode>(&mut self, body: String, commit: bool) -> Result<Vec<T>, sqlx::Error> {
        let begin = self.state == State::Pending;
        let commit = commit && self.state != State::Committed;
        if body.is_empty() && !begin && !commit {
            return Ok(vec![]);
        }
        let text = format!(
            "{}{body}{}",
            if begin { begin_sql() } else { String::new() },
            if commit { "COMMIT;\n" } else { "" }
        );
        if begin {
            self.state = State::Open;
        }
        // Built by `inline` from constant statements and escaped literals (see the module).
        let query = sqlx::raw_sql(AssertSqlSafe(text).into_sql_str());
        let items: Result<Vec<Either<_, PgRow>>, sqlx::Error> =
            query.fetch_many(&mut **self.conn).try_collect().await;
        let outcome = items.and_then(|items| {
            let mut rows = Vec::new();
            for item in items {
                if let Either::Right(row) = item
                    && row.columns().first().map(|c| c.name()) != Some(LOCK_COLUMN)
                {
                    rows.push(T::from_row(&row)?);
                }
            }
            Ok(rows)
        });
        match outcome {
            Ok(rows) => {
                if commit {
                    self.state = State::Committed;
                }
                Ok(rows)
            }
            Err(e) => {
                if self.state == State::Open {
                    self.rollback_open().await;
                }
                Err(e)
            }
        }
    }

    /// Commits what is still open.
    pub(crate) async fn commit(&mut self) -> Result<(), sqlx::Error> {
        if self.state == State::Open {
            self.send::<Ignored>(String::new(), true).await?;
        }
        Ok(())
    }

    /// Undoes what is still open.
    pub(crate) async fn rollback(&mut self) {
        if self.state == State::Open {
            self.rollback_open().await;
        }
    }

    async fn rollback_open(&mut self) {
        self.state = State::RolledBack;
        if let Err(e) = sqlx::raw_sql("ROLLBACK").execute(&mut **self.conn).await {
            tracing::debug!(error = %e, "rollback after a failed write");
        }
    }
}

impl Drop for PgTx<'_> {
    fn drop(&mut self) {
        // Abandoned while open (its future cancelled): the connection would go back to the pool
        // inside the transaction, holding the lock every writer waits for. Closing it rolls
        // back instead.
        if self.state == State::Open {
            self.conn.close_on_drop();
        }
    }
}

/// `sql` with each `$N` placeholder replaced by `args[N - 1]` as a typed literal. Placeholders
/// are found outside quoted strings and identifiers only (our statements have none with a `$`
/// in them, but the scan does not rely on it). Fails on a placeholder with no value and on
/// text with a NUL character, which PostgreSQL text cannot hold.
pub(crate) fn inline(sql: &str, args: &[Arg]) -> Result<String, sqlx::Error> {
    let mut out = String::with_capacity(sql.len() + 64);
    let mut quote: Option<char> = None;
    let mut chars = sql.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match quote {
            Some(q) => {
                out.push(c);
                if c == q {
                    quote = None;
                }
            }
            None if c == '\'' || c == '"' => {
                quote = Some(c);
                out.push(c);
            }
            None if c == '$' => {
                let digits: String = std::iter::from_fn(|| {
                    chars.next_if(|(_, d)| d.is_ascii_digit()).map(|(_, d)| d)
                })
                .collect();
                if digits.is_empty() {
                    out.push(c);
                    continue;
                }
                let n: usize = digits.parse().map_err(|_| placeholder(sql, i))?;
                let arg = n
                    .checked_sub(1)
                    .and_then(|k| args.get(k))
                    .ok_or_else(|| placeholder(sql, i))?;
                literal(&mut out, arg)?;
            }
            None => out.push(c),
        }
    }
    Ok(out)
}

fn placeholder(sql: &str, at: usize) -> sqlx::Error {
    sqlx::Error::Protocol(format!("no value for the placeholder at {at} of {sql:?}"))
}

/// One value as a literal of the type sqlx binds it as (text, int8, bool).
fn literal(out: &mut String, arg: &Arg) -> Result<(), sqlx::Error> {
    match arg {
        Arg::Text(None) => out.push_str("NULL::text"),
        Arg::Int(None) => out.push_str("NULL::int8"),
        Arg::Bool(b) => out.push_str(if *b { "TRUE" } else { "FALSE" }),
        // In parentheses: a negative number after a `-` must not read as a comment.
        Arg::Int(Some(n)) => {
            let _ = write!(out, "({n})::int8");
        }
        Arg::Text(Some(s)) => {
            if s.contains('\0') {
                return Err(sqlx::Error::Encode(
                    "text with a NUL character cannot be stored in PostgreSQL".into(),
                ));
            }
            // An escape string, so its meaning does not depend on the server's
            // `standard_conforming_strings`: every backslash and quote is doubled.
            out.push_str("E'");
            for c in s.chars() {
                match c {
                    '\\' => out.push_str("\\\\"),
                    '\'' => out.push_str("''"),
                    c => out.push(c),
                }
            }
            out.push_str("'::text");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_become_typed_literals_in_place_of_their_placeholders() {
        let sql = "INSERT INTO t (a, b, c, d, e) VALUES ($1, $2, $3, $4, $5) WHERE x = $10";
        let mut args: Vec<Arg> = vec![
            "it's a \\ test".into(),
            Arg::Int(Some(-5)),
            true.into(),
            Arg::Text(None),
            Arg::Int(None),
        ];
        args.extend((6..=10).map(|n| Arg::Int(Some(n))));
        assert_eq!(
            inline(sql, &args).unwrap(),
            "INSERT INTO t (a, b, c, d, e) VALUES (E'it''s a \\\\ test'::text, (-5)::int8, \
             TRUE, NULL::text, NULL::int8) WHERE x = (10)::int8"
        );
    }

    #[test]
    fn dollars_in_quotes_and_lone_dollars_are_left_alone() {
        let args = ["v".into()];
        assert_eq!(
            inline("SELECT '$1', \"$1\", $ , $1", &args).unwrap(),
            "SELECT '$1', \"$1\", $ , E'v'::text"
        );
    }

    #[test]
    fn a_missing_value_or_a_nul_is_an_error_not_a_statement() {
        assert!(inline("SELECT $2", &["a".into()]).is_err());
        assert!(inline("SELECT $0", &["a".into()]).is_err());
        assert!(inline("SELECT $1", &["a\0b".into()]).is_err());
    }
}
