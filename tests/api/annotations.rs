use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{Backend, NOT_FOUND, spawn_app, spawn_app_with};
use crate::on_both_engines;
use scholia::domain::GroupType;

on_both_engines!(
    create_read_update_delete,
    create_rejects_bad_input_and_writes_nothing,
    replies_take_the_thread_roots_group,
    sharing_follows_moderation_rules,
);

async fn create_read_update_delete(backend: Backend) {
    let app = spawn_app(backend).await;
    let (alice, alice_token) = app.user("alice").await;
    let (_, bob_token) = app.user("bob").await;

    // No permissions: private to the author (spec §9 item 71).
    let private = app
        .annotate(
            &alice_token,
            json!({"group": "__world__", "text": "x", "uri": "http://example.com"}),
        )
        .await;
    assert_eq!(
        private["permissions"]["read"],
        json!([alice.userid().to_string()])
    );
    assert_eq!(private["moderation_status"], json!(null));
    assert_eq!(private["user"], "acct:alice@example.com");
    assert_eq!(private["user_info"]["display_name"], "alice display");
    assert_eq!(
        private["links"]["json"],
        app.url(&format!(
            "/api/annotations/{}",
            private["id"].as_str().unwrap()
        ))
    );
    let id = private["id"].as_str().unwrap();
    assert_eq!(id.len(), 22);
    let (status, body) = app.get(&format!("/api/annotations/{id}"), None).await;
    assert_eq!(
        (status, body["reason"].as_str()),
        (StatusCode::NOT_FOUND, Some(NOT_FOUND))
    );
    assert_eq!(
        app.get(&format!("/api/annotations/{id}"), Some(&bob_token))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get(&format!("/api/annotations/{id}"), Some(&alice_token))
            .await
            .1["text"],
        "x"
    );

    // Shared in __world__: readable anonymously (item 75).
    let shared = app
        .shared(&alice_token, "__world__", "https://example.com/a", "hello")
        .await;
    let sid = shared["id"].as_str().unwrap();
    assert_eq!(shared["moderation_status"], "APPROVED");
    let (status, anon) = app.get(&format!("/api/annotations/{sid}"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(anon["permissions"]["read"], json!(["group:__world__"]));
    assert_eq!(anon["flagged"], false);
    assert_eq!(anon["actions"], json!([]));
    assert!(anon.get("moderation").is_none());

    // PATCH by the author; others and anonymous get 404 (item 76).
    let (status, updated) = app
        .patch(
            &format!("/api/annotations/{sid}"),
            Some(&alice_token),
            &json!({"text": "changed", "custom": 1}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (updated["text"].as_str(), updated["custom"].as_i64()),
        (Some("changed"), Some(1))
    );
    assert!(updated["updated"].as_str().unwrap() > shared["updated"].as_str().unwrap());
    assert_eq!(
        app.patch(
            &format!("/api/annotations/{sid}"),
            Some(&bob_token),
            &json!({"text": "no"})
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.patch(
            &format!("/api/annotations/{sid}"),
            None,
            &json!({"text": "no"})
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );
    let (status, body) = app
        .patch(
            &format!("/api/annotations/{sid}"),
            Some(&alice_token),
            &json!({"uri": "  "}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    // DELETE (item 79).
    assert_eq!(
        app.delete(&format!("/api/annotations/{sid}"), Some(&bob_token))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.delete(&format!("/api/annotations/{sid}"), None).await.0,
        StatusCode::NOT_FOUND
    );
    let (status, body) = app
        .delete(&format!("/api/annotations/{sid}"), Some(&alice_token))
        .await;
    assert_eq!(
        (status, body),
        (StatusCode::OK, json!({"id": sid, "deleted": true}))
    );
    assert_eq!(
        app.delete(&format!("/api/annotations/{sid}"), Some(&alice_token))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get(&format!("/api/annotations/{sid}"), None).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get("/api/annotations/not-an-id", None).await.0,
        StatusCode::NOT_FOUND
    );
}

async fn create_rejects_bad_input_and_writes_nothing(backend: Backend) {
    let app = spawn_app_with(backend, |c| c.max_body_bytes = 64 * 1024).await;
    let (alice, token) = app.user("alice").await;
    let (other, other_token) = app.user_of("carol", "partner.org").await;
    let private_group = app.group(&other, "Others", GroupType::Private, false).await;
    let _ = alice;
    let before = app.row_counts().await;

    // Anonymous (item 70).
    let (status, body) = app
        .post("/api/annotations", None, &json!({"uri": "http://x.com"}))
        .await;
    assert_eq!(
        (status, body["reason"].as_str()),
        (StatusCode::NOT_FOUND, Some(NOT_FOUND))
    );

    let cases: Vec<(serde_json::Value, &str)> = vec![
        (
            json!({"text": "no uri"}),
            "uri: 'uri' is a required property",
        ),
        (json!({"uri": "   "}), "uri: 'uri' is a required property"),
        (
            json!({"uri": "http://x.com", "tags": [5]}),
            "tags.0: 5 is not of type 'string'",
        ),
        (
            json!({"uri": "http://x.com", "group": "nosuchgroup"}),
            "group: Invalid group id nosuchgroup",
        ),
        (
            json!({"uri": "http://x.com", "group": private_group}),
            "group: You may not create annotations in the specified group!",
        ),
        (
            json!({"uri": "http://x.com", "references": ["AAAAAAAAAAAAAAAAAAAAAA"]}),
            "references.0: Annotation AAAAAAAAAAAAAAAAAAAAAA does not exist",
        ),
        (json!([1, 2]), "[1, 2] is not of type 'object'"),
        // PostgreSQL cannot store a NUL; both engines refuse it alike, before writing.
        (
            json!({"uri": "http://x.com", "text": "a\u{0}b"}),
            "text: may not contain a NUL character (\\u0000)",
        ),
        (
            json!({"uri": "http://x.com/\u{0}"}),
            "uri: may not contain a NUL character (\\u0000)",
        ),
        (
            json!({"uri": "http://x.com", "tags": ["ok", "b\u{0}"]}),
            "tags.1: may not contain a NUL character (\\u0000)",
        ),
        (
            json!({"uri": "http://x.com", "target": [{"selector": [{"exact": "\u{0}"}]}]}),
            "target.0.selector.0.exact: may not contain a NUL character (\\u0000)",
        ),
    ];
    for (body, reason) in cases {
        let (status, answer) = app.post("/api/annotations", Some(&token), &body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
        assert_eq!(
            answer,
            json!({"status": "failure", "reason": reason}),
            "{body}"
        );
    }
    // A NUL in a search parameter is refused the same way (PostgreSQL answered 500).
    let (status, answer) = app.get("/api/search?uri=%00", Some(&token)).await;
    assert_eq!(
        (status, answer["reason"].as_str()),
        (
            StatusCode::BAD_REQUEST,
            Some("uri: may not contain a NUL character (\\u0000)")
        )
    );
    let r = app
        .req(reqwest::Method::POST, "/api/annotations", Some(&token))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    let (status, body) = crate::helpers::json_of(r).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["reason"],
        "Expected a valid JSON payload, but none was found!"
    );

    let huge = "x".repeat(100 * 1024);
    let (status, body) = app
        .post(
            "/api/annotations",
            Some(&token),
            &json!({"uri": "http://x.com", "text": huge}),
        )
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        body["reason"],
        "Request body is larger than the limit of 65536 bytes"
    );

    // Users of another authority cannot write to this authority's open __world__ group.
    let (status, body) = app
        .post(
            "/api/annotations",
            Some(&other_token),
            &json!({"uri": "http://x.com"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["reason"].as_str().unwrap().starts_with("group:"),
        "{body}"
    );

    assert_eq!(
        app.row_counts().await,
        before,
        "a refused write leaves no annotation and no change-log row"
    );
}

async fn replies_take_the_thread_roots_group(backend: Backend) {
    let app = spawn_app(backend).await;
    let (alice, token) = app.user("alice").await;
    let group = app
        .group(&alice, "Readers", GroupType::Restricted, false)
        .await;
    let root = app
        .shared(&token, &group, "http://example.com", "root")
        .await;
    let root_id = root["id"].as_str().unwrap();
    let reply = app
        .annotate(&token, json!({"uri": "http://example.com", "text": "reply", "references": [root_id], "group": "__world__"}))
        .await;
    assert_eq!(reply["group"], group.as_str());
    assert_eq!(reply["references"], json!([root_id]));
    let nested = app
        .annotate(
            &token,
            json!({"uri": "http://example.com", "references": [root_id, reply["id"]]}),
        )
        .await;
    assert_eq!(nested["group"], group.as_str());
    assert!(root.get("references").is_none());
}

async fn sharing_follows_moderation_rules(backend: Backend) {
    let app = spawn_app(backend).await;
    let (alice, token) = app.user("alice").await;
    let premod = app.group(&alice, "Moderated", GroupType::Open, true).await;
    // Shared into a pre-moderated group starts PENDING (item 58's precondition).
    let pending = app.shared(&token, &premod, "http://example.com", "p").await;
    assert_eq!(pending["moderation_status"], "PENDING");
    // Private, then shared by PATCH: (pre-mod, null) -> PENDING (item 77).
    let private = app
        .annotate(
            &token,
            json!({"uri": "http://example.com", "group": premod}),
        )
        .await;
    assert_eq!(private["moderation_status"], json!(null));
    let id = private["id"].as_str().unwrap();
    let (_, shared) = app
        .patch(
            &format!("/api/annotations/{id}"),
            Some(&token),
            &json!({"permissions": {"read": [format!("group:{premod}")]}}),
        )
        .await;
    assert_eq!(shared["moderation_status"], "PENDING");
    // (no pre-mod, null) -> APPROVED.
    let world_private = app
        .annotate(&token, json!({"uri": "http://example.com"}))
        .await;
    let wid = world_private["id"].as_str().unwrap();
    let (_, now_shared) = app
        .patch(
            &format!("/api/annotations/{wid}"),
            Some(&token),
            &json!({"permissions": {"read": ["group:__world__"]}}),
        )
        .await;
    assert_eq!(now_shared["moderation_status"], "APPROVED");
    assert_eq!(
        now_shared["permissions"]["read"],
        json!(["group:__world__"])
    );
    // Making it private again keeps the status (item 78).
    let (_, private_again) = app
        .patch(
            &format!("/api/annotations/{wid}"),
            Some(&token),
            &json!({"permissions": {"read": [alice.userid().to_string()]}}),
        )
        .await;
    assert_eq!(private_again["moderation_status"], "APPROVED");
    assert_eq!(
        private_again["permissions"]["read"],
        json!(["acct:alice@example.com"])
    );
}

pub fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn shutdown_finishes_promptly() {
    let app = spawn_app(Backend::Sqlite).await;
    let start = std::time::Instant::now();
    app.stop().await.expect("run returns Ok");
    assert!(start.elapsed() < std::time::Duration::from_secs(5));
}
