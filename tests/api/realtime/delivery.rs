//! Spec §9 items 48–57 and 65: who receives an event and what they receive, with quirks Q6
//! (NIPSA leak to anonymous sockets) and Q7 (null client ids suppressing events) fixed.

use reqwest::Method;
use serde_json::{Value, json};

use super::{Probe, Ws, assert_no_event, notification};
use crate::helpers::{Backend, TestApp, spawn_app};
use crate::on_both_engines;
use scholia::domain::{GroupType, Role};

on_both_engines!(
    echo_suppression_needs_both_client_ids,
    payloads_match_the_http_api_for_each_viewer,
    private_annotations_reach_only_their_author,
    group_readability_and_nipsa,
);

const URI: &str = "http://example.com/page";

async fn post_with_client(app: &TestApp, token: &str, client: Option<&str>, body: Value) -> Value {
    let mut r = app
        .req(Method::POST, "/api/annotations", Some(token))
        .json(&body);
    if let Some(c) = client {
        r = r.header("X-Client-Id", c);
    }
    let r = r.send().await.unwrap();
    assert!(r.status().is_success());
    r.json().await.unwrap()
}

fn public(text: &str) -> Value {
    json!({"uri": URI, "text": text, "permissions": {"read": ["group:__world__"]}})
}

async fn with_client_id(app: &TestApp, token: Option<&str>, client: Option<&str>) -> Ws {
    let mut ws = app.ws(token).await;
    if let Some(c) = client {
        ws.apply(&json!({"messageType": "client_id", "value": c}))
            .await;
    }
    ws.subscribe_uri(URI).await;
    ws
}

/// Items 48–50 (Q7 fixed: a request without `X-Client-Id` reaches sockets without a client id).
async fn echo_suppression_needs_both_client_ids(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, t) = app.user("alice").await;
    let mut probe = Probe::new(&app).await;
    let mut a = with_client_id(&app, None, Some("A")).await;
    let mut b = with_client_id(&app, None, Some("B")).await;
    let mut none = with_client_id(&app, None, None).await;

    let from_a = post_with_client(&app, &t, Some("A"), public("from A")).await;
    for ws in [&mut b, &mut none] {
        let ev = ws.event().await;
        let (action, payload) = notification(&ev);
        assert_eq!((action, &payload["id"]), ("create", &from_a["id"]));
    }
    let anonymous_writer = post_with_client(&app, &t, None, public("no header")).await;
    for ws in [&mut a, &mut b, &mut none] {
        let ev = ws.event().await;
        assert_eq!(notification(&ev).1["id"], anonymous_writer["id"]);
    }
    // A socket can reset its client id with null.
    a.apply(&json!({"type": "client_id", "value": null})).await;
    let again = post_with_client(&app, &t, Some("A"), public("again")).await;
    assert_eq!(notification(&a.event().await).1["id"], again["id"]);
    assert_no_event(&app, &mut probe, &mut [&mut a]).await;
}

/// Items 51, 52 and 65: create/update payloads are what `GET /api/annotations/{id}` answers the
/// socket's user; deletes carry only the id.
async fn payloads_match_the_http_api_for_each_viewer(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, alice_t) = app.user("alice").await;
    let (_, bob_t) = app.user("bob").await;
    let mut anon = with_client_id(&app, None, None).await;
    let mut bob = with_client_id(&app, Some(&bob_t), None).await;
    let mut alice = with_client_id(&app, Some(&alice_t), None).await;

    let created = app
        .annotate(&alice_t, json!({"uri": URI, "text": "hi", "tags": ["t"], "document": {"title": ["Page"]}, "permissions": {"read": ["group:__world__"]}}))
        .await;
    let id = created["id"].as_str().unwrap();
    let path = format!("/api/annotations/{id}");
    // Bob flags it: his payload says flagged, nobody else's does; flags send no event (item 61).
    assert!(
        app.status(Method::PUT, &format!("{path}/flag"), Some(&bob_t))
            .await
            .is_success()
    );
    app.patch(&path, Some(&alice_t), &json!({"text": "edited"}))
        .await;

    for (ws, token) in [
        (&mut anon, None),
        (&mut bob, Some(&bob_t)),
        (&mut alice, Some(&alice_t)),
    ] {
        let (action, payload) = {
            let ev = ws.event().await;
            let (a, p) = notification(&ev);
            (a.to_owned(), p.clone())
        };
        // Content is read when the event is routed, so it may already show the edit.
        assert_eq!(action, "create");
        assert_eq!(payload["id"], id);
        let ev = ws.event().await;
        let (action, payload) = notification(&ev);
        assert_eq!(action, "update");
        let (_, over_http) = app.get(&path, token.map(|t| t.as_str())).await;
        assert_eq!(
            payload, &over_http,
            "payload differs from GET for {token:?}"
        );
    }
    // Item 65 on the anonymous payload, item 52's viewer dependence on Bob's.
    let (_, anon_view) = app.get(&path, None).await;
    assert_eq!(anon_view["flagged"], false);
    assert_eq!(anon_view["actions"], json!([]));
    assert!(anon_view.get("moderation").is_none());
    assert_eq!(app.get(&path, Some(&bob_t)).await.1["flagged"], true);

    app.delete(&path, Some(&alice_t)).await;
    for ws in [&mut anon, &mut bob, &mut alice] {
        let ev = ws.event().await;
        assert_eq!(ev["options"]["action"], "delete");
        assert_eq!(ev["payload"], json!([{"id": id}]));
        assert_eq!(
            ev.as_object().unwrap().keys().collect::<Vec<_>>(),
            ["type", "options", "payload", "seq"]
        );
    }

    // Item 53: an event for an annotation that does not exist is dropped.
    let mut probe = Probe::new(&app).await;
    let mut by_id = app.ws(None).await;
    by_id
        .subscribe(json!([{"field": "/id", "value": "nonexistent"}]))
        .await;
    app.exec("INSERT INTO change_log (action, annotation_id, created) VALUES ('create', 'nonexistent', 0)")
        .await;
    assert_no_event(&app, &mut probe, &mut [&mut by_id]).await;
}

/// Item 54: private annotations (create, update, delete) go to the author's sockets only, and
/// not back to the socket that wrote them.
async fn private_annotations_reach_only_their_author(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, alice_t) = app.user("alice").await;
    let (_, bob_t) = app.user("bob").await;
    let mut probe = Probe::new(&app).await;
    let mut writer = with_client_id(&app, Some(&alice_t), Some("tab-1")).await;
    let mut other_tab = with_client_id(&app, Some(&alice_t), Some("tab-2")).await;
    let mut bob = with_client_id(&app, Some(&bob_t), None).await;
    let mut anon = with_client_id(&app, None, None).await;

    let private = post_with_client(
        &app,
        &alice_t,
        Some("tab-1"),
        json!({"uri": URI, "text": "secret"}),
    )
    .await;
    assert_eq!(
        private["permissions"]["read"],
        json!(["acct:alice@example.com"])
    );
    let path = format!("/api/annotations/{}", private["id"].as_str().unwrap());
    app.patch(&path, Some(&alice_t), &json!({"text": "still secret"}))
        .await;
    app.delete(&path, Some(&alice_t)).await;
    for action in ["create", "update", "delete"] {
        let ev = other_tab.event().await;
        assert_eq!(notification(&ev).0, action);
    }
    // The writer's own socket saw the update and delete (sent without its client id) only.
    for action in ["update", "delete"] {
        assert_eq!(notification(&writer.event().await).0, action);
    }
    assert_no_event(
        &app,
        &mut probe,
        &mut [&mut writer, &mut other_tab, &mut bob, &mut anon],
    )
    .await;
}

/// Items 55–57: open groups reach everyone, private groups their members, NIPSA'd authors
/// only themselves (anonymous sockets included: Q6 fixed).
async fn group_readability_and_nipsa(backend: Backend) {
    let app = spawn_app(backend).await;
    let (alice, alice_t) = app.user("alice").await;
    let (bob, bob_t) = app.user("bob").await;
    let (_, carol_t) = app.user("carol").await;
    let mut probe = Probe::new(&app).await;
    let secret = app.group(&alice, "Secret", GroupType::Private, false).await;
    app.add_member(&secret, &bob, Role::Member).await;
    // Let the join reach the router before Bob connects (else his socket is told of it).
    probe.sync(&app).await;

    let mut anon = with_client_id(&app, None, None).await;
    let mut bob_ws = with_client_id(&app, Some(&bob_t), None).await;
    let mut carol = with_client_id(&app, Some(&carol_t), None).await;
    let mut alice_ws = with_client_id(&app, Some(&alice_t), None).await;

    let open = app.shared(&alice_t, "__world__", URI, "open").await;
    for ws in [&mut anon, &mut bob_ws, &mut carol, &mut alice_ws] {
        assert_eq!(notification(&ws.event().await).1["id"], open["id"]);
    }
    let members = app.shared(&alice_t, &secret, URI, "members only").await;
    for ws in [&mut bob_ws, &mut alice_ws] {
        assert_eq!(notification(&ws.event().await).1["id"], members["id"]);
    }
    assert_no_event(&app, &mut probe, &mut [&mut anon, &mut carol]).await;
    for ws in [&mut bob_ws, &mut alice_ws] {
        ws.event().await; // the marker
    }

    app.db
        .set_nipsa("acct:alice@example.com", true)
        .await
        .unwrap();
    let shadow = app.shared(&alice_t, "__world__", URI, "shadow").await;
    assert_eq!(notification(&alice_ws.event().await).1["id"], shadow["id"]);
    assert_no_event(&app, &mut probe, &mut [&mut anon, &mut bob_ws, &mut carol]).await;
    alice_ws.event().await;

    // Un-NIPSA reaches a running server through the change log.
    app.db
        .set_nipsa("acct:alice@example.com", false)
        .await
        .unwrap();
    let back = app.shared(&alice_t, "__world__", URI, "back").await;
    for ws in [&mut anon, &mut bob_ws, &mut carol, &mut alice_ws] {
        assert_eq!(notification(&ws.event().await).1["id"], back["id"]);
    }
}
