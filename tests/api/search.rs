use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{Backend, fresh_database, spawn_app, spawn_on};
use crate::on_both_engines;
use scholia::domain::{GroupType, Role};

on_both_engines!(
    search_visibility,
    search_filters_and_paging,
    search_text_and_replies,
    full_text_follows_updates_and_deletes
);

fn id(v: &serde_json::Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

/// spec §9 item 80.
async fn search_visibility(backend: Backend) {
    let app = spawn_app(backend).await;
    let (alice, alice_t) = app.user("alice").await;
    let (bob, bob_t) = app.user("bob").await;
    let (moderator, mod_t) = app.user("moderator").await;
    let group = app
        .group(&moderator, "Private club", GroupType::Private, false)
        .await;
    app.add_member(&group, &alice, Role::Member).await;
    let uri = "uri=http%3A%2F%2Fexample.com";

    let shared = id(&app
        .shared(&alice_t, "__world__", "http://example.com", "shared")
        .await);
    let private = id(&app
        .annotate(&alice_t, json!({"uri": "http://example.com"}))
        .await);
    let in_group = id(&app
        .shared(&alice_t, &group, "http://example.com", "club")
        .await);
    let spam = id(&app
        .shared(&alice_t, &group, "http://example.com", "spam")
        .await);
    assert_eq!(
        app.status(
            reqwest::Method::PUT,
            &format!("/api/annotations/{spam}/hide"),
            Some(&mod_t)
        )
        .await,
        StatusCode::NO_CONTENT
    );
    let deleted = id(&app
        .shared(&alice_t, "__world__", "http://example.com", "gone")
        .await);
    app.delete(&format!("/api/annotations/{deleted}"), Some(&alice_t))
        .await;

    let mut mine = app.search_ids(uri, Some(&alice_t)).await;
    mine.sort();
    let mut expected = vec![
        shared.clone(),
        private.clone(),
        in_group.clone(),
        spam.clone(),
    ];
    expected.sort();
    assert_eq!(
        mine, expected,
        "authors see their own private and hidden annotations"
    );

    assert_eq!(app.search_ids(uri, None).await, vec![shared.clone()]);
    assert_eq!(
        app.search_ids(uri, Some(&bob_t)).await,
        vec![shared.clone()]
    );
    let mut as_mod = app.search_ids(uri, Some(&mod_t)).await;
    as_mod.sort();
    let mut expected = vec![shared.clone(), in_group.clone(), spam.clone()];
    expected.sort();
    assert_eq!(
        as_mod, expected,
        "moderators see hidden annotations in their groups"
    );

    // NIPSA: hidden from everyone but the author, anonymous readers included.
    app.db
        .set_nipsa(&alice.userid().to_string(), true)
        .await
        .unwrap();
    assert!(app.search_ids(uri, None).await.is_empty());
    assert!(app.search_ids(uri, Some(&bob_t)).await.is_empty());
    assert_eq!(app.search_ids(uri, Some(&alice_t)).await.len(), 4);
    let _ = bob;
}

async fn search_filters_and_paging(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, alice_t) = app.user("alice").await;
    let (_, bob_t) = app.user("bob").await;
    let a1 = id(&app.annotate(&alice_t, json!({"uri": "https://example.com/a/?utm_source=x", "tags": ["Rust"], "permissions": {"read": ["group:__world__"]}})).await);
    let a2 = id(&app
        .shared(&alice_t, "__world__", "https://example.com/b", "two")
        .await);
    let b1 = id(&app.annotate(&bob_t, json!({"uri": "https://example.com/a", "tags": ["rust", "web"], "permissions": {"read": ["group:__world__"]}})).await);
    let v2 = id(&app.annotate(&bob_t, json!({"uri": "https://example.com/a", "document": {"version": 2}, "permissions": {"read": ["group:__world__"]}})).await);

    // URIs are normalised like h's (scheme, trailing slash, tracking parameters).
    let mut on_a = app
        .search_ids("uri=http%3A%2F%2Fexample.com%2Fa", None)
        .await;
    on_a.sort();
    let mut expected = vec![a1.clone(), b1.clone()];
    expected.sort();
    assert_eq!(on_a, expected);
    assert_eq!(
        app.search_ids("url=example.com%2Fb", None).await,
        vec![a2.clone()]
    );
    assert_eq!(
        app.search_ids("uri=https%3A%2F%2Fexample.com%2Fa%3Av2", None)
            .await,
        vec![v2.clone()]
    );
    assert_eq!(
        app.search_ids("uri=https%3A%2F%2Fexample.com%2Fa%3Aall", None)
            .await
            .len(),
        3
    );
    assert_eq!(app.search_ids("user=alice", None).await.len(), 2);
    assert_eq!(
        app.search_ids("user=acct%3Abob%40example.com", None)
            .await
            .len(),
        2
    );
    let mut tagged = app.search_ids("tag=RUST", None).await;
    tagged.sort();
    let mut expected = vec![a1.clone(), b1.clone()];
    expected.sort();
    assert_eq!(tagged, expected);
    assert_eq!(
        app.search_ids("tag=rust&tag=web", None).await,
        vec![b1.clone()]
    );
    assert_eq!(app.search_ids("group=__world__", None).await.len(), 4);
    assert!(app.search_ids("group=nope", None).await.is_empty());

    // Newest first by default; limit, offset, order and search_after.
    assert_eq!(app.search_ids("limit=1", None).await, vec![v2.clone()]);
    assert_eq!(
        app.search_ids("limit=1&offset=1", None).await,
        vec![b1.clone()]
    );
    assert_eq!(
        app.search_ids("sort=created&order=asc&limit=2", None).await,
        vec![a1.clone(), a2.clone()]
    );
    let (_, page) = app.get("/api/search?limit=2", None).await;
    assert_eq!(page["total"], 4);
    let last = page["rows"][1]["updated"].as_str().unwrap();
    let after = crate::annotations::urlencode(last);
    assert_eq!(
        app.search_ids(&format!("search_after={after}"), None).await,
        vec![a2.clone(), a1.clone()]
    );

    let (status, body) = app
        .get("/api/search?limit=201&offset=x&sort=nope", None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["reason"],
        "limit: 201 is greater than maximum value 200\noffset: \"x\" is not a number\nsort: \"nope\" is not one of updated, created, group, id, user"
    );
    // Nothing matches: still JSON.
    let (status, empty) = app
        .get("/api/search?uri=https%3A%2F%2Fnothing.example", None)
        .await;
    assert_eq!(
        (status, empty),
        (StatusCode::OK, json!({"total": 0, "rows": []}))
    );
}

async fn search_text_and_replies(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, t) = app.user("alice").await;
    let quoted = id(&app
        .annotate(&t, json!({"uri": "http://example.com", "text": "a fine elephant", "permissions": {"read": ["group:__world__"]},
            "target": [{"source": "http://example.com", "selector": [{"type": "TextQuoteSelector", "exact": "giraffe neck"}]}]}))
        .await);
    let plain = id(&app
        .shared(&t, "__world__", "http://example.com", "zebra stripes")
        .await);
    assert_eq!(
        app.search_ids("text=elephant", None).await,
        vec![quoted.clone()]
    );
    assert_eq!(
        app.search_ids("quote=giraffe", None).await,
        vec![quoted.clone()]
    );
    assert!(app.search_ids("text=giraffe", None).await.is_empty());
    assert_eq!(app.search_ids("any=zebra", None).await, vec![plain.clone()]);
    assert_eq!(app.search_ids("any=neck", None).await, vec![quoted.clone()]);
    assert!(
        app.search_ids("any=%22unbalanced", None).await.is_empty(),
        "quotes in input are just text"
    );

    let reply = id(&app.annotate(&t, json!({"uri": "http://example.com", "references": [plain], "permissions": {"read": ["group:__world__"]}})).await);
    let (_, body) = app
        .get(
            "/api/search?uri=http%3A%2F%2Fexample.com&_separate_replies=true",
            None,
        )
        .await;
    let rows: Vec<&str> = body["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert!(!rows.contains(&reply.as_str()) && rows.len() == 2, "{body}");
    assert_eq!(body["replies"][0]["id"], reply.as_str());
    assert_eq!(
        app.search_ids(&format!("references={plain}"), None).await,
        vec![reply]
    );
}

/// The full-text index follows each write (on SQLite after the write is answered, in batches,
/// see `store/search_index.rs`): a search right after an answer finds the new words and no longer
/// the old ones, an annotation edited twice is found once, and a deleted one not at all.
async fn full_text_follows_updates_and_deletes(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, t) = app.user("alice").await;
    let body = json!({"uri": "http://example.com/ft", "text": "an aardvark", "tags": ["Okapi"],
        "permissions": {"read": ["group:__world__"]}});
    let a = id(&app.annotate(&t, body).await);
    assert_eq!(app.search_ids("text=aardvark", None).await, vec![a.clone()]);
    assert_eq!(app.search_ids("any=okapi", None).await, vec![a.clone()]);
    for (old, new) in [("aardvark", "badger"), ("badger", "cheetah")] {
        let path = format!("/api/annotations/{a}");
        let (status, _) = app.patch(&path, Some(&t), &json!({"text": new})).await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            app.search_ids(&format!("text={old}"), None)
                .await
                .is_empty()
        );
        assert_eq!(
            app.search_ids(&format!("text={new}"), None).await,
            vec![a.clone()]
        );
        assert_eq!(
            app.search_ids("any=okapi", None).await,
            vec![a.clone()],
            "one row each"
        );
    }
    let (status, _) = app.delete(&format!("/api/annotations/{a}"), Some(&t)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(app.search_ids("text=cheetah", None).await.is_empty());
    assert!(app.search_ids("any=okapi", None).await.is_empty());
}

/// A write committed but not yet indexed when the process died (its backlog row left in the
/// database, as a kill -9 between the commit and the index pass leaves it) is indexed when the
/// next server starts, before its first full-text search answers.
#[tokio::test]
async fn a_backlog_left_by_a_crash_is_indexed_at_start() {
    let (db_url, db_dir) = fresh_database(Backend::Sqlite).await;
    let app = spawn_on(&db_url, tempfile::tempdir().unwrap(), |_| {}).await;
    let (_, t) = app.user("alice").await;
    let a = id(&app
        .shared(&t, "__world__", "http://example.com/c", "emu")
        .await);
    app.stop().await.unwrap();

    let pool = sqlx::SqlitePool::connect(&db_url).await.unwrap();
    for sql in [
        "UPDATE annotations SET text = 'dingo' WHERE id = $1",
        "INSERT INTO search_backlog (annotation_id) VALUES ($1)",
    ] {
        sqlx::query(sql).bind(&a).execute(&pool).await.unwrap();
    }
    pool.close().await;

    let app = spawn_on(&db_url, tempfile::tempdir().unwrap(), |_| {}).await;
    assert_eq!(app.search_ids("text=dingo", None).await, vec![a]);
    assert!(app.search_ids("text=emu", None).await.is_empty());
    drop(db_dir);
}

/// SQLite indexes text in batches (`store/search_index.rs`): a few writes stay in the backlog
/// until a search for words asks for them, which then finds every one; and a clean stop leaves
/// nothing unindexed for the next start.
#[tokio::test]
async fn unindexed_writes_are_indexed_when_a_search_asks_and_at_stop() {
    let (db_url, db_dir) = fresh_database(Backend::Sqlite).await;
    let backlog = async || -> i64 {
        let pool = sqlx::SqlitePool::connect(&db_url).await.unwrap();
        let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM search_backlog")
            .fetch_one(&pool)
            .await
            .unwrap();
        pool.close().await;
        n
    };
    let app = spawn_on(&db_url, tempfile::tempdir().unwrap(), |_| {}).await;
    let (_, t) = app.user("alice").await;
    let mut ids = vec![];
    for k in 0..3 {
        let uri = format!("http://example.com/batch/{k}");
        ids.push(id(&app.shared(&t, "__world__", &uri, "wombat").await));
    }
    assert_eq!(
        backlog().await,
        3,
        "three writes wait for a batch or a search"
    );
    let mut found = app.search_ids("text=wombat", None).await;
    found.sort();
    ids.sort();
    assert_eq!(found, ids);
    assert_eq!(backlog().await, 0);

    app.shared(&t, "__world__", "http://example.com/batch/last", "quokka")
        .await;
    assert_eq!(backlog().await, 1);
    app.stop().await.unwrap();
    assert_eq!(backlog().await, 0, "indexed when the server stopped");
    drop(db_dir);
}
