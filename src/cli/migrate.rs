//! `scholia migrate`: brings the database's schema up to this binary's, saying the version before
//! and after. `serve` does the same at start; this lets an upgrade migrate first, on its own
//! (before starting several nodes, say), and see what it did.

use crate::config::Config;
use crate::store::Db;
use crate::store::location::Location;

pub async fn run(config: &Config) -> anyhow::Result<()> {
    let url = config.database_url();
    println!("database: {}", Location::of(&url).describe());
    let (db, versions) = Db::connect_migrating(&url).await?;
    match versions.before {
        Some(v) => println!("schema version before: {v}"),
        None => println!("schema version before: none (a new database)"),
    }
    let note = match versions.before == Some(versions.after) {
        true => "already up to date",
        false => "migrated",
    };
    db.close().await;
    println!("schema version after: {} ({note})", versions.after);
    Ok(())
}
