//! The change-log tailer: it publishes every change in seq order, whether a local write handed
//! it over or it had to read the log (another process's writes, gaps).

use std::sync::Arc;
use std::time::Duration;

use scholia::bus::{Bus, LocalBus, tailer};
use scholia::domain::GroupType;
use scholia::store::{ChangeAction, Db, NewGroup, NewUser};
use tokio_util::sync::CancellationToken;

use crate::helpers::Backend;
use crate::on_both_engines;
use crate::store::{annotation, open, write};

on_both_engines!(
    handed_over_changes_fill_gaps_from_the_log,
    tailer_publishes_in_seq_order
);

/// A tailer publishing `db`'s change log on a bus of its own, from the log's current end.
struct Tailer {
    rx: tokio::sync::broadcast::Receiver<scholia::store::Change>,
    wake: Arc<tailer::Wake>,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<i64>,
}

impl Tailer {
    async fn start(db: &Db) -> Tailer {
        let bus: Arc<dyn Bus> = Arc::new(LocalBus::new(64));
        let rx = bus.subscribe();
        let wake = Arc::new(tailer::Wake::default());
        let stop = CancellationToken::new();
        let start = db.last_seq().await.unwrap();
        let task = tokio::spawn(tailer::run(
            db.clone(),
            bus,
            wake.clone(),
            start,
            stop.clone(),
        ));
        Tailer {
            rx,
            wake,
            stop,
            task,
        }
    }
}

/// A change handed over right after the last one published goes out as it was handed; one
/// after a gap makes the tailer read the log, which fills the gap in order.
async fn handed_over_changes_fill_gaps_from_the_log(backend: Backend) {
    let (db, _dir) = open(backend).await;
    let Tailer {
        mut rx,
        wake,
        stop,
        task,
    } = Tailer::start(&db).await;
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
    let Tailer {
        mut rx,
        wake,
        stop,
        task,
    } = Tailer::start(&db).await;

    // Writes by "another process" (the same store, no wake-up): found by polling.
    let user = db
        .create_user(&NewUser {
            username: "alice",
            authority: "example.com",
            ..Default::default()
        })
        .await
        .unwrap();
    let (group, _) = db
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
