//! Webhooks (issue 16): created over HTTP and from the command line, delivered in seq order at
//! least once from a durable cursor, signed as Standard Webhooks says, retried while the
//! receiver fails, disabled when it fails for too long, resumed after a kill -9. The change log
//! is the oracle.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};
use tokio::net::TcpListener;

use scholia::domain::webhook::sign;
use scholia::store::{ChangeAction, Db};

use crate::cluster_faults::{Node, token};
use crate::helpers::{Backend, TestApp, fresh_database, spawn_app_with};

const URI: &str = "https://hooks.example/page";

/// One request the receiver got.
#[derive(Clone, Debug)]
pub struct Got {
    pub id: String,
    pub timestamp: i64,
    pub signature: String,
    pub body: String,
    /// The status the receiver answered.
    pub answered: u16,
}

/// A webhook receiver on 127.0.0.1 that answers 500 to its first `fail_first` requests (all of
/// them with `u32::MAX`), then 200, and keeps every request.
pub struct Receiver {
    pub url: String,
    pub got: Arc<Mutex<Vec<Got>>>,
}

impl Receiver {
    pub async fn start(fail_first: u32) -> Receiver {
        let got: Arc<Mutex<Vec<Got>>> = Arc::default();
        let seen = got.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: String| {
                let seen = seen.clone();
                async move {
                    let h = |n: &str| {
                        headers
                            .get(n)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("")
                            .to_owned()
                    };
                    let mut seen = seen.lock().unwrap();
                    let status = match (seen.len() as u64) < u64::from(fail_first) {
                        true => StatusCode::INTERNAL_SERVER_ERROR,
                        false => StatusCode::OK,
                    };
                    seen.push(Got {
                        id: h("webhook-id"),
                        timestamp: h("webhook-timestamp").parse().unwrap_or(0),
                        signature: h("webhook-signature"),
                        body,
                        answered: status.as_u16(),
                    });
                    status
                }
            }),
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Receiver { url, got }
    }

    /// The accepted deliveries, once there are `n` (10 s at most).
    pub async fn accepted(&self, n: usize) -> Vec<Got> {
        for _ in 0..500 {
            let ok: Vec<Got> = self
                .got
                .lock()
                .unwrap()
                .iter()
                .filter(|g| g.answered == 200)
                .cloned()
                .collect();
            if ok.len() >= n {
                return ok;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!(
            "the receiver never accepted {n} deliveries: {:?}",
            self.got.lock().unwrap()
        );
    }
}

/// (seq, action, annotation id) of a delivery, its signature checked.
fn event_of(g: &Got, secret: &str) -> (i64, String, String) {
    assert_eq!(
        sign(secret, &g.id, g.timestamp, &g.body).unwrap(),
        g.signature,
        "{g:?}"
    );
    let v: Value = serde_json::from_str(&g.body).unwrap();
    assert_eq!(v["type"], "annotation-notification");
    let seq = v["seq"].as_i64().unwrap();
    assert!(
        g.id.ends_with(&format!("_{seq}")),
        "webhook-id {} names its seq",
        g.id
    );
    (
        seq,
        v["options"]["action"].as_str().unwrap().to_owned(),
        v["payload"][0]["id"].as_str().unwrap().to_owned(),
    )
}

async fn hook_for(app: &TestApp, token: &str, url: &str) -> Value {
    let (status, hook) = app
        .post(
            "/api/webhooks",
            Some(token),
            &json!({"url": url, "uri": URI}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{hook}");
    assert!(hook["secret"].as_str().unwrap().starts_with("whsec_"));
    hook
}

crate::on_both_engines!(a_receiver_that_fails_for_a_while_gets_every_change_in_order);

async fn a_receiver_that_fails_for_a_while_gets_every_change_in_order(backend: Backend) {
    let app = spawn_app_with(backend, |c| {
        c.webhook_allow_private = true;
        c.webhook_retry_base_ms = 20;
    })
    .await;
    let (_, alice) = app.user("alice").await;
    let (bob_user, bob) = app.user("bob").await;
    let receiver = Receiver::start(3).await;
    let hook = hook_for(&app, &alice, &receiver.url).await;
    let secret = hook["secret"].as_str().unwrap();
    let from = hook["cursor"].as_i64().unwrap();

    let mut mine = Vec::new();
    for n in 0..4 {
        mine.push(
            app.shared(&bob, "__world__", URI, &format!("n{n}")).await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    app.shared(
        &bob,
        "__world__",
        "https://elsewhere.example/",
        "not followed",
    )
    .await;
    app.annotate(
        &bob,
        json!({"uri": URI, "text": "private", "group": "__world__",
        "permissions": {"read": [bob_user.userid().to_string()]}}),
    )
    .await;
    assert_eq!(
        app.patch(
            &format!("/api/annotations/{}", mine[0]),
            Some(&bob),
            &json!({"text": "n0 edited"})
        )
        .await
        .0,
        StatusCode::OK
    );
    assert_eq!(
        app.delete(&format!("/api/annotations/{}", mine[1]), Some(&bob))
            .await
            .0,
        StatusCode::OK
    );

    // The oracle: the log's changes of the followed annotations, in order, but for the create of
    // the one deleted since, which its delete stands for (decided as things are now).
    let expected: Vec<(i64, String, String)> = app
        .db
        .changes_after(from, 1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|c| c.annotation_id.as_ref().is_some_and(|a| mine.contains(a)))
        .filter(|c| {
            c.annotation_id.as_deref() != Some(&mine[1]) || c.action == ChangeAction::Delete
        })
        .map(|c| {
            let action = match c.action {
                ChangeAction::Create => "create",
                ChangeAction::Update => "update",
                _ => "delete",
            };
            (c.seq, action.to_owned(), c.annotation_id.unwrap())
        })
        .collect();
    assert_eq!(expected.len(), 5);
    let accepted = receiver.accepted(5).await;
    let got: Vec<_> = accepted.iter().map(|g| event_of(g, secret)).collect();
    assert_eq!(got, expected);
    // The first change was refused three times: every try carried the same id.
    let all = receiver.got.lock().unwrap().clone();
    assert_eq!(all.len(), 8, "{all:?}");
    assert!(all[..4].iter().all(|g| g.id == all[0].id));

    // Listed as its owner's, healthy again, its cursor past the last change.
    let (_, list) = app.get("/api/webhooks", Some(&alice)).await;
    assert_eq!(list[0]["id"], hook["id"]);
    assert_eq!(list[0]["status"], "ok");
    assert_eq!(list[0]["delivered"], 5);
    assert!(list[0].get("secret").is_none());
    for _ in 0..500 {
        let (_, list) = app.get("/api/webhooks", Some(&alice)).await;
        if list[0]["cursor"].as_i64() == Some(app.db.last_seq().await.unwrap()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the cursor never passed the changes the hook does not follow");
}

crate::on_both_engines!(webhooks_are_checked_owned_and_disabled_when_they_keep_failing);

async fn webhooks_are_checked_owned_and_disabled_when_they_keep_failing(backend: Backend) {
    let app = spawn_app_with(backend, |c| {
        c.webhook_retry_base_ms = 20;
        c.webhook_disable_after_secs = 1;
    })
    .await;
    let (_, alice) = app.user("alice").await;
    let post = |token: Option<&str>, body: Value| {
        let app = &app;
        let token = token.map(str::to_owned);
        async move { app.post("/api/webhooks", token.as_deref(), &body).await }
    };
    assert_eq!(
        post(None, json!({"url": "https://a.example/", "uri": URI}))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    for (body, reason) in [
        (json!({"uri": URI}), "url"),
        (json!({"url": "ftp://a.example/", "uri": URI}), "http"),
        (json!({"url": "https://a.example/"}), "at least one"),
        (json!({"url": "https://a.example/", "uri": 7}), "string"),
        (
            json!({"url": "https://a.example/", "uri": URI, "colour": "red"}),
            "unknown field",
        ),
        (
            json!({"url": "http://127.0.0.1:9/", "uri": URI}),
            "webhook-allow-private",
        ),
    ] {
        let (status, err) = post(Some(&alice), body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(
            err["reason"].as_str().unwrap().contains(reason),
            "{body}: {err}"
        );
    }
    // A public target that refuses everything (TEST-NET-1 never answers): retried, then
    // disabled with the reason.
    let (status, hook) = post(
        Some(&alice),
        json!({"url": "http://192.0.2.1:9/", "uri": URI}),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "documentation space is not public: {hook}"
    );
    let receiver = Receiver::start(u32::MAX).await;
    let allowed = spawn_app_with(backend, |c| {
        c.webhook_allow_private = true;
        c.webhook_retry_base_ms = 20;
        c.webhook_disable_after_secs = 1;
    })
    .await;
    let (_, carol) = allowed.user("carol").await;
    let (_, dave) = allowed.user("dave").await;
    let hook = hook_for(&allowed, &carol, &receiver.url).await;
    allowed.shared(&carol, "__world__", URI, "refused").await;
    let mut state = Value::Null;
    for _ in 0..500 {
        let (_, list) = allowed.get("/api/webhooks", Some(&carol)).await;
        state = list[0].clone();
        if state["status"] == "disabled" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(state["status"], "disabled", "{state}");
    assert!(
        state["disabled_reason"]
            .as_str()
            .unwrap()
            .contains("HTTP 500"),
        "{state}"
    );
    assert_eq!(state["cursor"], hook["cursor"], "nothing was delivered");

    // Only the owner lists and removes a hook.
    let (_, theirs) = allowed.get("/api/webhooks", Some(&dave)).await;
    assert_eq!(theirs, json!([]));
    let path = format!("/api/webhooks/{}", hook["id"].as_str().unwrap());
    assert_eq!(
        allowed.delete(&path, Some(&dave)).await.0,
        StatusCode::NOT_FOUND
    );
    let (status, gone) = allowed.delete(&path, Some(&carol)).await;
    assert_eq!(
        (status, gone["deleted"].clone()),
        (StatusCode::OK, json!(true))
    );
}

crate::on_both_engines!(a_webhook_resumes_from_its_cursor_after_a_kill_9);

async fn a_webhook_resumes_from_its_cursor_after_a_kill_9(backend: Backend) {
    let (db_url, _dir) = fresh_database(backend).await;
    let env = [
        ("SCHOLIA_WEBHOOK_ALLOW_PRIVATE", "true"),
        ("SCHOLIA_WEBHOOK_RETRY_BASE_MS", "20"),
    ];
    let mut node = Node::start_with(&db_url, "local", 250, &env).await;
    let db = Db::connect(&db_url).await.unwrap();
    let alice = token(&db, "alice").await;
    let http = reqwest::Client::new();
    let receiver = Receiver::start(0).await;
    let hook: Value = http
        .post(format!("{}/api/webhooks", node.base))
        .bearer_auth(&alice)
        .json(&json!({"url": receiver.url, "uri": "https://faults.example/page"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let secret = hook["secret"].as_str().unwrap().to_owned();
    for k in 0..10 {
        assert!(node.post(&http, &alice, &format!("before {k}")).await);
    }
    receiver.accepted(3).await;
    node.kill().await;
    let node = Node::start_with(&db_url, "local", 250, &env).await;
    for k in 0..5 {
        assert!(node.post(&http, &alice, &format!("after {k}")).await);
    }
    let oracle = crate::cluster::logged_creates(&db).await;
    assert_eq!(oracle.len(), 15);
    // At least once: a delivery in flight at the kill may come twice; the ids tell.
    let mut seen = std::collections::BTreeMap::new();
    for _ in 0..500 {
        for g in receiver.accepted(0).await {
            let (seq, action, id) = event_of(&g, &secret);
            assert_eq!(action, "create");
            seen.insert(seq, id);
        }
        if seen.len() >= 15 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let got: Vec<(i64, String)> = seen.into_iter().collect();
    assert_eq!(got, oracle);
    // And in order: every delivery's seq is above the one before, but for a repeat.
    let seqs: Vec<i64> = receiver
        .accepted(0)
        .await
        .iter()
        .map(|g| event_of(g, &secret).0)
        .collect();
    assert!(seqs.windows(2).all(|w| w[1] >= w[0]), "{seqs:?}");
}

/// Runs `scholia` with `args` on the store in `dir`: (success, stdout, stderr).
fn cli(dir: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_scholia"))
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .env_remove("SCHOLIA_DATABASE_URL")
        .env_remove("SCHOLIA_WEBHOOK_ALLOW_PRIVATE")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_webhook_commands_add_list_and_remove() {
    let dir = tempfile::tempdir().unwrap();
    assert!(cli(dir.path(), &["user", "add", "alice"]).0);
    let (ok, out, err) = cli(
        dir.path(),
        &[
            "webhook",
            "add",
            "--url",
            "https://hooks.example.com/in",
            "--user",
            "alice",
            "--uri",
            "https://a.example/",
            "--group",
            "__world__",
        ],
    );
    assert!(ok, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    let (id, secret) = (lines[0], lines[1]);
    assert!(
        id.starts_with("wh_") && secret.starts_with("whsec_"),
        "{out}"
    );
    let (_, list, _) = cli(dir.path(), &["webhook", "list"]);
    assert!(
        list.contains(id) && list.contains("https://hooks.example.com/in") && list.contains("\tok"),
        "{list}"
    );
    assert!(!list.contains(secret), "the secret is shown only once");
    // A private target is refused with the reason; allowed with the flag.
    let (ok, _, err) = cli(
        dir.path(),
        &[
            "webhook",
            "add",
            "--url",
            "http://10.0.0.7/",
            "--user",
            "alice",
            "--uri",
            "x",
        ],
    );
    assert!(!ok && err.contains("--webhook-allow-private"), "{err}");
    let (ok, _, err) = cli(
        dir.path(),
        &[
            "webhook",
            "add",
            "--url",
            "http://10.0.0.7/",
            "--user",
            "alice",
            "--uri",
            "x",
            "--allow-private",
        ],
    );
    assert!(ok, "{err}");
    let (ok, _, err) = cli(
        dir.path(),
        &[
            "webhook",
            "add",
            "--url",
            "https://h.example/",
            "--user",
            "nobody",
            "--uri",
            "x",
        ],
    );
    assert!(!ok && err.contains("no user"), "{err}");
    let (ok, out, _) = cli(dir.path(), &["webhook", "remove", id]);
    assert!(ok && out.contains(id));
    let (ok, _, err) = cli(dir.path(), &["webhook", "remove", id]);
    assert!(!ok && err.contains("no webhook"), "{err}");
}
