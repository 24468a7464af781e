//! What `scholia serve` says at start, and the mistakes it refuses or warns about: each one a
//! real process, its exit status and what it printed.

use std::time::{Duration, Instant};

use crate::process::{refused, scholia, start};

/// `scholia serve` on port 0 in `dir`, with `args` after it.
fn serve_in(dir: &std::path::Path, args: &[&str]) -> tokio::process::Command {
    let mut cmd = scholia(&["serve", "--listen", "127.0.0.1:0"]);
    cmd.args(args).current_dir(dir);
    cmd
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_data_dir_is_created_named_and_its_authority_kept() {
    let dir = tempfile::tempdir().unwrap();
    let mut first = serve_in(dir.path(), &[]);
    first
        .env("SCHOLIA_LISTN", "0.0.0.0:5000")
        .env("SCHOLIA_TEST_WHATEVER", "1");
    let server = start(first).await;
    let db = dir.path().join("scholia-data").join("scholia.db");
    assert!(db.is_file());
    let line = server.logged_before("data: SQLite").expect("the data line");
    assert!(
        line.contains(&format!("data: SQLite {}, schema version ", db.display())),
        "{line}"
    );
    let warned = server.logged_before("SCHOLIA_LISTN").expect("a warning");
    assert!(
        warned.contains("WARN") && warned.contains("names no setting"),
        "{warned}"
    );
    assert!(server.logged_before("SCHOLIA_TEST_WHATEVER").is_none());
    server.stop().await;

    // The first start recorded 127.0.0.1 (the host of the default public URL); a public URL
    // with another host would silently give every user a new userid.
    let (ok, stderr) = refused(serve_in(
        dir.path(),
        &["--public-url", "https://annotations.example.org"],
    ))
    .await;
    assert!(!ok);
    assert!(
        stderr.contains("default authority is 127.0.0.1"),
        "{stderr}"
    );
    assert!(
        stderr.contains("`scholia serve --authority 127.0.0.1`"),
        "{stderr}"
    );
    // Which is the way to start it.
    let server = start(serve_in(
        dir.path(),
        &[
            "--public-url",
            "https://annotations.example.org",
            "--authority",
            "127.0.0.1",
        ],
    ))
    .await;
    assert!(server.logged_before("default authority").is_none());
    server.stop().await;

    // Every interface and no public URL: a warning (here with the kept authority given).
    let mut everywhere = scholia(&["serve", "--listen", "0.0.0.0:0", "--authority", "127.0.0.1"]);
    everywhere.current_dir(dir.path());
    let server = start(everywhere).await;
    let warned = server.logged_before("every interface").expect("a warning");
    assert!(warned.contains("--public-url"), "{warned}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mistakes_in_the_configuration_stop_the_server_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let path = |p: &str| dir.path().join(p).display().to_string();

    let empty = tempfile::tempdir().unwrap();
    let (ok, stderr) = refused(serve_in(
        dir.path(),
        &["--client-assets", empty.path().to_str().unwrap()],
    ))
    .await;
    assert!(!ok);
    assert!(stderr.contains("boot-template.js"), "{stderr}");

    let mut xml = serve_in(dir.path(), &[]);
    xml.env("SCHOLIA_LOG_FORMAT", "xml");
    let (ok, stderr) = refused(xml).await;
    assert!(!ok);
    assert!(stderr.contains("is not one of: text, json"), "{stderr}");

    // A folder that does not exist: no new, empty database there.
    let missing = format!("sqlite://{}", path("nowhere/scholia.db"));
    let (ok, stderr) = refused(serve_in(dir.path(), &["--database-url", &missing])).await;
    assert!(!ok);
    assert!(stderr.contains("does not exist"), "{stderr}");
    let (ok, stderr) = refused(serve_in(dir.path(), &["--data-dir", &path("a/b")])).await;
    assert!(!ok);
    assert!(stderr.contains("does not exist"), "{stderr}");
    assert!(!dir.path().join("nowhere").exists() && !dir.path().join("a").exists());

    // Nothing listens on port 1: refused at once, naming where and why.
    let began = Instant::now();
    let unreachable = "postgres://scholia:s3cret@127.0.0.1:1/annotations";
    let (ok, stderr) = refused(serve_in(dir.path(), &["--database-url", unreachable])).await;
    assert!(!ok);
    assert!(
        began.elapsed() < Duration::from_secs(5),
        "{:?}",
        began.elapsed()
    );
    assert!(
        stderr.contains("PostgreSQL database annotations on 127.0.0.1:1"),
        "{stderr}"
    );
    assert!(stderr.contains("refused"), "{stderr}");
    assert!(!stderr.contains("s3cret"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_listen_moves_metrics_to_a_listener_of_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = start(serve_in(dir.path(), &["--metrics-listen", "127.0.0.1:0"])).await;
    let line = server.line_with("metrics listening on ").await;
    let at: String = line
        .split("metrics listening on ")
        .nth(1)
        .unwrap()
        .chars()
        .take_while(|c| !c.is_whitespace())
        .collect();
    let metrics = format!("http://{}", at.trim_end_matches(':'));
    let http = reqwest::Client::new();
    let r = http.get(format!("{metrics}/metrics")).send().await.unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::OK);
    assert!(r.text().await.unwrap().contains("scholia_"));
    // Only /metrics there, and no longer on the main listener.
    let r = http.get(format!("{metrics}/api/")).send().await.unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::NOT_FOUND);
    let r = http
        .get(format!("{}/metrics", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::NOT_FOUND);
    let r = http
        .get(format!("{}/api/", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::OK);
    server.stop().await;
}
