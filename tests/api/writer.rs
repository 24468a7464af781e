//! The group-commit writer: concurrent writes all land, each with its own outcome, and on
//! SQLite the WAL is restarted rather than left to grow while writes never stop.

use std::time::{Duration, Instant};

use scholia::domain::Annotation;
use scholia::store::{AnnotationWrite, ChangeAction, Db, Writer};
use tokio_util::sync::CancellationToken;

use crate::helpers::{Backend, fresh_database};
use crate::on_both_engines;

on_both_engines!(concurrent_writes_each_get_their_own_outcome);

fn annotation(n: usize) -> Annotation {
    let uri = format!("http://example.com/{n}");
    Annotation {
        id: format!("{n:0>22}"),
        created: 1,
        updated: 1,
        userid: "acct:alice@example.com".into(),
        groupid: "__world__".into(),
        target_uri_normalized: scholia::uri::normalize(&uri).unwrap(),
        target_uri: uri,
        text: "some text".into(),
        tags: vec!["t".into()],
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
    let writer = Writer::start(&db, db.for_writer().await.unwrap(), stop.clone());
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
