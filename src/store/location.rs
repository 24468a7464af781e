//! Where a database URL points, in words an operator can check: the engine and the file
//! (SQLite) or the host and database (PostgreSQL), never the password. Used by the start-up
//! log, `--verbose` and `scholia backup`.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use sqlx::postgres::PgConnectOptions;

/// A database URL, taken apart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    /// The database file's path as the URL gives it.
    Sqlite(String),
    Postgres {
        host: String,
        port: u16,
        database: String,
        user: String,
    },
    Unsupported,
}

/// The file path of a `sqlite://PATH[?options]` (or `sqlite:PATH`) URL.
pub fn sqlite_path(url: &str) -> Option<&str> {
    let path = url
        .strip_prefix("sqlite://")
        .or(url.strip_prefix("sqlite:"))?;
    Some(path.split('?').next().unwrap_or(path))
}

/// Whether `url` names a PostgreSQL database.
pub fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

impl Location {
    pub fn of(url: &str) -> Location {
        if let Some(path) = sqlite_path(url) {
            return Location::Sqlite(path.to_owned());
        }
        if !is_postgres(url) {
            return Location::Unsupported;
        }
        // sqlx's own parser, so a host given as `?host=/run/postgresql` (a Unix socket) or left
        // to `PGHOST` reads as sqlx will connect to it.
        match PgConnectOptions::from_str(url) {
            Ok(o) => Location::Postgres {
                host: o.get_host().to_owned(),
                port: o.get_port(),
                database: o.get_database().unwrap_or("(the user's name)").to_owned(),
                user: o.get_username().to_owned(),
            },
            Err(_) => Location::Unsupported,
        }
    }

    /// `SQLite /abs/path/scholia.db` or `PostgreSQL database D on HOST:PORT as USER`.
    pub fn describe(&self) -> String {
        match self {
            Location::Sqlite(path) => format!("SQLite {}", absolute(path).display()),
            Location::Postgres {
                host,
                port,
                database,
                user,
            } => format!("PostgreSQL database {database} on {host}:{port} as {user}"),
            Location::Unsupported => "an unsupported database URL".to_owned(),
        }
    }
}

/// `path` from the root: a relative path means nothing in a log read later, or by a service
/// manager that started the server in a folder the operator did not pick.
fn absolute(path: &str) -> PathBuf {
    let p = Path::new(path);
    match (p.is_absolute(), std::env::current_dir()) {
        (false, Ok(cwd)) => cwd.join(p),
        _ => p.to_path_buf(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_give_their_path() {
        assert_eq!(
            sqlite_path("sqlite:///var/lib/s.db?mode=rwc"),
            Some("/var/lib/s.db")
        );
        assert_eq!(sqlite_path("sqlite:data/s.db"), Some("data/s.db"));
        assert_eq!(sqlite_path("postgres://h/d"), None);
        assert_eq!(
            Location::of("sqlite:///var/lib/s.db").describe(),
            "SQLite /var/lib/s.db"
        );
        assert!(
            Location::of("sqlite://rel/s.db")
                .describe()
                .ends_with("/rel/s.db")
        );
    }

    #[test]
    fn postgres_urls_describe_host_and_database_but_never_the_password() {
        let loc = Location::of("postgres://scholia:s3cret@db.example:6543/annotations");
        assert_eq!(
            loc,
            Location::Postgres {
                host: "db.example".into(),
                port: 6543,
                database: "annotations".into(),
                user: "scholia".into()
            }
        );
        let text = loc.describe();
        assert_eq!(
            text,
            "PostgreSQL database annotations on db.example:6543 as scholia"
        );
        assert!(!text.contains("s3cret"));
        assert_eq!(Location::of("mysql://x/y"), Location::Unsupported);
    }
}
