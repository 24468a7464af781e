//! `scholia migrate`, and the refusal of a database migrated by a newer scholia.

use crate::helpers::{Backend, fresh_database};
use crate::process::{last_line, output, refused, scholia};
use scholia::store::Db;

crate::on_both_engines!(migrate_reports_versions_and_a_newer_schema_is_refused);

async fn migrate_reports_versions_and_a_newer_schema_is_refused(backend: Backend) {
    let (url, _dir) = fresh_database(backend).await;
    let out = output(scholia(&["migrate", "--database-url", &url])).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("schema version before: none (a new database)"),
        "{stdout}"
    );
    let db = Db::connect(&url).await.unwrap();
    let known = db.known_schema_version();
    assert_eq!(
        db.applied_migrations().await.unwrap().last().copied(),
        Some(known)
    );
    assert!(
        stdout.contains(&format!("schema version after: {known} (migrated)")),
        "{stdout}"
    );
    assert_eq!(
        last_line(scholia(&["migrate", "--database-url", &url])).await,
        format!("schema version after: {known} (already up to date)")
    );

    // What a newer scholia leaves behind: a migration this binary does not have.
    let newer = known + 1;
    let insert = "INSERT INTO _sqlx_migrations (version, description, success, checksum, \
                  execution_time) VALUES ($1, 'from the future', TRUE, $2, 1)";
    match &db {
        Db::Sqlite(p) => sqlx::query(insert)
            .bind(newer)
            .bind(vec![0u8; 48])
            .execute(p)
            .await
            .map(|_| ()),
        Db::Postgres(p) => sqlx::query(insert)
            .bind(newer)
            .bind(vec![0u8; 48])
            .execute(p)
            .await
            .map(|_| ()),
    }
    .unwrap();
    db.close().await;

    let both = |stderr: &str| {
        stderr.contains(&format!("schema is at version {newer}"))
            && stderr.contains(&format!("versions up to {known}"))
    };
    let out = output(scholia(&["migrate", "--database-url", &url])).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(both(&stderr), "{stderr}");
    let (ok, stderr) = refused(scholia(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--database-url",
        &url,
    ]))
    .await;
    assert!(!ok);
    assert!(both(&stderr), "{stderr}");
}
