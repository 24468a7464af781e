//! `scholia backup`: a copy of a running server's SQLite database that holds every annotation
//! committed before the backup began, taken while writes continue.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use reqwest::StatusCode;
use serde_json::json;

use crate::process::{last_line, output, scholia, start};

/// Creates a world-readable annotation; returns its id.
async fn create(http: &reqwest::Client, base: &str, token: &str, text: &str) -> String {
    let r = http
        .post(format!("{base}/api/annotations"))
        .bearer_auth(token)
        .json(&json!({"uri": "https://example.com/backup", "text": text,
                      "permissions": {"read": ["group:__world__"]}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let body: serde_json::Value = r.json().await.unwrap();
    body["id"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_under_writes_holds_everything_committed_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    last_line(scholia(&["user", "add", "alice", "--data-dir", data])).await;
    let token = last_line(scholia(&["token", "create", "alice", "--data-dir", data])).await;
    let server = start(scholia(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        data,
    ]))
    .await;
    // A reader whose snapshot predates the annotations keeps the server's checkpoints from
    // copying them into the database file: they stay in the WAL only, where a copy of the
    // database file would miss them (with checkpoints every 50 ms, it otherwise misses them
    // only by chance).
    let reader = rusqlite::Connection::open(dir.path().join("scholia.db")).unwrap();
    reader.execute_batch("BEGIN").unwrap();
    let none: i64 = reader
        .query_row("SELECT COUNT(*) FROM annotations", [], |r| r.get(0))
        .unwrap();
    assert_eq!(none, 0);
    let http = reqwest::Client::new();
    let mut before = Vec::new();
    for i in 0..30 {
        before.push((
            create(&http, &server.base, &token, &format!("n{i}")).await,
            i,
        ));
    }

    // Writes go on while the backup runs: it must neither wait for them nor stop them.
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (http, base, token, stop) = (
            http.clone(),
            server.base.clone(),
            token.clone(),
            stop.clone(),
        );
        tokio::spawn(async move {
            let mut during = 0;
            while !stop.load(Ordering::Relaxed) {
                create(&http, &base, &token, "during").await;
                during += 1;
            }
            during
        })
    };
    let copy = dir.path().join("copies").join("scholia-copy.db");
    std::fs::create_dir(copy.parent().unwrap()).unwrap();
    let copy_str = copy.to_str().unwrap();
    let done = last_line(scholia(&["backup", copy_str, "--data-dir", data])).await;
    stop.store(true, Ordering::Relaxed);
    let during = writer.await.unwrap();
    assert!(
        done.starts_with("backed up ") && done.contains(copy_str),
        "{done}"
    );
    assert!(during > 0, "no write happened while the backup ran");
    // Only the finished copy is left: no temporary file beside it.
    let names: Vec<_> = std::fs::read_dir(copy.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("scholia-copy.db")]);

    // An existing file is kept unless --force says otherwise.
    let out = output(scholia(&["backup", copy_str, "--data-dir", data])).await;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--force"));
    last_line(scholia(&[
        "backup",
        copy_str,
        "--force",
        "--data-dir",
        data,
    ]))
    .await;
    // Only now may checkpoints copy the annotations into the database file.
    reader.execute_batch("COMMIT").unwrap();
    server.stop().await;

    // A server started on the copy finds every annotation committed before the backup began.
    let url = format!("sqlite://{copy_str}");
    let app = crate::helpers::spawn_on(&url, tempfile::tempdir().unwrap(), |_| {}).await;
    for (id, i) in &before {
        let (status, body) = app.get(&format!("/api/annotations/{id}"), None).await;
        assert_eq!(status, StatusCode::OK, "{id} missing from the copy");
        assert_eq!(body["text"], format!("n{i}"));
    }
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_postgres_database_is_pointed_to_pg_dump_without_its_password() {
    let out = output(scholia(&[
        "backup",
        "/tmp/never-written.dump",
        "--database-url",
        "postgres://scholia:s3cret@db.invalid:5432/annotations",
    ]))
    .await;
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "pg_dump --format=custom --file='/tmp/never-written.dump' \
             'postgres://scholia@db.invalid:5432/annotations'"
        ),
        "{err}"
    );
    assert!(!err.contains("s3cret"), "{err}");
    assert!(!std::path::Path::new("/tmp/never-written.dump").exists());
}
