use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{Backend, spawn_app};
use crate::on_both_engines;
use scholia::domain::GroupType;
use scholia::store::ChangeAction;

on_both_engines!(every_announced_write_appends_one_ordered_change);

async fn every_announced_write_appends_one_ordered_change(backend: Backend) {
    let app = spawn_app(backend).await;
    let (owner, owner_t) = app.user("owner").await;
    let group = app
        .group(&owner, "Club", GroupType::Restricted, false)
        .await;
    let start = app.db.last_seq().await.unwrap();

    let r = app
        .req(reqwest::Method::POST, "/api/annotations", Some(&owner_t))
        .header("X-Client-Id", "client-a")
        .json(&json!({"uri": "http://example.com", "group": group, "permissions": {"read": [format!("group:{group}")]}}))
        .send()
        .await
        .unwrap();
    let ann: serde_json::Value = r.json().await.unwrap();
    let id = ann["id"].as_str().unwrap();
    let path = format!("/api/annotations/{id}");
    app.patch(&path, Some(&owner_t), &json!({"text": "edited"}))
        .await;
    assert_eq!(
        app.status(
            reqwest::Method::PUT,
            &format!("{path}/flag"),
            Some(&owner_t)
        )
        .await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.status(
            reqwest::Method::PUT,
            &format!("{path}/hide"),
            Some(&owner_t)
        )
        .await,
        StatusCode::NO_CONTENT
    );
    let r = app
        .req(reqwest::Method::DELETE, &path, Some(&owner_t))
        .header("X-Client-Id", "client-b")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    let changes = app.db.changes_after(start, 100).await.unwrap();
    let summary: Vec<(ChangeAction, Option<&str>, Option<&str>)> = changes
        .iter()
        .map(|c| {
            (
                c.action,
                c.annotation_id.as_deref(),
                c.src_client_id.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (ChangeAction::Create, Some(id), Some("client-a")),
            (ChangeAction::Update, Some(id), None),
            (ChangeAction::Update, Some(id), None), // hide; flagging announces nothing
            (ChangeAction::Delete, Some(id), Some("client-b")),
        ]
    );
    assert!(
        changes.windows(2).all(|w| w[0].seq < w[1].seq),
        "seq strictly increases"
    );
    assert!(
        changes
            .iter()
            .all(|c| c.groupid.as_deref() == Some(group.as_str()))
    );
}
