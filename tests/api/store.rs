//! The store itself, below the HTTP layer: transactions that fail leave nothing behind,
//! documents merge, usernames conflict. The tailer and the group-commit writer have files of
//! their own.

use scholia::domain::Annotation;
use scholia::store::{AnnotationWrite, ChangeAction, Db, DocumentClaims, DocumentUri, NewUser};

use crate::helpers::{Backend, fresh_database};
use crate::on_both_engines;

on_both_engines!(
    a_failed_write_leaves_no_rows,
    claims_merge_documents,
    any_text_is_stored_as_given
);

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

/// Text that would end, escape or comment out a statement written into SQL (as PostgreSQL's
/// runs of statements write values, `store::pg_tx`) is stored and read back exactly, in every
/// text column a create writes, alone and in a group of writes.
async fn any_text_is_stored_as_given(backend: Backend) {
    let (db, _dir) = open(backend).await;
    let nasty = [
        "it's",
        "\\'; DROP TABLE annotations; --",
        "E'\\x00' $1 $$ $2::int8 /* -- */",
        "\"quoted\" ); COMMIT; SELECT 1;",
        "backslash at the end \\",
        "ünïcödé ✓ 𝄞 \u{202e} \t\r\n",
        "-1",
        "",
    ];
    let mut writes = vec![];
    for (k, text) in nasty.iter().enumerate() {
        let uri = format!("http://example.com/{}?q='{k}'", text.len());
        let mut a = annotation(&format!("NASTY{k:017}"), "acct:a@example.com", &uri);
        a.text = (*text).into();
        a.tags = vec![format!("tag {text}"), "plain".into()];
        a.target_description = Some((*text).into());
        a.extra.insert((*text).into(), serde_json::json!(text));
        let claims = DocumentClaims {
            claimant: uri.clone(),
            claimant_normalized: scholia::uri::normalize(&uri).unwrap(),
            title: Some(format!("title {text}")),
            uris: vec![],
        };
        writes.push(AnnotationWrite {
            document: Some(claims),
            src_client_id: Some((*text).into()),
            ..write(&a)
        });
    }
    // The first alone, the rest in one transaction.
    let (first, rest) = writes.split_first().unwrap();
    db.write_annotation(first).await.unwrap();
    let mut conn = scholia::store::HeldConnection::take(&db).await.unwrap();
    for r in conn.write_annotations(rest).await {
        r.unwrap();
    }
    drop(conn);
    for w in &writes {
        let stored = db.annotation(&w.annotation.id).await.unwrap().unwrap();
        assert_eq!(stored.text, w.annotation.text);
        assert_eq!(stored.target_description, w.annotation.target_description);
        assert_eq!(stored.extra, w.annotation.extra);
        let mut tags = stored.tags.clone();
        tags.sort();
        let mut want = w.annotation.tags.clone();
        want.sort();
        assert_eq!(tags, want);
        assert_eq!(stored.target_uri, w.annotation.target_uri);
    }
    let log = db.changes_after(0, 100).await.unwrap();
    let clients: Vec<_> = log.iter().filter_map(|c| c.src_client_id.clone()).collect();
    assert_eq!(clients, nasty.map(str::to_owned).to_vec());
    assert_eq!(count(&db, "SELECT COUNT(*) FROM annotations").await, 8);
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
