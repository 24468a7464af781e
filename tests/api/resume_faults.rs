//! Resume across a kill -9 (issue 16): a real `scholia serve` process is killed while one client
//! is behind, restarted on the same data, and changes are written before the clients come back.
//! A WebSocket client that names its last seq, an event stream that names its Last-Event-ID, and
//! the official client's kind that only names its client id, each get every change it missed,
//! in log order; the change log is the oracle.

use serde_json::{Value, json};

use scholia::store::Db;

use crate::cluster::logged_creates;
use crate::cluster_faults::{Node, received, token};
use crate::helpers::{Backend, fresh_database};
use crate::realtime::resume::wait_for_cursor;
use crate::realtime::sse::SseClient;
use crate::realtime::{Ws, filter, ws_at};

const URI: &str = "https://faults.example/page";
/// The official-style client's id (32 hex digits, as the sidebar makes them).
const CLIENT_ID: &str = "0123456789abcdef0123456789abcdef";
/// Cursors written every 20 ms, so the test need not wait long for one.
const ENV: [(&str, &str); 1] = [("SCHOLIA_WS_CURSOR_FLUSH_MS", "20")];

fn page_filter(since: Option<i64>) -> Value {
    let mut f = filter(json!([{"field": "/uri", "operator": "one_of", "value": [URI]}]));
    if let Some(s) = since {
        f["since"] = json!(s);
    }
    f
}

async fn official_client(node: &Node, token: &str) -> Ws {
    let mut ws = ws_at(&format!("{}?access_token={token}", node.ws_url())).await;
    ws.apply(&json!({"messageType": "client_id", "value": CLIENT_ID}))
        .await;
    ws
}

crate::on_both_engines!(clients_resume_what_they_missed_across_a_kill_9);

async fn clients_resume_what_they_missed_across_a_kill_9(backend: Backend) {
    let (db_url, _dir) = fresh_database(backend).await;
    let mut node = Node::start_with(&db_url, "local", 250, &ENV).await;
    let db = Db::connect(&db_url).await.unwrap();
    let alice = token(&db, "alice").await;
    let http = reqwest::Client::new();

    let mut seqful = ws_at(&node.ws_url()).await;
    seqful.apply(&page_filter(None)).await;
    let mut plain = official_client(&node, &alice).await;
    plain.apply(&page_filter(None)).await;
    let query = format!(
        "uri={}",
        url::form_urlencoded::byte_serialize(URI.as_bytes()).collect::<String>()
    );
    let mut events = SseClient::open(&node.base, &query, None, None).await;
    for k in 0..10 {
        assert!(node.post(&http, &alice, &format!("before {k}")).await);
    }
    // The official client reads everything and its cursor reaches the last one; the other
    // client has read only four when the server dies.
    let plain_seen = received(&mut plain, 10).await;
    let last = plain_seen[9].0;
    wait_for_cursor(&db, CLIENT_ID, "acct:alice@example.com", last).await;
    let seqful_seen = received(&mut seqful, 4).await;
    let mut events_seen = Vec::new();
    for _ in 0..6 {
        let (action, id, seq) = events.annotation().await;
        assert_eq!(action, "create");
        events_seen.push((seq, id));
    }
    node.kill().await;

    // Back on the same data; five more changes before either client has reconnected.
    let node = Node::start_with(&db_url, "local", 250, &ENV).await;
    for k in 0..5 {
        assert!(node.post(&http, &alice, &format!("after {k}")).await);
    }
    let oracle = logged_creates(&db).await;
    assert_eq!(oracle.len(), 15);
    assert_eq!(seqful_seen, oracle[..4]);
    assert_eq!(plain_seen, oracle[..10]);

    // The client that knows seq resumes from the last one it handled.
    let mut seqful = ws_at(&node.ws_url()).await;
    seqful.send_json(&page_filter(Some(seqful_seen[3].0))).await;
    assert_eq!(received(&mut seqful, 11).await, oracle[4..]);
    let resumed = seqful.json().await;
    assert_eq!(
        resumed,
        json!({"type": "resumed", "since": seqful_seen[3].0, "seq": oracle[14].0, "recovered": true})
    );

    // The event stream resumes from its Last-Event-ID.
    assert_eq!(events_seen, oracle[..6]);
    let mut events = SseClient::open(&node.base, &query, None, Some(events_seen[5].0)).await;
    let mut replayed = Vec::new();
    for _ in 0..9 {
        let (action, id, seq) = events.annotation().await;
        assert_eq!(action, "create");
        replayed.push((seq, id));
    }
    assert_eq!(replayed, oracle[6..]);
    let resumed = events.next().await;
    assert_eq!(
        (resumed.event.as_str(), &resumed.data["recovered"]),
        ("resumed", &json!(true))
    );

    // The official client's order after a reconnect: client_id, then its filter. It gets what
    // it missed, silently, and nothing else.
    let mut plain = official_client(&node, &alice).await;
    plain.send_json(&page_filter(None)).await;
    assert_eq!(received(&mut plain, 5).await, oracle[10..]);
    plain.assert_quiet().await;
    seqful.assert_quiet().await;
}

/// On a cluster (two nodes, one PostgreSQL, the NOTIFY bus): both kinds of client resume on the
/// other node after theirs was killed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_clients_resume_on_another_node_after_theirs_was_killed() {
    if crate::helpers::postgres_url().is_none() {
        return;
    }
    let (db_url, _dir) = fresh_database(Backend::Postgres).await;
    let mut doomed = Node::start_with(&db_url, "postgres", 250, &ENV).await;
    let survivor = Node::start_with(&db_url, "postgres", 250, &ENV).await;
    let db = Db::connect(&db_url).await.unwrap();
    let alice = token(&db, "alice").await;
    let http = reqwest::Client::new();

    let mut seqful = ws_at(&doomed.ws_url()).await;
    seqful.apply(&page_filter(None)).await;
    let mut plain = official_client(&doomed, &alice).await;
    plain.apply(&page_filter(None)).await;
    for k in 0..6 {
        assert!(survivor.post(&http, &alice, &format!("before {k}")).await);
    }
    let plain_seen = received(&mut plain, 6).await;
    let seqful_seen = received(&mut seqful, 2).await;
    wait_for_cursor(&db, CLIENT_ID, "acct:alice@example.com", plain_seen[5].0).await;
    doomed.kill().await;
    for k in 0..3 {
        assert!(survivor.post(&http, &alice, &format!("after {k}")).await);
    }
    let oracle = logged_creates(&db).await;
    assert_eq!(oracle.len(), 9);

    let mut seqful = ws_at(&survivor.ws_url()).await;
    seqful.send_json(&page_filter(Some(seqful_seen[1].0))).await;
    assert_eq!(received(&mut seqful, 7).await, oracle[2..]);
    assert_eq!(seqful.json().await["recovered"], true);
    let mut plain = official_client(&survivor, &alice).await;
    plain.send_json(&page_filter(None)).await;
    assert_eq!(received(&mut plain, 3).await, oracle[6..]);
    plain.assert_quiet().await;
}
