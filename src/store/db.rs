//! The database handle: one enum over the two engines. Statements run on it through
//! [`super::exec`], which picks the pool; this file opens and closes it, and has it migrated
//! ([`super::schema`]; on SQLite under `migration_lock`, sqlx locks PostgreSQL's itself).

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};

use super::schema::SchemaVersions;

/// A pool for one of the two supported engines. Cheap to clone.
#[derive(Clone, Debug)]
pub enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Which engine a [`Db`] talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

impl Db {
    /// Connects to `url` (`sqlite://PATH` or `postgres://...`) and runs the migrations.
    pub async fn connect(url: &str) -> anyhow::Result<Db> {
        Ok(Db::connect_migrating(url).await?.0)
    }

    /// [`Db::connect`], saying which schema versions the database had before and after.
    pub async fn connect_migrating(url: &str) -> anyhow::Result<(Db, SchemaVersions)> {
        let db = if super::location::is_postgres(url) {
            probe_postgres(url).await?;
            let pool = PgPoolOptions::new()
                .max_connections(16)
                // While PostgreSQL is unreachable a request fails after this long, with h's
                // error body, rather than hanging; under load a wait this long means the
                // database is past saturating anyway.
                .acquire_timeout(Duration::from_secs(5))
                .connect(url)
                .await
                .map_err(|e| anyhow::anyhow!("cannot connect to PostgreSQL: {e}"))?;
            Db::Postgres(pool)
        } else if let Some(path) = url
            .strip_prefix("sqlite://")
            .or(url.strip_prefix("sqlite:"))
        {
            let path = path.split('?').next().unwrap_or(path);
            // A missing folder is a wrong path far more often than a wish for a new one: a new,
            // empty database there would look like lost data. (The default data directory is
            // created before this, by the command line.)
            if let Some(parent) = std::path::Path::new(path).parent()
                && !parent.as_os_str().is_empty()
            {
                anyhow::ensure!(
                    parent.is_dir(),
                    "the folder {} of the SQLite database {path} does not exist: check the path, \
                     or create the folder first",
                    parent.display()
                );
            }
            // sqlx locks PostgreSQL's migrations (an advisory lock) but not SQLite's: two
            // processes opening a new file at once would both switch it to WAL and apply
            // migration 1, and one would fail ("database is locked", "table users already
            // exists"). A lock on a file beside the database, held from opening to the end of
            // the migrations, makes the second wait, then find nothing left to do.
            let in_memory = path.starts_with(":memory:") || url.contains("mode=memory");
            let guard = match in_memory {
                true => None,
                false => Some(migration_lock(path).await?),
            };
            // WAL lets admin commands in another process write while the server reads, and the
            // busy timeout makes a second writer wait for the lock instead of failing.
            let options = SqliteConnectOptions::from_str(&format!("sqlite://{path}"))?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(sqlx::sqlite::SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10));
            // Testing a connection before handing it out costs a worker round trip per query
            // and finds nothing on a local file.
            let pool = SqlitePoolOptions::new()
                .max_connections(8)
                .test_before_acquire(false)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(options)
                .await
                .map_err(|e| anyhow::anyhow!("cannot open SQLite database {path}: {e}"))?;
            let db = Db::Sqlite(pool);
            let versions = db.migrate().await?;
            drop(guard);
            return Ok((db, versions));
        } else {
            anyhow::bail!("unsupported database URL {url:?}: use sqlite://PATH or postgres://...");
        };
        let versions = db.migrate().await?;
        Ok((db, versions))
    }

    /// The handle the group-commit writer uses: on SQLite a connection of its own (so its page
    /// cache stays warm between its commits) that leaves checkpoints to
    /// [`super::checkpointer`]; on PostgreSQL the shared pool.
    pub async fn for_writer(&self) -> anyhow::Result<Db> {
        Ok(match self {
            Db::Sqlite(p) => {
                // Checkpoints are the checkpointer task's job, so a commit never waits for one.
                let options = (*p.connect_options())
                    .clone()
                    .pragma("wal_autocheckpoint", "0");
                let pool = SqlitePoolOptions::new()
                    .max_connections(1)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect_with(options)
                    .await
                    .map_err(|e| {
                        anyhow::anyhow!("cannot open the writer's SQLite connection: {e}")
                    })?;
                Db::Sqlite(pool)
            }
            Db::Postgres(p) => Db::Postgres(p.clone()),
        })
    }

    /// The engine behind this handle.
    pub fn engine(&self) -> Engine {
        match self {
            Db::Sqlite(_) => Engine::Sqlite,
            Db::Postgres(_) => Engine::Postgres,
        }
    }

    /// `SELECT 1`, for the health check.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        self.execute("SELECT 1", &[]).await.map(|_| ())
    }

    /// Closes the pool, waiting for connections in use to be returned.
    pub async fn close(&self) {
        match self {
            Db::Sqlite(p) => p.close().await,
            Db::Postgres(p) => p.close().await,
        }
    }

    /// Pool figures for `/metrics`: (connections open, idle).
    pub fn pool_stats(&self) -> (u32, usize) {
        match self {
            Db::Sqlite(p) => (p.size(), p.num_idle()),
            Db::Postgres(p) => (p.size(), p.num_idle()),
        }
    }
}

/// How long the first connection to PostgreSQL may take before start-up gives up.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// One direct connection before the pool is built, to fail at once with the cause (connection
/// refused, unknown host, authentication) and the host it concerns: the pool would retry until
/// its acquire timeout and then say only that it timed out.
async fn probe_postgres(url: &str) -> anyhow::Result<()> {
    use sqlx::Connection;
    let options = sqlx::postgres::PgConnectOptions::from_str(url)
        .map_err(|e| anyhow::anyhow!("the PostgreSQL URL cannot be read: {e}"))?;
    let place = super::location::Location::of(url).describe();
    match tokio::time::timeout(PROBE_TIMEOUT, sqlx::PgConnection::connect_with(&options)).await {
        Ok(Ok(conn)) => {
            let _ = conn.close().await;
            Ok(())
        }
        Ok(Err(e)) => anyhow::bail!("cannot connect to {place}: {e}"),
        Err(_) => anyhow::bail!("cannot connect to {place}: no answer within {PROBE_TIMEOUT:?}"),
    }
}

/// Holds an exclusive lock on `<database>-migrate` (created if missing, kept afterwards like
/// SQLite's own `-wal` and `-shm` files) until dropped; waits for another process that holds it.
async fn migration_lock(database: &str) -> anyhow::Result<std::fs::File> {
    let path = format!("{database}-migrate");
    tokio::task::spawn_blocking(move || {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| anyhow::anyhow!("cannot open the migration lock {path}: {e}"))?;
        file.lock()
            .map_err(|e| anyhow::anyhow!("cannot lock {path}: {e}"))?;
        Ok(file)
    })
    .await?
}
