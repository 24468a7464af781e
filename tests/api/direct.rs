//! Point reads made on the caller's thread (`store/direct.rs`): they answer what the pool
//! answers, see another connection's commit at once, and step aside instead of waiting when
//! the database is locked.

use std::time::{Duration, Instant};

use scholia::domain::{GroupType, Role};
use scholia::store::{Db, DirectReads, NewGroup, NewUser};

use crate::helpers::{Backend, fresh_database, postgres_url};
use crate::store::open;

async fn alice_in_a_group(db: &Db) -> (String, String) {
    let user = db
        .create_user(&NewUser {
            username: "alice",
            authority: "example.com",
            ..Default::default()
        })
        .await
        .unwrap();
    let token = db.create_developer_token(&user).await.unwrap();
    let (group, _) = db
        .create_group(
            &NewGroup {
                name: "Readers",
                description: Some("a group"),
                group_type: GroupType::Restricted,
                pre_moderated: true,
                authority: "example.com",
                authority_provided_id: None,
                creator: Some(&user),
            },
            None,
        )
        .await
        .unwrap();
    (token, group.pubid)
}

#[tokio::test]
async fn direct_reads_answer_what_the_pool_answers() {
    let (db, _dir) = open(Backend::Sqlite).await;
    let (token, pubid) = alice_in_a_group(&db).await;
    let direct = DirectReads::for_db(&db).expect("a file database reads directly");

    let pooled = db.identity_for_token(&token).await.unwrap();
    let read = direct.identity_for_token(&token).expect("direct read");
    assert_eq!(read, pooled);
    let who = read.expect("a valid token");
    assert_eq!(who.userid, "acct:alice@example.com");
    assert_eq!(who.roles.get(&pubid), Some(&Role::Owner));

    let pooled = db.group_by_pubid(&pubid).await.unwrap();
    let read = direct.group_by_pubid(&pubid).expect("direct read");
    assert_eq!(read, pooled);
    assert!(read.is_some_and(|g| g.pre_moderated && g.name == "Readers"));

    assert_eq!(direct.identity_for_token("no-such-token"), Some(None));
    assert_eq!(direct.group_by_pubid("nosuchgroup"), Some(None));
}

#[tokio::test]
async fn a_commit_elsewhere_is_seen_by_the_next_read() {
    let (db, _dir) = open(Backend::Sqlite).await;
    let (token, _) = alice_in_a_group(&db).await;
    let direct = DirectReads::for_db(&db).unwrap();
    let before = direct.identity_for_token(&token).unwrap().unwrap();
    assert!(!before.user.nipsa);

    db.set_nipsa("acct:alice@example.com", true).await.unwrap();
    let after = direct.identity_for_token(&token).unwrap().unwrap();
    assert!(after.user.nipsa, "the connection kept a stale snapshot");
}

#[tokio::test]
async fn a_locked_database_is_left_to_the_pool() {
    let (url, _dir) = fresh_database(Backend::Sqlite).await;
    let db = Db::connect(&url).await.unwrap();
    let (token, _) = alice_in_a_group(&db).await;
    db.close().await;

    // A connection in exclusive locking mode keeps even WAL readers out until it closes (it
    // can only take that lock while no other connection is open).
    let path = url.strip_prefix("sqlite://").unwrap();
    let locker = rusqlite::Connection::open(path).unwrap();
    locker
        .execute_batch(
            "PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE; UPDATE users SET nipsa = nipsa; COMMIT;",
        )
        .unwrap();
    let direct = DirectReads::for_db(&db).unwrap();
    let started = Instant::now();
    assert_eq!(direct.identity_for_token(&token), None);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "a direct read waited for the lock"
    );
    drop(locker);
    assert!(direct.identity_for_token(&token).unwrap().is_some());
}

#[tokio::test]
async fn pg_reads_through_its_pool() {
    // Without the URL, `postgres_url` says the test is skipped (and fails under CI).
    if postgres_url().is_none() {
        return;
    }
    let (db, _dir) = open(Backend::Postgres).await;
    assert!(DirectReads::for_db(&db).is_none());
}
