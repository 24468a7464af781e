use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{Backend, spawn_app};
use crate::on_both_engines;
use scholia::domain::{GroupType, Role};

on_both_engines!(hide_unhide_and_flag);

async fn hide_unhide_and_flag(backend: Backend) {
    let app = spawn_app(backend).await;
    let (owner, owner_token) = app.user("owner").await;
    let (author, author_token) = app.user("author").await;
    let (member, member_token) = app.user("member").await;
    let group = app.group(&owner, "Club", GroupType::Private, false).await;
    app.add_member(&group, &author, Role::Member).await;
    app.add_member(&group, &member, Role::Member).await;
    let ann = app
        .shared(&author_token, &group, "http://example.com", "spam?")
        .await;
    let id = ann["id"].as_str().unwrap();
    let path = format!("/api/annotations/{id}");

    // Members may flag; flagging is idempotent and visible to the flagger.
    assert_eq!(
        app.status(
            reqwest::Method::PUT,
            &format!("{path}/flag"),
            Some(&member_token)
        )
        .await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(app.get(&path, Some(&member_token)).await.1["flagged"], true);
    assert_eq!(
        app.status(reqwest::Method::PUT, &format!("{path}/flag"), None)
            .await,
        StatusCode::NOT_FOUND
    );

    // Only moderators may hide.
    assert_eq!(
        app.status(
            reqwest::Method::PUT,
            &format!("{path}/hide"),
            Some(&member_token)
        )
        .await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.status(
            reqwest::Method::PUT,
            &format!("{path}/hide"),
            Some(&owner_token)
        )
        .await,
        StatusCode::NO_CONTENT
    );

    let (_, as_author) = app.get(&path, Some(&author_token)).await;
    assert_eq!(
        (
            as_author["hidden"].as_bool(),
            as_author["moderation_status"].as_str()
        ),
        (Some(false), Some("SPAM"))
    );
    let (_, as_owner) = app.get(&path, Some(&owner_token)).await;
    assert_eq!(as_owner["hidden"], true);
    assert_eq!(as_owner["text"], "spam?");
    assert_eq!(as_owner["moderation"], json!({"flagCount": 1}));
    assert_eq!(as_owner["actions"], json!(["moderate"]));
    assert_eq!(
        app.get(&path, Some(&member_token)).await.0,
        StatusCode::NOT_FOUND
    );

    assert_eq!(
        app.status(
            reqwest::Method::DELETE,
            &format!("{path}/hide"),
            Some(&owner_token)
        )
        .await,
        StatusCode::NO_CONTENT
    );
    let (status, again) = app.get(&path, Some(&member_token)).await;
    assert_eq!(
        (status, again["moderation_status"].as_str()),
        (StatusCode::OK, Some("APPROVED"))
    );
}
