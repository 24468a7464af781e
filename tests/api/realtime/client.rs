//! The official Hypothesis client's conversation (hypothesis-client.md §2.4–2.7), replayed
//! message for message, with each reaction the client depends on checked.

use reqwest::Method;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use super::{Probe, Ws, assert_no_event};
use crate::helpers::{Backend, TestApp, spawn_app};

const PAGE: &str = "https://example.com/article";
const CLIENT_ID: &str = "3f8a9c0d1e2b4a5f6c7d8e9f0a1b2c3d";

fn client_id_msg() -> Value {
    json!({"messageType": "client_id", "value": CLIENT_ID})
}

fn whoami_msg() -> Value {
    json!({"type": "whoami", "id": 1})
}

/// The sidebar's filter: every search URI of the page, `/uri` `one_of`.
fn sidebar_filter(uris: &[&str]) -> Value {
    json!({"filter": {"match_policy": "include_any", "clauses": [{"field": "/uri", "operator": "one_of", "value": uris, "case_sensitive": false}], "actions": {"create": true, "update": true, "delete": true}}})
}

/// The client's `annotation-notification` handler throws without `options` or with a
/// non-array `payload`; check both on every event it gets.
fn as_client_reads(ev: &Value) -> (&str, &Vec<Value>) {
    assert_eq!(ev["type"], "annotation-notification");
    let action = ev["options"]["action"].as_str().expect("options.action");
    (
        action,
        ev["payload"].as_array().expect("payload is an array"),
    )
}

/// Connects as the sidebar does: `?access_token=`, then the three config messages in `order`.
/// The only reply is `whoyouare`, whose userid the client compares with its profile.
async fn sidebar(app: &TestApp, token: &str, order: [&Value; 3]) -> Ws {
    let mut ws = app.ws(Some(token)).await;
    for m in order {
        ws.send_json(m).await;
    }
    let reply = ws.json().await;
    assert_eq!(
        reply,
        json!({"type": "whoyouare", "userid": "acct:alice@example.com", "ok": true, "reply_to": 1})
    );
    ws.assert_quiet().await;
    ws
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sidebar_conversation() {
    let app = spawn_app(Backend::Sqlite).await;
    let (_, alice_t) = app.user("alice").await;
    let (_, bob_t) = app.user("bob").await;
    let mut probe = Probe::new(&app).await;
    let filter = sidebar_filter(&[PAGE, super::MARKER_URI]);
    let (client_id, whoami) = (client_id_msg(), whoami_msg());
    // The client sends its config messages in either order; both must work.
    let mut alice = sidebar(&app, &alice_t, [&client_id, &whoami, &filter]).await;
    let mut alice_reloaded = sidebar(&app, &alice_t, [&filter, &client_id, &whoami]).await;

    // Bob posts a page note through the HTTP API: Alice's sidebar gets a create whose `group`
    // the sidebar compares with its focused group.
    let note = app
        .annotate(&bob_t, json!({"uri": PAGE, "group": "__world__", "text": "Bob's note", "permissions": {"read": ["group:__world__"]}, "target": [{"source": PAGE}]}))
        .await;
    for ws in [&mut alice, &mut alice_reloaded] {
        let ev = ws.event().await;
        let (action, payload) = as_client_reads(&ev);
        assert_eq!(action, "create");
        assert_eq!(payload[0]["id"], note["id"]);
        assert_eq!(payload[0]["group"], "__world__");
        assert_eq!(payload[0]["text"], "Bob's note");
        assert!(payload[0]["updated"].is_string());
    }

    // Alice saves an annotation from this sidebar (same X-Client-Id): no echo to it.
    let r = app
        .req(Method::POST, "/api/annotations", Some(&alice_t))
        .header("X-Client-Id", CLIENT_ID)
        .json(&json!({"uri": PAGE, "group": "__world__", "text": "mine", "permissions": {"read": ["group:__world__"]}}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    assert_no_event(&app, &mut probe, &mut [&mut alice, &mut alice_reloaded]).await;

    // Bob edits, then deletes: an update and a delete carrying just the id.
    let path = format!("/api/annotations/{}", note["id"].as_str().unwrap());
    app.patch(&path, Some(&bob_t), &json!({"text": "Bob's edit"}))
        .await;
    let ev = alice.event().await;
    let (action, payload) = as_client_reads(&ev);
    assert_eq!(
        (action, &payload[0]["text"]),
        ("update", &json!("Bob's edit"))
    );
    app.delete(&path, Some(&bob_t)).await;
    let ev = alice.event().await;
    let (action, payload) = as_client_reads(&ev);
    assert_eq!(action, "delete");
    assert_eq!(payload, &vec![json!({"id": note["id"]})]);

    // The thread view adds `/references` (a string) and `/id` for the top-level annotation;
    // the Notebook filters on `/group`. Both are plain filter messages to the server.
    let thread = json!({"filter": {"match_policy": "include_any", "clauses": [
        {"field": "/references", "operator": "one_of", "value": "root-id", "case_sensitive": true},
        {"field": "/id", "operator": "equals", "value": "root-id", "case_sensitive": true},
    ], "actions": {"create": true, "update": true, "delete": true}}});
    alice.apply(&thread).await;
    let notebook = json!({"filter": {"match_policy": "include_any", "clauses": [
        {"field": "/group", "operator": "equals", "value": "__world__", "case_sensitive": true},
    ], "actions": {"create": true, "update": true, "delete": true}}});
    alice.apply(&notebook).await;
    let elsewhere = app
        .shared(
            &bob_t,
            "__world__",
            "https://other.example",
            "notebook sees it",
        )
        .await;
    assert_eq!(
        as_client_reads(&alice.event().await).1[0]["id"],
        elsewhere["id"]
    );

    // Logging out: the client closes with 1000 and reconnects anonymously; the server answers
    // the close normally and the new socket is anonymous.
    alice
        .inner
        .close(Some(CloseFrame {
            code: CloseCode::Normal,
            reason: "".into(),
        }))
        .await
        .unwrap();
    let mut anon = app.ws(None).await;
    anon.send_json(&client_id_msg()).await;
    anon.send_json(&whoami_msg()).await;
    assert_eq!(anon.json().await["userid"], Value::Null);
}
