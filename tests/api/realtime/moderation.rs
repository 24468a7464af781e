//! Spec §9 items 58–61: pre-moderation, hide and unhide, flags; and role changes reaching a
//! running socket (quirk Q8 fixed).

use reqwest::Method;
use serde_json::json;

use super::{Probe, Ws, assert_no_event, notification};
use crate::helpers::{Backend, TestApp, spawn_app};
use crate::on_both_engines;
use scholia::domain::{GroupType, Role};

on_both_engines!(pending_and_hidden_reach_author_and_moderators);

const URI: &str = "http://example.com/modded";

async fn socket(app: &TestApp, token: Option<&str>) -> Ws {
    let mut ws = app.ws(token).await;
    ws.subscribe_uri(URI).await;
    ws
}

async fn pending_and_hidden_reach_author_and_moderators(backend: Backend) {
    let app = spawn_app(backend).await;
    let (owner, owner_t) = app.user("owner").await;
    let (author, author_t) = app.user("author").await;
    let (member, member_t) = app.user("member").await;
    let (moderator, moderator_t) = app.user("moderator").await;
    let mut probe = Probe::new(&app).await;
    let group = app
        .group(&owner, "Modded", GroupType::Restricted, true)
        .await;
    app.add_member(&group, &author, Role::Member).await;
    app.add_member(&group, &member, Role::Member).await;
    app.add_member(&group, &moderator, Role::Moderator).await;
    // Let the joins reach the router before the members connect.
    probe.sync(&app).await;

    let mut anon = socket(&app, None).await;
    let mut member_ws = socket(&app, Some(&member_t)).await;
    let mut author_ws = socket(&app, Some(&author_t)).await;
    let mut owner_ws = socket(&app, Some(&owner_t)).await;
    let mut mod_ws = socket(&app, Some(&moderator_t)).await;

    // Item 58: a new annotation in a pre-moderated group is PENDING.
    let pending = app.shared(&author_t, &group, URI, "please approve").await;
    assert_eq!(pending["moderation_status"], "PENDING");
    let id = pending["id"].as_str().unwrap().to_owned();
    for ws in [&mut author_ws, &mut owner_ws, &mut mod_ws] {
        assert_eq!(notification(&ws.event().await).1["id"], id.as_str());
    }
    assert_no_event(&app, &mut probe, &mut [&mut anon, &mut member_ws]).await;
    for ws in [&mut author_ws, &mut owner_ws, &mut mod_ws] {
        ws.event().await;
    }

    // Unhide approves it for every reader (item 60); hide makes it SPAM again (item 59).
    let path = format!("/api/annotations/{id}");
    assert!(
        app.status(Method::DELETE, &format!("{path}/hide"), Some(&moderator_t))
            .await
            .is_success()
    );
    for ws in [
        &mut anon,
        &mut member_ws,
        &mut author_ws,
        &mut owner_ws,
        &mut mod_ws,
    ] {
        let ev = ws.event().await;
        let (action, payload) = notification(&ev);
        assert_eq!(
            (action, &payload["moderation_status"]),
            ("update", &json!("APPROVED"))
        );
    }
    assert!(
        app.status(Method::PUT, &format!("{path}/flag"), Some(&member_t))
            .await
            .is_success()
    );
    assert!(
        app.status(Method::PUT, &format!("{path}/hide"), Some(&moderator_t))
            .await
            .is_success()
    );
    let ev = author_ws.event().await;
    let (_, seen) = notification(&ev);
    assert_eq!(
        (&seen["hidden"], &seen["moderation_status"]),
        (&json!(false), &json!("SPAM"))
    );
    assert_eq!(seen["text"], "please approve");
    for ws in [&mut owner_ws, &mut mod_ws] {
        let ev = ws.event().await;
        let (_, seen) = notification(&ev);
        assert_eq!(seen["hidden"], true);
        assert_eq!(seen["text"], "please approve");
        assert_eq!(seen["actions"], json!(["moderate"]));
        assert_eq!(seen["moderation"], json!({"flagCount": 1}));
    }
    // The flag itself sent nothing (item 61), and plain readers miss the hide.
    assert_no_event(&app, &mut probe, &mut [&mut anon, &mut member_ws]).await;
    for ws in [&mut author_ws, &mut owner_ws, &mut mod_ws] {
        ws.event().await;
    }

    // Promoting the member to moderator reaches their open socket (h freezes roles at
    // connect): the next hidden update now reaches them, with the moderator's view.
    app.add_member(&group, &member, Role::Moderator).await;
    app.patch(
        &path,
        Some(&author_t),
        &json!({"text": "edited while hidden"}),
    )
    .await;
    let ev = member_ws.event().await;
    let (_, seen) = notification(&ev);
    assert_eq!(
        (&seen["hidden"], &seen["text"]),
        (&json!(true), &json!("edited while hidden"))
    );
}
