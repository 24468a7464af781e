use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{Backend, spawn_app};
use crate::on_both_engines;
use scholia::domain::GroupType;
use scholia::store::ChangeAction;

on_both_engines!(groups_and_memberships, profile_and_group_lists);

async fn groups_and_memberships(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, alice_t) = app.user("alice").await;
    let (bob, bob_t) = app.user("bob").await;

    let (status, group) = app
        .post(
            "/api/groups",
            Some(&alice_t),
            &json!({"name": "Reading club", "description": "d", "type": "private"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{group}");
    let pubid = group["id"].as_str().unwrap().to_owned();
    assert_eq!(
        (group["type"].as_str(), group["public"].as_bool()),
        (Some("private"), Some(false))
    );
    assert_eq!(
        group["links"]["html"],
        app.url(&format!("/groups/{pubid}/reading-club"))
    );

    for (body, reason) in [
        (json!({"name": "ab"}), "name: 'ab' is too short"),
        (
            json!({"name": " padded "}),
            "name: Group names can't have leading or trailing whitespace.",
        ),
        (
            json!({"name": "Fine", "type": "secret"}),
            "type: 'secret' is not one of ['private', 'restricted', 'open']",
        ),
    ] {
        let (status, answer) = app.post("/api/groups", Some(&alice_t), &body).await;
        assert_eq!(
            (status, answer["reason"].as_str()),
            (StatusCode::BAD_REQUEST, Some(reason)),
            "{body}"
        );
    }
    assert_eq!(
        app.post("/api/groups", None, &json!({"name": "Anon group"}))
            .await
            .0,
        StatusCode::NOT_FOUND
    );

    // Private: members only.
    assert_eq!(
        app.get(&format!("/api/groups/{pubid}"), Some(&bob_t))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    let ann = app
        .shared(&alice_t, &pubid, "http://example.com", "secret")
        .await;
    let ann_path = format!("/api/annotations/{}", ann["id"].as_str().unwrap());
    assert_eq!(
        ann["permissions"]["read"],
        json!([format!("group:{pubid}")])
    );
    assert_eq!(
        app.get(&ann_path, Some(&bob_t)).await.0,
        StatusCode::NOT_FOUND
    );

    // Knowing the id does not let Bob add himself (h lets only an auth client add members),
    // by name or as `me`, and leaves no trace in the change log.
    let userid = bob.userid().to_string();
    let logged = app.db.changes_after(0, 1000).await.unwrap().len();
    for who in [userid.as_str(), "me"] {
        assert_eq!(
            app.status(
                reqwest::Method::POST,
                &format!("/api/groups/{pubid}/members/{who}"),
                Some(&bob_t)
            )
            .await,
            StatusCode::NOT_FOUND
        );
    }
    assert_eq!(
        app.get(&ann_path, Some(&bob_t)).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(app.db.changes_after(0, 1000).await.unwrap().len(), logged);

    // The owner adds Bob; Bob can read; Bob leaves; the owner cannot be removed by Bob.
    assert_eq!(
        app.status(
            reqwest::Method::POST,
            &format!("/api/groups/{pubid}/members/{userid}"),
            Some(&alice_t)
        )
        .await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(app.get(&ann_path, Some(&bob_t)).await.0, StatusCode::OK);
    assert_eq!(
        app.get(&format!("/api/groups/{pubid}"), Some(&bob_t))
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        app.status(
            reqwest::Method::DELETE,
            &format!("/api/groups/{pubid}/members/acct:alice@example.com"),
            Some(&bob_t)
        )
        .await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.status(
            reqwest::Method::DELETE,
            &format!("/api/groups/{pubid}/members/me"),
            Some(&bob_t)
        )
        .await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.get(&ann_path, Some(&bob_t)).await.0,
        StatusCode::NOT_FOUND
    );
    // Re-added, then removed by the owner.
    app.req(
        reqwest::Method::POST,
        &format!("/api/groups/{pubid}/members/{userid}"),
        Some(&alice_t),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(
        app.status(
            reqwest::Method::DELETE,
            &format!("/api/groups/{pubid}/members/{userid}"),
            Some(&alice_t)
        )
        .await,
        StatusCode::NO_CONTENT
    );

    // Each join and leave is in the change log; the creator's own join first.
    let changes = app.db.changes_after(0, 100).await.unwrap();
    let membership: Vec<(ChangeAction, String)> = changes
        .iter()
        .filter(|c| !c.action.is_annotation())
        .map(|c| (c.action, c.userid.clone().unwrap()))
        .collect();
    assert_eq!(
        membership,
        vec![
            (ChangeAction::GroupJoin, "acct:alice@example.com".to_owned()),
            (ChangeAction::GroupJoin, userid.clone()),
            (ChangeAction::GroupLeave, userid.clone()),
            (ChangeAction::GroupJoin, userid.clone()),
            (ChangeAction::GroupLeave, userid.clone()),
        ]
    );
    // Open groups: any user of the authority may write without joining.
    let open = app.group(&bob, "Open house", GroupType::Open, false).await;
    app.shared(&alice_t, &open, "http://example.com", "open")
        .await;
}

async fn profile_and_group_lists(backend: Backend) {
    let app = spawn_app(backend).await;
    let (alice, alice_t) = app.user("alice").await;
    let (_, partner_t) = app.user_of("pat", "partner.org").await;
    app.group(&alice, "Zeta", GroupType::Private, false).await;
    app.group(&alice, "alpha", GroupType::Restricted, false)
        .await;

    let (_, anon) = app.get("/api/profile", None).await;
    assert_eq!(anon["userid"], json!(null));
    assert_eq!(anon["authority"], "example.com");
    let ids: Vec<&str> = anon["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["__world__"]);

    let (_, me) = app.get("/api/profile", Some(&alice_t)).await;
    assert_eq!(me["userid"], "acct:alice@example.com");
    assert_eq!(me["user_info"]["display_name"], "alice display");
    let names: Vec<&str> = me["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        vec!["Public", "alpha", "Zeta"],
        "world first, then by lower-cased name"
    );
    assert_eq!(me["preferences"]["show_sidebar_tutorial"], true);

    let (_, partner) = app.get("/api/profile", Some(&partner_t)).await;
    assert_eq!(
        partner["groups"],
        json!([]),
        "third-party users have no world group"
    );

    let (_, mine) = app.get("/api/profile/groups", Some(&alice_t)).await;
    assert_eq!(mine.as_array().unwrap().len(), 2);
    assert_eq!(app.get("/api/profile/groups", None).await.1, json!([]));
    let (_, listed) = app.get("/api/groups", Some(&alice_t)).await;
    assert_eq!(listed.as_array().unwrap().len(), 3);

    let (status, updated) = app
        .patch(
            "/api/profile",
            Some(&alice_t),
            &json!({"preferences": {"show_sidebar_tutorial": false}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        updated["preferences"]
            .get("show_sidebar_tutorial")
            .is_none()
    );
    assert_eq!(
        app.patch(
            "/api/profile",
            Some(&alice_t),
            &json!({"preferences": {"bogus": 1}})
        )
        .await
        .0,
        StatusCode::BAD_REQUEST
    );
}
