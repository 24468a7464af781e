//! The group-commit writer: concurrent writes all land, each with its own outcome, and on
//! SQLite the WAL is restarted rather than left to grow while writes never stop.

use std::time::{Duration, Instant};

use scholia::domain::Annotation;
use scholia::store::{
    AnnotationWrite, ChangeAction, Db, DocumentClaims, DocumentUri, HeldConnection, Writer,
};
use tokio_util::sync::CancellationToken;

use crate::helpers::{Backend, fresh_database};
use crate::on_both_engines;
use crate::store;

on_both_engines!(
    a_failed_write_in_a_group_spoils_no_other,
    concurrent_writes_each_get_their_own_outcome
);

fn annotation(n: usize) -> Annotation {
    crate::store::annotation(
        &format!("{n:0>22}"),
        "acct:alice@example.com",
        &format!("http://example.com/{n}"),
    )
}

fn create(a: Annotation) -> AnnotationWrite {
    AnnotationWrite {
        annotation: a,
        document: None,
        action: ChangeAction::Create,
        src_client_id: None,
    }
}

async fn start(backend: Backend) -> (Db, Writer, CancellationToken, tempfile::TempDir) {
    let (url, dir) = fresh_database(backend).await;
    let db = Db::connect(&url).await.expect("connect");
    db.ensure_world_group("example.com").await.unwrap();
    let stop = CancellationToken::new();
    let tasks = tokio_util::task::TaskTracker::new();
    let writer = Writer::start(&db, db.for_writer().await.unwrap(), &tasks, stop.clone());
    (db, writer, stop, dir)
}

/// Forty writes sent at once, one of them a duplicate id: the duplicate alone fails, every
/// other write is stored, and their change-log seqs are distinct.
async fn concurrent_writes_each_get_their_own_outcome(backend: Backend) {
    let (db, writer, stop, _dir) = start(backend).await;
    writer
        .write(create(annotation(0)))
        .await
        .expect("first write");
    let tasks: Vec<_> = (1..=40)
        .map(|n| {
            let writer = writer.clone();
            // Write 20 reuses the id of write 0.
            let a = annotation(if n == 20 { 0 } else { n });
            tokio::spawn(async move { writer.write(create(a)).await })
        })
        .collect();
    let mut seqs = vec![];
    for (i, t) in tasks.into_iter().enumerate() {
        match t.await.unwrap() {
            Ok(w) => seqs.push(w.change.seq),
            Err(e) => assert_eq!(i + 1, 20, "only the duplicate fails, not {}: {e}", i + 1),
        }
    }
    assert_eq!(seqs.len(), 39);
    seqs.sort_unstable();
    seqs.dedup();
    assert_eq!(seqs.len(), 39, "every stored write has its own seq");
    assert_eq!(db.changes_after(0, 100).await.unwrap().len(), 40);
    stop.cancel();
    db.close().await;
}

/// Frames in the WAL, as a passive checkpoint reports them.
async fn wal_frames(db: &Db) -> i64 {
    let Db::Sqlite(p) = db else { unreachable!() };
    let (_, frames, _): (i64, i64, i64) = sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)")
        .fetch_one(p)
        .await
        .unwrap();
    frames
}

/// With writes that never pause, the WAL still goes back to its start once it has grown past
/// the restart threshold (the writer's own connection never checkpoints by itself, and a
/// passive checkpoint elsewhere cannot rewind the WAL while writes keep coming).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wal_restarts_under_steady_writes() {
    // Enough writers that one is always queued when a group commits: the writer then never
    // idles between groups, which is when a WAL could restart by chance.
    const WRITERS: usize = 200;
    let (db, writer, stop, _dir) = start(Backend::Sqlite).await;
    let writing = CancellationToken::new();
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let (writer, writing) = (writer.clone(), writing.clone());
            tokio::spawn(async move {
                let mut n = w;
                while !writing.is_cancelled() {
                    n += WRITERS;
                    writer.write(create(annotation(n))).await.unwrap();
                }
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut most = 0;
    loop {
        assert!(
            Instant::now() < deadline,
            "the WAL never restarted (largest seen: {most} frames)"
        );
        let frames = wal_frames(&db).await;
        if most > 1000 && frames < most / 2 {
            break;
        }
        most = most.max(frames);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    writing.cancel();
    for w in writers {
        w.await.unwrap();
    }
    stop.cancel();
    db.close().await;
}

/// Three writes share a transaction; the middle one reuses an id. It alone fails, the other
/// two are stored with their change rows, and the facts a create reads in its transaction
/// (routing, document title) agree with what the store answers afterwards.
async fn a_failed_write_in_a_group_spoils_no_other(backend: Backend) {
    let (db, _dir) = store::open(backend).await;
    let first = store::annotation(
        "AAAAAAAAAAAAAAAAAAAAAA",
        "acct:a@example.com",
        "http://a.example",
    );
    db.write_annotation(&store::write(&first)).await.unwrap();
    let log_before = store::count(&db, "SELECT COUNT(*) FROM change_log").await;
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
    let b = store::annotation(
        "BBBBBBBBBBBBBBBBBBBBBB",
        "acct:a@example.com",
        "http://b.example",
    );
    let c = store::annotation(
        "CCCCCCCCCCCCCCCCCCCCCC",
        "acct:a@example.com",
        "http://b.example",
    );
    let group = [
        AnnotationWrite {
            document: Some(claims("http://b.example")),
            ..store::write(&b)
        },
        store::write(&first),
        AnnotationWrite {
            document: Some(claims("http://b.example")),
            ..store::write(&c)
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
    assert_eq!(
        store::count(&db, "SELECT COUNT(*) FROM annotations").await,
        3
    );
    assert_eq!(
        store::count(&db, "SELECT COUNT(*) FROM change_log").await,
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
