//! Resume (issue 16): a filter with `since` replays the gap from the change log, as things are
//! now, then goes live with nothing twice and nothing between; a client id the server remembers
//! is replayed what it missed without asking. Every expectation is checked against the log.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use super::{Ws, filter, notification};
use crate::helpers::{Backend, TestApp, spawn_app_with};

const URI: &str = "https://resume.example/page";

fn uri_clause() -> Value {
    json!([{"field": "/uri", "operator": "one_of", "value": [URI], "case_sensitive": false}])
}

/// The filter message on [`URI`], with `since` when given.
fn filter_since(since: Option<i64>) -> Value {
    let mut f = filter(uri_clause());
    if let Some(s) = since {
        f["since"] = json!(s);
    }
    f
}

fn client_id(id: &str) -> Value {
    json!({"messageType": "client_id", "value": id})
}

/// The latest seq of each annotation in the log after `since`.
async fn latest_in_log(app: &TestApp, since: i64) -> std::collections::HashMap<String, i64> {
    app.db
        .changes_after(since, 100_000)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|c| Some((c.annotation_id?, c.seq)))
        .collect()
}

/// Reads events until `resumed`; returns (action, id, seq) of each and the `resumed` message.
async fn replayed(ws: &mut Ws) -> (Vec<(String, String, i64)>, Value) {
    let mut got = Vec::new();
    loop {
        let m = ws.json().await;
        if m["type"] == "resumed" {
            return (got, m);
        }
        let (action, payload) = notification(&m);
        got.push((
            action.to_owned(),
            payload["id"].as_str().unwrap().to_owned(),
            m["seq"].as_i64().unwrap(),
        ));
    }
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

/// Posts on [`URI`] as `token`, with an `X-Client-Id` when given.
async fn post(app: &TestApp, token: &str, text: &str, read: &str, client: Option<&str>) -> String {
    let mut r = app.req(Method::POST, "/api/annotations", Some(token)).json(
        &json!({"uri": URI, "text": text, "group": "__world__", "permissions": {"read": [read]}}),
    );
    if let Some(c) = client {
        r = r.header("X-Client-Id", c);
    }
    let resp = r.send().await.unwrap();
    assert_eq!(resp.status(), 200);
    id(&resp.json::<Value>().await.unwrap())
}

crate::on_both_engines!(since_replays_the_gap_as_it_is_now_then_goes_live);

async fn since_replays_the_gap_as_it_is_now_then_goes_live(backend: Backend) {
    let app = spawn_app_with(backend, |_| {}).await;
    let (_, alice) = app.user("alice").await;
    let (bob_user, bob) = app.user("bob").await;
    let world = "group:__world__";

    // Alice's client sees X, remembers its seq, and goes away.
    let mut ws = app.ws(Some(&alice)).await;
    ws.apply(&client_id("tab-1")).await;
    ws.apply(&filter_since(None)).await;
    let x = post(&app, &bob, "x", world, None).await;
    let ev = ws.event().await;
    let since = ev["seq"].as_i64().unwrap();
    drop(ws);

    // While it is away: a create, a create then deleted, an update of X, a private note of
    // Bob's, Alice's own write from the same client id, and a note on another page.
    let b = post(&app, &bob, "b", world, None).await;
    let c = post(&app, &bob, "c", world, None).await;
    assert_eq!(
        app.delete(&format!("/api/annotations/{c}"), Some(&bob))
            .await
            .0,
        200
    );
    let (s, _) = app
        .patch(
            &format!("/api/annotations/{x}"),
            Some(&bob),
            &json!({"text": "x2"}),
        )
        .await;
    assert_eq!(s, 200);
    let private = post(&app, &bob, "private", &bob_user.userid().to_string(), None).await;
    let own = post(&app, &alice, "own", world, Some("tab-1")).await;
    let elsewhere = app
        .shared(&bob, "__world__", "https://other.example/", "d")
        .await;
    let upto = app.db.last_seq().await.unwrap();

    let mut ws = app.ws(Some(&alice)).await;
    ws.apply(&client_id("tab-1")).await;
    ws.send_json(&filter_since(Some(since))).await;
    let (got, resumed) = replayed(&mut ws).await;
    let log = latest_in_log(&app, since).await;
    let expected: Vec<(String, String, i64)> = vec![
        ("create".into(), b.clone(), log[&b]),
        ("delete".into(), c.clone(), log[&c]),
        ("update".into(), x.clone(), log[&x]),
    ];
    assert_eq!(
        got, expected,
        "private {private}, own {own}, elsewhere {elsewhere}"
    );
    assert_eq!(
        resumed,
        json!({"type": "resumed", "since": since, "seq": upto, "recovered": true})
    );

    // Live from there, with nothing twice.
    let live = post(&app, &bob, "live", world, None).await;
    let ev = ws.event().await;
    let (action, payload) = notification(&ev);
    assert_eq!((action, id(payload)), ("create", live));
    assert!(ev["seq"].as_i64().unwrap() > upto);
    ws.assert_quiet().await;

    // The update went out as X reads now.
    let mut again = app.ws(Some(&alice)).await;
    again.send_json(&filter_since(Some(log[&x] - 1))).await;
    let m = again.json().await;
    let (action, payload) = notification(&m);
    assert_eq!((action, payload["text"].as_str()), ("update", Some("x2")));
}

crate::on_both_engines!(a_gap_that_cannot_be_replayed_says_so);

async fn a_gap_that_cannot_be_replayed_says_so(backend: Backend) {
    let app = spawn_app_with(backend, |c| c.ws.replay_max = 3).await;
    let (_, bob) = app.user("bob").await;
    for n in 0..4 {
        post(&app, &bob, &format!("n{n}"), "group:__world__", None).await;
    }
    let last = app.db.last_seq().await.unwrap();

    // More than `replay_max` changes: nothing replayed, recovered false.
    let mut ws = app.ws(None).await;
    ws.send_json(&filter_since(Some(last - 4))).await;
    let (got, resumed) = replayed(&mut ws).await;
    assert!(got.is_empty(), "{got:?}");
    assert_eq!(resumed["recovered"], false);
    assert_eq!(resumed["seq"], last);
    // Within it: replayed.
    ws.send_json(&filter_since(Some(last - 2))).await;
    let (got, resumed) = replayed(&mut ws).await;
    assert_eq!(got.len(), 2);
    assert_eq!(resumed["recovered"], true);
    // A seq this log never reached is no position in it.
    ws.send_json(&filter_since(Some(last + 1000))).await;
    let (got, resumed) = replayed(&mut ws).await;
    assert!(got.is_empty());
    assert_eq!(resumed["recovered"], false);
    // A malformed since is refused with a reason, and the filter stays as it was.
    ws.send_json(&json!({"type": "filter", "id": 7, "filter": filter(uri_clause())["filter"], "since": "soon"}))
        .await;
    let err = ws.json().await;
    assert_eq!(err["error"]["type"], "invalid_data", "{err}");
}

crate::on_both_engines!(a_gap_older_than_retention_is_not_recovered);

async fn a_gap_older_than_retention_is_not_recovered(backend: Backend) {
    let app = spawn_app_with(backend, |c| c.changelog_retention_secs = 1).await;
    let (_, bob) = app.user("bob").await;
    let first = app.db.last_seq().await.unwrap();
    for n in 0..3 {
        post(&app, &bob, &format!("n{n}"), "group:__world__", None).await;
    }
    let last = app.db.last_seq().await.unwrap();
    // Once the log has been pruned past `first`, resuming from there is not recovered (the
    // newest row is always kept).
    let mut pruned = 0;
    for _ in 0..200 {
        pruned = app.db.log_horizon().await.unwrap();
        if pruned > first {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(pruned > first, "the log was never pruned");
    assert_eq!(app.db.last_seq().await.unwrap(), last);
    let mut ws = app.ws(None).await;
    ws.send_json(&filter_since(Some(first))).await;
    let (got, resumed) = replayed(&mut ws).await;
    assert!(got.is_empty(), "{got:?}");
    assert_eq!(
        resumed,
        json!({"type": "resumed", "since": first, "seq": last, "recovered": false})
    );
}

crate::on_both_engines!(a_remembered_client_id_is_replayed_what_it_missed_in_either_order);

async fn a_remembered_client_id_is_replayed_what_it_missed_in_either_order(backend: Backend) {
    let app = spawn_app_with(backend, |c| c.ws.cursor_flush_ms = 20).await;
    let (_, alice) = app.user("alice").await;
    let (_, bob) = app.user("bob").await;
    let world = "group:__world__";

    // The official client's order on a first load: client_id, whoami, filter.
    let mut ws = app.ws(Some(&alice)).await;
    ws.apply(&client_id("page-7")).await;
    ws.apply(&filter_since(None)).await;
    post(&app, &bob, "seen", world, None).await;
    let seen = ws.event().await["seq"].as_i64().unwrap();
    wait_for_cursor(&app.db, "page-7", "acct:alice@example.com", seen).await;
    drop(ws);

    for (round, filter_first) in [(1, true), (2, false)] {
        let missed = post(&app, &bob, &format!("missed {round}"), world, None).await;
        // Another user's socket with the same client id is not that client (a user new to
        // this client id in each round: one that was here before would be resumed in turn).
        let mut stranger = app.ws((round == 2).then_some(bob.as_str())).await;
        stranger.apply(&client_id("page-7")).await;
        stranger.apply(&filter_since(None)).await;

        let mut ws = app.ws(Some(&alice)).await;
        if filter_first {
            ws.send_json(&filter_since(None)).await;
            ws.send_json(&client_id("page-7")).await;
        } else {
            ws.send_json(&client_id("page-7")).await;
            ws.send_json(&filter_since(None)).await;
        }
        let ev = ws.event().await;
        let (action, payload) = notification(&ev);
        assert_eq!(
            (action, id(payload)),
            ("create", missed.clone()),
            "round {round}"
        );
        assert_eq!(
            ev["seq"].as_i64().unwrap(),
            latest_in_log(&app, 0).await[&missed]
        );
        // No `resumed` for a client that did not ask, and nothing else.
        ws.assert_quiet().await;
        stranger.assert_quiet().await;
        let seq = ev["seq"].as_i64().unwrap();
        wait_for_cursor(&app.db, "page-7", "acct:alice@example.com", seq).await;
        drop(ws);
    }
}

/// Waits (10 s at most) until the cursor of `client`/`userid` has reached `seq`.
pub async fn wait_for_cursor(db: &scholia::store::Db, client: &str, userid: &str, seq: i64) {
    for _ in 0..500 {
        if db
            .ws_cursor(client, userid, 0)
            .await
            .unwrap()
            .is_some_and(|s| s >= seq)
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the cursor of {client} never reached {seq}");
}
