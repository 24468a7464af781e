//! The `scholia` binary itself: admin commands against the database of a running server, and
//! clean shutdown on SIGTERM.

use std::process::{Command, Stdio};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};

const BIN: &str = env!("CARGO_BIN_EXE_scholia");

/// Runs an admin command and returns its last line of output.
fn admin(data_dir: &std::path::Path, args: &[&str]) -> String {
    let out = Command::new(BIN)
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .env_remove("SCHOLIA_DATABASE_URL")
        .output()
        .expect("run scholia");
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .last()
        .unwrap_or_default()
        .to_owned()
}

/// The `total` of a search.
async fn total(http: &reqwest::Client, url: &str) -> i64 {
    let body: serde_json::Value = http.get(url).send().await.unwrap().json().await.unwrap();
    body["total"].as_i64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_commands_work_beside_a_running_server_and_sigterm_stops_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = tokio::process::Command::new(BIN)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--authority",
            "example.org",
            "--data-dir",
        ])
        .arg(dir.path())
        .env("RUST_LOG", "info")
        .env_remove("SCHOLIA_DATABASE_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // The start-up log names the bound address.
    let mut lines = BufReader::new(server.stdout.take().unwrap()).lines();
    let addr = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(rest) = line.split("scholia listening on ").nth(1) {
                return rest.split(':').take(2).collect::<Vec<_>>().join(":");
            }
        }
        panic!("server exited before listening");
    })
    .await
    .expect("server started");
    let base = format!("http://{addr}");
    let http = reqwest::Client::new();

    // The admin commands take the authority the server recorded at its first start.
    assert_eq!(
        admin(
            dir.path(),
            &["user", "add", "alice", "--display-name", "Alice A."]
        ),
        "acct:alice@example.org"
    );
    assert_eq!(
        admin(
            dir.path(),
            &["user", "add", "pat", "--authority", "partner.org"]
        ),
        "acct:pat@partner.org"
    );
    let token = admin(dir.path(), &["token", "create", "alice"]);
    assert!(token.starts_with("6879-") && token.len() == 48, "{token}");
    let pubid = admin(
        dir.path(),
        &[
            "group",
            "create",
            "Admins club",
            "--type",
            "private",
            "--creator",
            "alice",
        ],
    );
    assert_eq!(pubid.len(), 8);
    admin(dir.path(), &["user", "add", "bob"]);
    assert_eq!(
        admin(
            dir.path(),
            &["group", "add-member", &pubid, "bob", "--role", "moderator"]
        ),
        format!("{pubid} acct:bob@example.org moderator")
    );
    let client = admin(
        dir.path(),
        &["authclient", "create", "--authority", "partner.org"],
    );
    assert_eq!(client.split(' ').count(), 2);

    let r = http
        .post(format!("{base}/api/annotations"))
        .bearer_auth(&token)
        .json(&json!({"uri": "https://example.com", "text": "hi", "permissions": {"read": ["group:__world__"]}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let ann: serde_json::Value = r.json().await.unwrap();
    assert_eq!(ann["user_info"]["display_name"], "Alice A.");
    let search = format!("{base}/api/search?uri=https%3A%2F%2Fexample.com");
    assert_eq!(total(&http, &search).await, 1);

    // A password, read from standard input, for the client's login popup.
    let passwd = |password: &'static str| {
        let mut child = Command::new(BIN)
            .args(["user", "passwd", "bob", "--data-dir"])
            .arg(dir.path())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(password.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    let out = passwd("correct horse battery\n");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("acct:bob@example.org password set"));
    let out = passwd("short\n");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least 8 characters"));

    // Checkpoints: an LMS role, a checkpoint on the annotated document, a reveal.
    assert_eq!(
        admin(
            dir.path(),
            &[
                "group",
                "add-member",
                &pubid,
                "bob",
                "--lms-role",
                "instructor"
            ]
        ),
        format!("{pubid} acct:bob@example.org member")
    );
    let checkpoint = admin(
        dir.path(),
        &[
            "group",
            "checkpoint",
            &pubid,
            "https://example.com/",
            "--reveal-at",
            "2030-01-01T00:00:00Z",
        ],
    );
    assert!(checkpoint.parse::<i64>().is_ok(), "{checkpoint}");
    assert_eq!(
        admin(dir.path(), &["group", "reveal", &checkpoint]),
        format!("{checkpoint} now")
    );
    let out = Command::new(BIN)
        .args([
            "group",
            "checkpoint",
            &pubid,
            "https://never-annotated.example",
            "--data-dir",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no annotated document"));

    // A NIPSA from the command line applies to the very next request.
    admin(dir.path(), &["user", "nipsa", "alice"]);
    assert_eq!(total(&http, &search).await, 0);
    admin(dir.path(), &["user", "unnipsa", "alice"]);
    assert_eq!(total(&http, &search).await, 1);

    // Bad admin input fails with a message and a non-zero status.
    let out = Command::new(BIN)
        .args(["user", "add", "alice", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists"));

    let pid = server.id().unwrap().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = tokio::time::timeout(Duration::from_secs(10), server.wait())
        .await
        .expect("exits within 10 s")
        .unwrap();
    assert!(status.success(), "{status}");
}

crate::on_both_engines!(two_processes_creating_a_store_at_once_both_succeed);

/// Two admin commands started at once on a store that does not exist yet both migrate it
/// safely: one applies the migrations, the other waits and finds nothing left to apply (before,
/// on SQLite one failed in most trials with "database is locked" or "table users already
/// exists"; sqlx locks PostgreSQL's migrations itself).
async fn two_processes_creating_a_store_at_once_both_succeed(backend: crate::helpers::Backend) {
    for trial in 0..10 {
        let (url, _dir) = crate::helpers::fresh_database(backend).await;
        let start = |name: &str| {
            tokio::process::Command::new(BIN)
                .args(["--database-url", &url, "user", "add", name])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("run scholia")
        };
        let (a, b) = (start("alice"), start("bobby"));
        for child in [a, b] {
            let out = child.wait_with_output().await.unwrap();
            assert!(
                out.status.success(),
                "trial {trial}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

/// `token create` never replaces a token silently; `user add` takes a full userid; `-v` names
/// the database on standard error, leaving the result the last line of output.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_replaced_only_when_asked_and_userids_are_taken_whole() {
    use crate::process::{last_line, output, scholia};
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let run = |args: &[&str]| {
        let mut cmd = scholia(args);
        cmd.args(["--data-dir", data]);
        cmd
    };
    assert_eq!(
        last_line(run(&["user", "add", "acct:carol@partner.org"])).await,
        "acct:carol@partner.org"
    );
    let first = last_line(run(&["token", "create", "acct:carol@partner.org"])).await;
    let out = output(run(&["token", "create", "acct:carol@partner.org"])).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("already has a developer token"), "{stderr}");
    assert!(stderr.contains("--replace"), "{stderr}");
    let db = scholia::store::Db::connect(&format!("sqlite://{data}/scholia.db"))
        .await
        .unwrap();
    assert!(
        db.lookup_token(&first).await.unwrap().is_some(),
        "still valid"
    );
    let second = last_line(run(&[
        "token",
        "create",
        "acct:carol@partner.org",
        "--replace",
    ]))
    .await;
    assert_ne!(first, second);
    assert!(db.lookup_token(&first).await.unwrap().is_none(), "replaced");
    let user = db.lookup_token(&second).await.unwrap().expect("valid").user;
    assert_eq!(user.userid().to_string(), "acct:carol@partner.org");
    db.close().await;

    for bad in [
        &[
            "user",
            "add",
            "acct:dave@partner.org",
            "--authority",
            "other.org",
        ][..],
        &["user", "add", "acct:dave"],
        &["user", "add", "acct:@partner.org"],
    ] {
        let out = output(run(bad)).await;
        assert!(!out.status.success(), "{bad:?}");
    }

    let out = output(run(&["-v", "user", "add", "erin"])).await;
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let db_file = dir.path().join("scholia.db");
    assert!(
        stderr.contains(&format!("database: SQLite {}", db_file.display())),
        "{stderr}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.trim_end().ends_with("@127.0.0.1"), "{stdout}");
    let out = output(run(&["user", "add", "frank"])).await;
    assert!(!String::from_utf8_lossy(&out.stderr).contains("database:"));
}
