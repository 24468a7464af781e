//! The store itself, below the HTTP layer: transactions that fail leave nothing behind,
//! documents merge, usernames conflict. The tailer and the group-commit writer have files of
//! their own.

use scholia::domain::Annotation;
use scholia::store::{AnnotationWrite, ChangeAction, Db, DocumentClaims, DocumentUri, NewUser};

use crate::helpers::{Backend, fresh_database};
use crate::on_both_engines;

on_both_engines!(a_failed_write_leaves_no_rows, claims_merge_documents);

pub(crate) async fn open(backend: Backend) -> (Db, tempfile::TempDir) {
    let (url, dir) = fresh_database(backend).await;
    let db = Db::connect(&url).await.expect("connect");
    db.ensure_world_group("example.com").await.unwrap();
    (db, dir)
}

pub(crate) fn annotation(id: &str, userid: &str, uri: &str) -> Annotation {
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

pub(crate) fn write(a: &Annotation) -> AnnotationWrite {
    AnnotationWrite {
        annotation: a.clone(),
        document: None,
        action: ChangeAction::Create,
        src_client_id: None,
    }
}

pub(crate) async fn count(db: &Db, sql: &'static str) -> i64 {
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
