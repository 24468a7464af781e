//! `scholia backup FILE`: a consistent copy of the SQLite database, taken while the server runs.
//!
//! It uses SQLite's online backup API, never a file copy: with WAL, recent commits live in the
//! `-wal` file until a checkpoint moves them into the database file, so a `cp` of the database
//! file alone silently loses them (and a `cp` of both can pair a database file and a WAL from
//! different moments). The backup copies the pages as one read transaction sees them, which
//! does not block the server's writers. PostgreSQL has its own tool, `pg_dump`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;
use rusqlite::backup::StepResult;
use rusqlite::{Connection, OpenFlags};

use crate::config::Config;
use crate::store::location::{Location, sqlite_path};

#[derive(Args, Debug)]
pub struct BackupArgs {
    /// Where to write the copy (a new SQLite database file).
    pub file: PathBuf,
    /// Replace FILE if it exists.
    #[arg(long)]
    pub force: bool,
}

pub async fn run(config: &Config, args: BackupArgs) -> anyhow::Result<()> {
    let url = config.database_url();
    let source = match Location::of(&url) {
        Location::Sqlite(path) => path,
        Location::Postgres { .. } => anyhow::bail!(
            "scholia backup copies SQLite databases; this one is on PostgreSQL, whose own tool \
             takes a consistent copy while the server runs:\n  {}",
            pg_dump_command(&url, &args.file)
        ),
        Location::Unsupported => anyhow::bail!("unsupported database URL {url:?}"),
    };
    let (source, file) = (PathBuf::from(source), args.file.clone());
    let pages = tokio::task::spawn_blocking(move || copy(&source, &file, args.force)).await??;
    println!(
        "backed up {} to {} ({pages} pages)",
        sqlite_path(&url).unwrap_or(&url),
        args.file.display()
    );
    Ok(())
}

/// The `pg_dump` command for `url`. The password is left out (a command line is visible to every
/// user of the machine, and ends up in shell history): pg_dump reads it from `PGPASSWORD` or
/// `~/.pgpass`, or asks.
fn pg_dump_command(url: &str, file: &Path) -> String {
    let mut shown = url.to_owned();
    let mut note = "";
    if let Ok(mut parsed) = url::Url::parse(url)
        && parsed.password().is_some()
    {
        let _ = parsed.set_password(None);
        shown = parsed.to_string();
        note = "\n(the password is left out: give it in PGPASSWORD or ~/.pgpass)";
    }
    format!(
        "pg_dump --format=custom --file='{}' '{shown}'{note}",
        file.display()
    )
}

/// Copies the database at `source` into `dest` (through a temporary file beside it, renamed
/// into place once complete, so `dest` is never a half-written database); returns the number
/// of pages copied.
fn copy(source: &Path, dest: &Path, force: bool) -> anyhow::Result<i32> {
    anyhow::ensure!(
        source.is_file(),
        "no database at {}: nothing to back up",
        source.display()
    );
    if dest.exists() && !force {
        anyhow::bail!(
            "{} exists; give --force to replace it, or choose another name",
            dest.display()
        );
    }
    let dir = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    anyhow::ensure!(dir.is_dir(), "folder {} does not exist", dir.display());
    let name = dest
        .file_name()
        .ok_or_else(|| anyhow::anyhow!("{} names no file", dest.display()))?
        .to_string_lossy();
    let temp = dir.join(format!(".{name}.partial-{}", std::process::id()));
    // A leftover of a run that died under the same pid (with a hot journal SQLite would roll
    // back into the fresh copy) goes first.
    remove_with_sidecars(&temp);
    let result = copy_into(source, &temp).and_then(|pages| {
        std::fs::rename(&temp, dest).map_err(|e| {
            anyhow::anyhow!(
                "cannot rename {} to {}: {e}",
                temp.display(),
                dest.display()
            )
        })?;
        // The rename itself is durable only once the folder is synced.
        std::fs::File::open(&dir).and_then(|d| d.sync_all())?;
        Ok(pages)
    });
    if result.is_err() {
        remove_with_sidecars(&temp);
    }
    result
}

fn copy_into(source: &Path, temp: &Path) -> anyhow::Result<i32> {
    // Read-write without CREATE: a missing file is an error rather than a new empty database,
    // and a WAL database needs write access to its `-shm` file even to be read.
    let src = Connection::open_with_flags(
        source,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| anyhow::anyhow!("cannot open {}: {e}", source.display()))?;
    src.busy_timeout(Duration::from_secs(10))?;
    let mut dst = Connection::open(temp)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", temp.display()))?;
    let pages = {
        let backup = rusqlite::backup::Backup::new(&src, &mut dst)?;
        // All pages in one step: one read transaction, so the copy is the database as of one
        // moment. Copied in smaller steps, every write the server commits in between would make
        // SQLite restart the copy, and a busy server could keep it from ever finishing.
        // (In WAL mode that read transaction does not hold the server's writers back.)
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            match backup.step(-1)? {
                StepResult::Done => break,
                // Another connection holds a lock SQLite's busy handler does not wait for
                // here (a checkpoint restarting the WAL, a schema change): try again shortly.
                _ => {
                    anyhow::ensure!(
                        std::time::Instant::now() < deadline,
                        "the database stayed locked for 60 s; no copy was made"
                    );
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        }
        backup.progress().pagecount
    };
    // The copy is a self-contained file: in rollback-journal mode it has no `-wal` beside it
    // to lose (the server switches it back to WAL when it opens it).
    dst.pragma_update(None, "journal_mode", "DELETE")?;
    let check: String = dst.query_row("PRAGMA quick_check", [], |r| r.get(0))?;
    anyhow::ensure!(
        check == "ok",
        "the copy fails SQLite's quick_check: {check}"
    );
    dst.close().map_err(|(_, e)| e)?;
    std::fs::File::open(temp).and_then(|f| f.sync_all())?;
    Ok(pages)
}

fn remove_with_sidecars(path: &Path) {
    for suffix in ["", "-journal", "-wal", "-shm"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(p);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pg_dump_command_leaves_the_password_out() {
        let cmd = pg_dump_command(
            "postgres://scholia:s3cret@db.example:5432/scholia",
            Path::new("/backups/scholia.dump"),
        );
        assert!(!cmd.contains("s3cret"), "{cmd}");
        assert!(
            cmd.starts_with(
                "pg_dump --format=custom --file='/backups/scholia.dump' \
                 'postgres://scholia@db.example:5432/scholia'"
            ),
            "{cmd}"
        );
        assert!(cmd.contains("PGPASSWORD"));
        let plain = pg_dump_command("postgres://db.example/scholia", Path::new("x.dump"));
        assert_eq!(
            plain,
            "pg_dump --format=custom --file='x.dump' 'postgres://db.example/scholia'"
        );
    }
}
