//! Several nodes on one PostgreSQL database, joined by a change feed (`--bus postgres` or a NATS
//! server): every node delivers every change to its own sockets, in seq order. Each test checks
//! what the sockets received against the change log, the oracle. The poll interval is set far
//! beyond the tests' patience unless a test is about polling, so what arrives came by the feed.

use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, fresh_database, postgres_url, spawn_on};
use crate::realtime::{Ws, notification};

/// The NATS server for tests. Missing locally: a notice and the NATS half is skipped; missing
/// under CI: a failure.
fn nats_url() -> Option<String> {
    match std::env::var("SCHOLIA_TEST_NATS_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!(
                "CI=true but SCHOLIA_TEST_NATS_URL is not set: NATS tests cannot be skipped in CI"
            )
        }
        _ => {
            eprintln!(
                "NOTICE: SCHOLIA_TEST_NATS_URL is not set; skipping the NATS run of this test"
            );
            None
        }
    }
}

/// Runs the body once per bus engine, on PostgreSQL (a cluster needs it).
macro_rules! on_both_buses {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn pg_bus() {
                if crate::helpers::postgres_url().is_some() {
                    super::$name("postgres".to_owned()).await;
                }
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn pg_nats_bus() {
                if crate::helpers::postgres_url().is_some()
                    && let Some(url) = super::nats_url()
                {
                    super::$name(url).await;
                }
            }
        }
    )*};
}

on_both_buses!(
    creates_reach_sockets_on_every_node_in_log_order,
    a_join_on_one_node_reaches_the_users_sockets_on_another,
    the_writers_own_client_gets_no_echo_on_another_node,
    a_nipsa_by_an_admin_command_governs_every_node_from_the_next_change
);

/// `n` nodes on one fresh PostgreSQL schema with `bus`, all answering as one public URL (as
/// behind a load balancer), polling the log only every `poll_ms`.
async fn cluster(bus: &str, n: usize, poll_ms: u64) -> Vec<TestApp> {
    let (db_url, _dir) = fresh_database(Backend::Postgres).await;
    let mut nodes = Vec::with_capacity(n);
    for _ in 0..n {
        let dir = tempfile::tempdir().unwrap();
        nodes.push(
            spawn_on(&db_url, dir, |c| {
                c.bus = bus.to_owned();
                c.bus_poll_ms = poll_ms;
                c.public_url = Some("http://cluster.example".into());
            })
            .await,
        );
    }
    nodes
}

/// `(seq, annotation id)` of every create in the change log, in order: the oracle the cluster
/// tests compare what sockets received with.
pub async fn logged_creates(db: &scholia::store::Db) -> Vec<(i64, String)> {
    db.changes_after(0, 10_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|c| c.action == scholia::store::ChangeAction::Create)
        .map(|c| (c.seq, c.annotation_id.unwrap_or_default()))
        .collect()
}

fn seq_and_id(event: &Value) -> (i64, String) {
    let (action, payload) = notification(event);
    assert_eq!(action, "create", "{event}");
    (
        event["seq"].as_i64().unwrap(),
        payload["id"].as_str().unwrap().to_owned(),
    )
}

async fn creates_reach_sockets_on_every_node_in_log_order(bus: String) {
    let nodes = cluster(&bus, 3, 600_000).await;
    let (_, alice) = nodes[0].user("alice").await;
    let (_, bob) = nodes[0].user("bob").await;
    let uri = "https://cluster.example/page";
    let mut sockets: Vec<Ws> = Vec::new();
    for node in &nodes {
        let mut ws = node.ws(Some(&bob)).await;
        ws.subscribe_uri(uri).await;
        sockets.push(ws);
    }
    // Posted round robin over the nodes, as a load balancer would spread them.
    for k in 0..6 {
        nodes[k % 3]
            .shared(&alice, "__world__", uri, &format!("note {k}"))
            .await;
    }
    let oracle = logged_creates(&nodes[0].db).await;
    assert_eq!(oracle.len(), 6);
    for (i, ws) in sockets.iter_mut().enumerate() {
        let mut got = Vec::new();
        for _ in 0..oracle.len() {
            let event = ws.event().await;
            // Two thirds of these were routed from the facts the writer's feed message
            // carried, not read back: each must still read as the HTTP API answers it.
            let (seq, id) = seq_and_id(&event);
            let (status, stored) = nodes[i]
                .get(&format!("/api/annotations/{id}"), Some(&bob))
                .await;
            assert_eq!(status, 200);
            assert_eq!(event["payload"][0], stored, "annotation {id} on node {i}");
            got.push((seq, id));
        }
        assert_eq!(got, oracle, "socket on node {i}");
    }
    for node in nodes {
        node.stop().await.unwrap();
    }
}

async fn a_join_on_one_node_reaches_the_users_sockets_on_another(bus: String) {
    let nodes = cluster(&bus, 3, 600_000).await;
    let (_, alice) = nodes[0].user("alice").await;
    let (_, bob) = nodes[0].user("bob").await;
    let uri = "https://cluster.example/members";
    let mut bobs = nodes[2].ws(Some(&bob)).await;
    bobs.subscribe_uri(uri).await;
    let (status, group) = nodes[0]
        .post(
            "/api/groups",
            Some(&alice),
            &json!({"name": "Readers", "type": "private"}),
        )
        .await;
    assert!(status.is_success(), "{group}");
    let pubid = group["id"].as_str().unwrap();
    // Before bob joins, the group's annotations are not his to see, on any node.
    nodes[0]
        .shared(&alice, pubid, uri, "members only, before")
        .await;
    let (status, body) = nodes[1]
        .post(
            &format!("/api/groups/{pubid}/members/acct:bob@example.com"),
            Some(&alice),
            &json!({}),
        )
        .await;
    assert!(status.is_success(), "{body}");
    let event = bobs.event().await;
    assert_eq!(event["type"], "session-change", "{event}");
    assert_eq!(event["action"], "group-join", "{event}");
    let groups: Vec<&str> = event["model"]["groups"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|g| g["id"].as_str())
        .collect();
    assert!(groups.contains(&pubid), "{event}");
    let joined = nodes[0]
        .db
        .changes_after(0, 100)
        .await
        .unwrap()
        .into_iter()
        .rfind(|c| c.action == scholia::store::ChangeAction::GroupJoin)
        .unwrap();
    assert_eq!(event["seq"].as_i64(), Some(joined.seq));
    // The membership made through node 1 governs delivery on node 2 from the next change: the
    // next event bob gets is the one written after he joined (the earlier one never came).
    let after = nodes[0]
        .shared(&alice, pubid, uri, "members only, after")
        .await;
    let event = bobs.event().await;
    assert_eq!(notification(&event).1["id"], after["id"], "{event}");
    for node in nodes {
        node.stop().await.unwrap();
    }
}

/// A bus that cannot be reached leaves the cluster correct through polling, and says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_a_bus_that_is_down_degrades_to_polling() {
    if postgres_url().is_none() {
        return;
    }
    // Nothing listens on port 1: the NATS client keeps trying in the background.
    let nodes = cluster("nats://127.0.0.1:1", 2, 100).await;
    let (_, alice) = nodes[0].user("alice").await;
    let uri = "https://cluster.example/down";
    let mut ws = nodes[1].ws(None).await;
    ws.subscribe_uri(uri).await;
    nodes[0]
        .shared(&alice, "__world__", uri, "still here")
        .await;
    let oracle = logged_creates(&nodes[0].db).await;
    assert_eq!(vec![seq_and_id(&ws.event().await)], oracle);
    let (_, status) = nodes[1].get("/_status", None).await;
    assert_eq!(status["bus"], "nats", "{status}");
    assert_ne!(status["bus_state"], "up", "{status}");
    for node in nodes {
        node.stop().await.unwrap();
    }
}

/// Several nodes never share a SQLite file: asking for a bus there is refused at start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bus_on_sqlite_is_refused_with_a_reason() {
    let (db_url, dir) = fresh_database(Backend::Sqlite).await;
    let db = scholia::store::Db::connect(&db_url).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let config = scholia::Config {
        database_url: Some(db_url),
        data_dir: dir.path().to_path_buf(),
        bus: "postgres".into(),
        ..scholia::Config::default()
    };
    let err = scholia::run(listener, config, db, Default::default())
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("PostgreSQL"), "{err}");
}

/// Echo suppression compares the writer's `X-Client-Id` with the socket's `client_id`, whichever
/// nodes the write and the socket are on.
async fn the_writers_own_client_gets_no_echo_on_another_node(bus: String) {
    let nodes = cluster(&bus, 3, 600_000).await;
    let (_, alice) = nodes[0].user("alice").await;
    let uri = "https://cluster.example/echo";
    let mut sidebar = nodes[2].ws(Some(&alice)).await;
    sidebar
        .apply(&json!({"messageType": "client_id", "value": "sidebar-a"}))
        .await;
    sidebar.subscribe_uri(uri).await;
    let body = json!({"uri": uri, "text": "mine", "permissions": {"read": ["group:__world__"]}});
    let r = nodes[0]
        .req(reqwest::Method::POST, "/api/annotations", Some(&alice))
        .header("X-Client-Id", "sidebar-a")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    // The next write, from no client, is the first event the sidebar gets: no echo came first.
    let other = nodes[1]
        .shared(&alice, "__world__", uri, "from elsewhere")
        .await;
    let event = sidebar.event().await;
    assert_eq!(notification(&event).1["id"], other["id"], "{event}");
    for node in nodes {
        node.stop().await.unwrap();
    }
}

/// A NIPSA set by an admin command (another process: nothing announced) reaches every node
/// through the log, before the next change routed there.
async fn a_nipsa_by_an_admin_command_governs_every_node_from_the_next_change(bus: String) {
    let nodes = cluster(&bus, 2, 600_000).await;
    let (_, alice) = nodes[0].user("alice").await;
    let (_, carol) = nodes[0].user("carol").await;
    let (_, bob) = nodes[0].user("bob").await;
    let uri = "https://cluster.example/nipsa";
    let mut bobs = nodes[1].ws(Some(&bob)).await;
    bobs.subscribe_uri(uri).await;
    let first = nodes[0].shared(&alice, "__world__", uri, "before").await;
    let event = bobs.event().await;
    assert_eq!(notification(&event).1["id"], first["id"], "{event}");
    nodes[0]
        .db
        .set_nipsa("acct:alice@example.com", true)
        .await
        .unwrap();
    nodes[0].shared(&alice, "__world__", uri, "hidden").await;
    let visible = nodes[0].shared(&carol, "__world__", uri, "after").await;
    let event = bobs.event().await;
    assert_eq!(notification(&event).1["id"], visible["id"], "{event}");
    for node in nodes {
        node.stop().await.unwrap();
    }
}
