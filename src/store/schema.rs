//! Schema versions: which migrations a database has had, and whether this binary knows them all.
//!
//! A database migrated by a newer scholia has migrations this binary lacks. Left to itself, sqlx
//! refuses it with "migration N was previously applied but is missing in the resolved
//! migrations"; this says which versions are involved and what to do instead, before anything
//! touches the database.

use sqlx::migrate::Migrator;

use super::Db;

static SQLITE: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES: Migrator = sqlx::migrate!("migrations/postgres");

/// A database's schema version (its latest migration) before and after it was migrated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SchemaVersions {
    /// `None`: a new database, with no migration yet.
    pub before: Option<i64>,
    pub after: i64,
}

impl Db {
    fn migrator(&self) -> &'static Migrator {
        match self {
            Db::Sqlite(_) => &SQLITE,
            Db::Postgres(_) => &POSTGRES,
        }
    }

    /// The latest schema version this binary knows for this engine.
    pub fn known_schema_version(&self) -> i64 {
        known(self.migrator())
    }

    /// The versions of the migrations applied to this database (none for a new one).
    pub async fn applied_migrations(&self) -> Result<Vec<i64>, sqlx::Error> {
        // sqlx's bookkeeping table, created by the first migration run.
        const APPLIED: &str = "SELECT version FROM _sqlx_migrations WHERE success ORDER BY version";
        match self {
            Db::Sqlite(p) => {
                let exists: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' \
                     AND name = '_sqlx_migrations'",
                )
                .fetch_one(p)
                .await?;
                match exists {
                    0 => Ok(Vec::new()),
                    _ => sqlx::query_scalar(APPLIED).fetch_all(p).await,
                }
            }
            Db::Postgres(p) => {
                // `to_regclass` looks along the search path, as sqlx's migrator does.
                let exists: bool =
                    sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
                        .fetch_one(p)
                        .await?;
                match exists {
                    false => Ok(Vec::new()),
                    true => sqlx::query_scalar(APPLIED).fetch_all(p).await,
                }
            }
        }
    }

    /// Applies the migrations this database lacks, after checking that it has none this binary
    /// does not know.
    pub(super) async fn migrate(&self) -> anyhow::Result<SchemaVersions> {
        let migrator = self.migrator();
        let applied = self.applied_migrations().await?;
        check_not_newer(&applied, migrator)?;
        match self {
            Db::Sqlite(p) => migrator.run(p).await?,
            Db::Postgres(p) => migrator.run(p).await?,
        }
        Ok(SchemaVersions {
            before: applied.last().copied(),
            after: known(migrator),
        })
    }
}

fn known(migrator: &Migrator) -> i64 {
    migrator.iter().map(|m| m.version).max().unwrap_or(0)
}

/// An error when `applied` holds a migration `migrator` does not have.
fn check_not_newer(applied: &[i64], migrator: &Migrator) -> anyhow::Result<()> {
    let known_versions: Vec<i64> = migrator.iter().map(|m| m.version).collect();
    let unknown: Vec<i64> = applied
        .iter()
        .copied()
        .filter(|v| !known_versions.contains(v))
        .collect();
    if unknown.is_empty() {
        return Ok(());
    }
    let newest = applied.iter().max().copied().unwrap_or_default();
    let list = unknown
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    anyhow::bail!(
        "the database's schema is at version {newest}, newer than this scholia {} knows \
         (versions up to {}): migration {list} came from a newer scholia. Run that version (or \
         a later one), or restore a backup taken before the upgrade; this binary leaves the \
         database untouched.",
        env!("CARGO_PKG_VERSION"),
        known(migrator),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_with_an_unknown_migration_is_refused_naming_both_versions() {
        let latest = known(&SQLITE);
        assert!(latest >= 6);
        let all: Vec<i64> = SQLITE.iter().map(|m| m.version).collect();
        assert!(check_not_newer(&all, &SQLITE).is_ok());
        assert!(check_not_newer(&all[..2], &SQLITE).is_ok());
        assert!(check_not_newer(&[], &SQLITE).is_ok());
        let mut newer = all.clone();
        newer.push(latest + 1);
        let e = check_not_newer(&newer, &SQLITE).unwrap_err().to_string();
        assert!(
            e.contains(&format!("schema is at version {}", latest + 1)),
            "{e}"
        );
        assert!(e.contains(&format!("versions up to {latest}")), "{e}");
    }
}
