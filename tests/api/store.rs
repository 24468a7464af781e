//! The store itself, below the HTTP layer: transactions that fail leave nothing behind, the
//! change log feeds the bus in order, documents merge, tokens expire.

use std::sync::Arc;
use std::time::Duration;

use scholia::bus::{Bus, LocalBus, tailer};
use scholia::domain::{Annotation, GroupType};
use scholia::store::{
    AnnotationWrite, ChangeAction, Db, DocumentClaims, DocumentUri, HeldConnection, NewGroup,
    NewUser,
};
use tokio_util::sync::CancellationToken;

use crate::helpers::{Backend, fresh_database};
use crate::on_both_engines;

on_both_engines!(
    a_failed_write_leaves_no_rows,
    a_failed_write_in_a_group_spoils_no_other,
    handed_over_changes_fill_gaps_from_the_log,
    tailer_publishes_in_seq_order,
    claims_merge_documents
);

async fn open(backend: Backend) -> (Db, tempfile::TempDir) {
    let (url, dir) = fresh_database(backend).await;
    let db = Db::connect(&url).await.expect("connect");
    db.ensure_world_group("example.com").await.unwrap();
    (db, dir)
}

fn annotation(id: &str, userid: &str, uri: &str) -> Annotation {
    Annotation {
        id: id.into(),
        created: 1,
        updated: 1,
        userid: userid.into(),
        groupid: "__world__".into(),
        target_uri: uri.into(),
        target_uri_normalized: scholia::uri::normalize(uri).unwrap(),
        text: "t".into(),
        tags: vec!["a".into()],
        shared: true,
        references: vec![],
        target_selectors: vec![],
        target_description: None,
        document_id: None,
        extra: Default::default(),
        metadata: None,
        moderation_status: None,
        version: None,
        deleted: false,
    }
}

fn write(a: &Annotation) -> AnnotationWrite {
    AnnotationWrite {
        annotation: a.clone(),
        document: None,
        action: ChangeAction::Create,
        src_client_id: None,
    }
}

async fn count(db: &Db, sql: &'static str) -> i64 {
    match db {
        Db::Sqlite(p) => sqlx::query_scalar(sql).fetch_one(p).await.unwrap(),
        Db::Postgres(p) => sqlx::query_scalar(sql).fetch_one(p).await.unwrap(),
    }
}

async fn a_failed_write_leaves_no_rows(backend: Backend) {
    let (db, _dir) = open(backend).await;
    let ann = annotation(
        "AAAAAAAAAAAAAAAAAAAAAA",
        "acct:a@example.com",
        "http://example.com",
    );
    db.write_annotation(&write(&ann))
        .await
        .expect("first write");
    let before = (
        count(&db, "SELECT COUNT(*) FROM annotations").await,
        count(&db, "SELECT COUNT(*) FROM change_log").await,
        count(&db, "SELECT COUNT(*) FROM annotation_tags").await,
        count(&db, "SELECT COUNT(*) FROM documents").await,
    );
    // Same id again: the primary key refuses it after the document and tag rows were written
    // in the same transaction; all of it must roll back.
    let mut dup = ann.clone();
    dup.tags = vec!["other".into()];
    let claims = DocumentClaims {
        claimant: "http://other.example".into(),
        claimant_normalized: "httpx://other.example".into(),
        title: Some("T".into()),
        uris: vec![DocumentUri {
            uri: "http://other.example".into(),
            uri_normalized: "httpx://other.example".into(),
            r#type: "self-claim".into(),
            content_type: String::new(),
        }],
    };
    let failed = db
        .write_annotation(&AnnotationWrite {
            document: Some(claims),
            ..write(&dup)
        })
        .await;
    assert!(failed.is_err(), "a duplicate id must be refused");
    let after = (
        count(&db, "SELECT COUNT(*) FROM annotations").await,
        count(&db, "SELECT COUNT(*) FROM change_log").await,
        count(&db, "SELECT COUNT(*) FROM annotation_tags").await,
        count(&db, "SELECT COUNT(*) FROM documents").await,
    );
    assert_eq!(before, after);
    // A second user with a username differing only in case and dots is a conflict.
    db.create_user(&NewUser {
        username: "Jo.Ann",
        authority: "example.com",
        ..Default::default()
    })
    .await
    .unwrap();
    let err = db
        .create_user(&NewUser {
            username: "joann",
            authority: "example.com",
            ..Default::default()
        })
        .await;
    assert!(matches!(err, Err(scholia::store::StoreError::Conflict(_))));
    db.close().await;
}

/// Three writes share a transaction; the middle one reuses an id. It alone fails, the other
/// two are stored with their change rows, and the facts a create reads in its transaction
/// (routing, document title) agree with what the store answers afterwards.
async fn a_failed_write_in_a_group_spoils_no_other(backend: Backend) {
    let (db, _dir) = open(backend).await;
    let first = annotation(
        "AAAAAAAAAAAAAAAAAAAAAA",
        "acct:a@example.com",
        "http://a.example",
    );
    db.write_annotation(&write(&first)).await.unwrap();
    let log_before = count(&db, "SELECT COUNT(*) FROM change_log").await;
    let claims = |uri: &str| DocumentClaims {
        claimant: uri.into(),
        claimant_normalized: scholia::uri::normalize(uri).unwrap(),
        title: Some("Title".into()),
        uris: vec![DocumentUri {
            uri: uri.into(),
            uri_normalized: scholia::uri::normalize(uri).unwrap(),
            r#type: "self-claim".into(),
            content_type: String::new(),
        }],
    };
    let b = annotation(
        "BBBBBBBBBBBBBBBBBBBBBB",
        "acct:a@example.com",
        "http://b.example",
    );
    let c = annotation(
        "CCCCCCCCCCCCCCCCCCCCCC",
        "acct:a@example.com",
        "http://b.example",
    );
    let group = [
        AnnotationWrite {
            document: Some(claims("http://b.example")),
            ..write(&b)
        },
        write(&first),
        AnnotationWrite {
            document: Some(claims("http://b.example")),
            ..write(&c)
        },
    ];
    let mut conn = HeldConnection::take(&db).await.unwrap();
    let results = conn.write_annotations(&group).await;
    drop(conn);
    assert!(
        results[0].is_ok() && results[2].is_ok(),
        "the good writes are stored"
    );
    assert!(results[1].is_err(), "the duplicate id is refused");
    assert_eq!(count(&db, "SELECT COUNT(*) FROM annotations").await, 3);
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM change_log").await,
        log_before + 2
    );
    let stored_b = results[0].as_ref().unwrap();
    let stored_c = results[2].as_ref().unwrap();
    assert!(stored_b.change.seq < stored_c.change.seq);
    assert_eq!(stored_b.document_title.as_deref(), Some("Title"));
    assert!(stored_b.annotation.document_id.is_some());
    assert_eq!(
        stored_b.annotation.document_id,
        stored_c.annotation.document_id
    );
    let expanded = db
        .expand_uri("http://b.example", "httpx://b.example")
        .await
        .unwrap();
    assert_eq!(
        stored_c.routing.as_ref().map(|r| r.uris.clone()),
        Some(expanded)
    );
    // The change handed back is the one the log holds.
    let logged = db.changes_after(stored_b.change.seq - 1, 1).await.unwrap();
    assert_eq!(logged, vec![stored_b.change.clone()]);
    db.close().await;
}

/// A change handed over right after the last one published goes out as it was handed; one
/// after a gap makes the tailer read the log, which fills the gap in order.
async fn handed_over_changes_fill_gaps_from_the_log(backend: Backend) {
    let (db, _dir) = open(backend).await;
    let bus: Arc<dyn Bus> = Arc::new(LocalBus::new(64));
    let mut rx = bus.subscribe();
    let wake = Arc::new(tailer::Wake::default());
    let stop = CancellationToken::new();
    let start = db.last_seq().await.unwrap();
    let task = tokio::spawn(tailer::run(
        db.clone(),
        bus.clone(),
        wake.clone(),
        start,
        stop.clone(),
    ));
    let mut next = async || {
        tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .expect("published")
            .unwrap()
    };

    // "Another process" writes (no wake-up), then a local write hands over its change only.
    db.create_user(&NewUser {
        username: "bob",
        authority: "example.com",
        ..Default::default()
    })
    .await
    .unwrap();
    db.set_nipsa("acct:bob@example.com", true).await.unwrap();
    let ann = annotation(
        "DDDDDDDDDDDDDDDDDDDDDD",
        "acct:bob@example.com",
        "http://d.example",
    );
    let written = db.write_annotation(&write(&ann)).await.unwrap();
    wake.committed(written.change.clone());
    let gap_filler = next().await;
    assert_eq!(gap_filler.action, ChangeAction::UserChange);
    assert_eq!(next().await, written.change);

    // Handed over with no gap: published as handed, without reading the log.
    let mut handed = written.change.clone();
    handed.seq += 1;
    handed.src_client_id = Some("handed-only".into());
    wake.committed(handed.clone());
    assert_eq!(next().await, handed);
    stop.cancel();
    task.await.unwrap();
    db.close().await;
}

async fn tailer_publishes_in_seq_order(backend: Backend) {
    let (db, _dir) = open(backend).await;
    let bus: Arc<dyn Bus> = Arc::new(LocalBus::new(64));
    let mut rx = bus.subscribe();
    let wake = Arc::new(tailer::Wake::default());
    let stop = CancellationToken::new();
    let start = db.last_seq().await.unwrap();
    let task = tokio::spawn(tailer::run(
        db.clone(),
        bus.clone(),
        wake.clone(),
        start,
        stop.clone(),
    ));

    // Writes by "another process" (the same store, no wake-up): found by polling.
    let user = db
        .create_user(&NewUser {
            username: "alice",
            authority: "example.com",
            ..Default::default()
        })
        .await
        .unwrap();
    let group = db
        .create_group(
            &NewGroup {
                name: "G1",
                description: None,
                group_type: GroupType::Private,
                pre_moderated: false,
                authority: "example.com",
                authority_provided_id: None,
                creator: Some(&user),
            },
            Some("cid"),
        )
        .await
        .unwrap();
    db.set_nipsa("acct:alice@example.com", true).await.unwrap();
    db.remove_member(&group, &user, None).await.unwrap();
    wake.written();

    let mut got = vec![];
    for _ in 0..3 {
        let change = tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .expect("published")
            .unwrap();
        got.push((change.seq, change.action, change.src_client_id));
    }
    assert_eq!(
        got.iter()
            .map(|(_, a, c)| (*a, c.clone()))
            .collect::<Vec<_>>(),
        vec![
            (ChangeAction::GroupJoin, Some("cid".to_owned())),
            (ChangeAction::UserChange, None),
            (ChangeAction::GroupLeave, None),
        ]
    );
    assert!(got[0].0 < got[1].0 && got[1].0 < got[2].0);
    stop.cancel();
    assert_eq!(task.await.unwrap(), got[2].0);
    db.close().await;
}

async fn claims_merge_documents(backend: Backend) {
    let (db, _dir) = open(backend).await;
    let claim = |uri: &str, t: &str| DocumentUri {
        uri: uri.into(),
        uri_normalized: scholia::uri::normalize(uri).unwrap(),
        r#type: t.into(),
        content_type: String::new(),
    };
    let doc = |claimant: &str, uris: Vec<DocumentUri>| DocumentClaims {
        claimant: claimant.into(),
        claimant_normalized: scholia::uri::normalize(claimant).unwrap(),
        title: None,
        uris,
    };
    let a = annotation(
        "AAAAAAAAAAAAAAAAAAAAAA",
        "acct:a@example.com",
        "http://a.example",
    );
    let b = annotation(
        "BBBBBBBBBBBBBBBBBBBBBB",
        "acct:a@example.com",
        "http://b.example",
    );
    let c = annotation(
        "CCCCCCCCCCCCCCCCCCCCCC",
        "acct:a@example.com",
        "http://a.example",
    );
    let docs = [
        doc(
            "http://a.example",
            vec![claim("http://a.example", "self-claim")],
        ),
        doc(
            "http://b.example",
            vec![claim("http://b.example", "self-claim")],
        ),
        // The third page claims both: the two documents become one.
        doc(
            "http://a.example",
            vec![
                claim("http://b.example", "rel-alternate"),
                claim("http://a.example", "self-claim"),
            ],
        ),
    ];
    for (ann, d) in [(&a, &docs[0]), (&b, &docs[1]), (&c, &docs[2])] {
        db.write_annotation(&AnnotationWrite {
            annotation: ann.clone(),
            document: Some(d.clone()),
            action: ChangeAction::Create,
            src_client_id: None,
        })
        .await
        .unwrap();
    }
    assert_eq!(count(&db, "SELECT COUNT(*) FROM documents").await, 1);
    assert_eq!(
        count(&db, "SELECT COUNT(DISTINCT document_id) FROM annotations").await,
        1
    );
    let mut expanded = db
        .expand_uri("http://b.example", "httpx://b.example")
        .await
        .unwrap();
    expanded.sort();
    expanded.dedup();
    assert_eq!(
        expanded,
        vec![
            "httpx://a.example".to_owned(),
            "httpx://b.example".to_owned()
        ]
    );
    assert_eq!(
        db.expand_uri("http://z.example", "httpx://z.example")
            .await
            .unwrap(),
        vec!["httpx://z.example".to_owned()]
    );
    db.close().await;
}
