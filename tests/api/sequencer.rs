//! The sequencer, the hub's end of the announce path: it hands on every change in seq order,
//! whether a local write announced it, a feed told of it, or it had to read the log (another
//! process's writes, gaps, polls).

use std::sync::Arc;
use std::time::Duration;

use scholia::bus::feed::BoxFuture;
use scholia::bus::{
    self, Announcement, Announcer, ChangeFeed, FeedError, Known, LocalFeed, Notice,
};
use scholia::domain::GroupType;
use scholia::render::Related;
use scholia::store::{Change, ChangeAction, Db, NewGroup, NewUser, RoutingFacts};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::helpers::Backend;
use crate::on_both_engines;
use crate::store::{annotation, open, write};

on_both_engines!(
    announced_changes_fill_gaps_from_the_log,
    changes_of_other_processes_are_found_by_polling_in_order,
    a_feed_notice_past_the_last_change_reads_the_log,
    a_change_the_feed_carries_keeps_what_its_write_knew,
    dropped_repeated_and_reordered_feed_messages_lose_and_reorder_nothing
);

/// A sequencer over `db`'s change log from its current end, its output on a channel.
struct Sequenced {
    rx: mpsc::UnboundedReceiver<bus::Sequenced>,
    announcer: Announcer,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<i64>,
}

impl Sequenced {
    async fn start(db: &Db, feed: Arc<dyn ChangeFeed>) -> Sequenced {
        let start = db.last_seq().await.unwrap();
        Sequenced::start_after(db, feed, start).await
    }

    /// Starts handing on the changes after `start`.
    async fn start_after(db: &Db, feed: Arc<dyn ChangeFeed>, start: i64) -> Sequenced {
        let poll = Duration::from_millis(250);
        let mark = bus::Watermark::new(start);
        let (announcer, mut sequencer) = bus::connect(db.clone(), feed, mark, poll).await.unwrap();
        let (tx, rx) = mpsc::unbounded_channel();
        let stop = CancellationToken::new();
        let stopping = stop.clone();
        let task = tokio::spawn(async move {
            let mut batch = vec![];
            loop {
                let more = sequencer.next_batch(&mut batch, &stopping).await;
                for due in batch.drain(..) {
                    let _ = tx.send(due);
                }
                if !more {
                    return sequencer.last();
                }
            }
        });
        Sequenced {
            rx,
            announcer,
            stop,
            task,
        }
    }

    async fn next(&mut self) -> Change {
        self.next_due().await.change
    }

    /// The next change with what came with it.
    async fn next_due(&mut self) -> bus::Sequenced {
        tokio::time::timeout(Duration::from_secs(5), self.rx.recv())
            .await
            .expect("handed on")
            .unwrap()
    }

    async fn stop(self) -> i64 {
        self.stop.cancel();
        self.task.await.unwrap()
    }
}

/// A change announced right after the last one handed on goes out as it was announced; one
/// after a gap makes the sequencer read the log, which fills the gap in order.
async fn announced_changes_fill_gaps_from_the_log(backend: Backend) {
    let (db, _dir) = open(backend).await;
    let mut s = Sequenced::start(&db, Arc::new(LocalFeed::default())).await;

    // "Another process" writes (no announcement), then a local write announces its change.
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
    s.announcer
        .announce(Announcement::change(written.change.clone()))
        .await;
    let gap_filler = s.next().await;
    assert_eq!(gap_filler.action, ChangeAction::UserChange);
    assert_eq!(s.next().await, written.change);

    // Announced with no gap: handed on as announced, without reading the log.
    let mut handed = written.change.clone();
    handed.seq += 1;
    handed.src_client_id = Some("handed-only".into());
    s.announcer
        .announce(Announcement::change(handed.clone()))
        .await;
    assert_eq!(s.next().await, handed);
    // A repeat of a change already handed on is not handed on again.
    s.announcer.announce(Announcement::change(handed)).await;
    s.stop().await;
    db.close().await;
}

async fn changes_of_other_processes_are_found_by_polling_in_order(backend: Backend) {
    let (db, _dir) = open(backend).await;
    let mut s = Sequenced::start(&db, Arc::new(LocalFeed::default())).await;

    // Writes by "another process" (the same store, nothing announced): found by polling.
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

    let mut got = vec![];
    for _ in 0..3 {
        let change = s.next().await;
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
    assert_eq!(s.stop().await, got[2].0);
    db.close().await;
}

/// A feed whose notices the test sends by hand.
struct HandFeed {
    notices: std::sync::Mutex<Option<mpsc::Receiver<Notice>>>,
}

impl ChangeFeed for HandFeed {
    fn engine(&self) -> &'static str {
        "hand"
    }
    fn publish<'a>(
        &'a self,
        _change: &'a Change,
        _known: Option<&'a Known>,
    ) -> BoxFuture<'a, Result<(), FeedError>> {
        Box::pin(async { Ok(()) })
    }
    fn subscribe(&self) -> BoxFuture<'_, Result<mpsc::Receiver<Notice>, FeedError>> {
        let rx = self.notices.lock().unwrap().take().expect("one subscriber");
        Box::pin(async { Ok(rx) })
    }
}

/// A notice that changes past the last one exist sends the sequencer to the log; a notice
/// that lies (no such change) costs a read and hands on nothing.
async fn a_feed_notice_past_the_last_change_reads_the_log(backend: Backend) {
    let (db, _dir) = open(backend).await;
    let (notify, notices) = mpsc::channel(8);
    let feed = HandFeed {
        notices: std::sync::Mutex::new(Some(notices)),
    };
    let mut s = Sequenced::start(&db, Arc::new(feed)).await;
    db.create_user(&NewUser {
        username: "carol",
        authority: "example.com",
        ..Default::default()
    })
    .await
    .unwrap();
    // "Another node" commits and its notice arrives (duplicated, then a lie past the end).
    db.set_nipsa("acct:carol@example.com", true).await.unwrap();
    let seq = db.last_seq().await.unwrap();
    notify.send(Notice::UpTo(seq)).await.unwrap();
    notify.send(Notice::UpTo(seq)).await.unwrap();
    notify.send(Notice::UpTo(seq + 100)).await.unwrap();
    let change = s.next().await;
    assert_eq!((change.seq, change.action), (seq, ChangeAction::UserChange));
    // The next real change still arrives, in order, with nothing in between.
    db.set_nipsa("acct:carol@example.com", false).await.unwrap();
    notify.send(Notice::UpTo(seq + 1)).await.unwrap();
    assert_eq!(s.next().await.seq, seq + 1);
    assert!(s.rx.try_recv().is_err(), "nothing else was handed on");
    assert_eq!(s.stop().await, seq + 1);
    db.close().await;
}

/// A create another node's feed message carried with its write's facts is handed on with them
/// (the router then reads nothing back), even when it arrived out of order after a gap that the
/// log filled: the facts wait for their change.
async fn a_change_the_feed_carries_keeps_what_its_write_knew(backend: Backend) {
    let (db, _dir) = open(backend).await;
    let (notify, notices) = mpsc::channel(8);
    let feed = HandFeed {
        notices: std::sync::Mutex::new(Some(notices)),
    };
    let start = db.last_seq().await.unwrap();
    db.create_user(&NewUser {
        username: "erin",
        authority: "example.com",
        ..Default::default()
    })
    .await
    .unwrap();
    db.set_nipsa("acct:erin@example.com", false).await.unwrap();
    let mut created = vec![];
    for id in ["EEEEEEEEEEEEEEEEEEEEE1", "EEEEEEEEEEEEEEEEEEEEE2"] {
        let ann = annotation(id, "acct:erin@example.com", "http://e.example");
        let written = db.write_annotation(&write(&ann)).await.unwrap();
        let known = Known {
            annotation: db.annotation(id).await.unwrap().unwrap(),
            related: Related::default(),
            routing: RoutingFacts {
                uris: vec!["http://e.example".into()],
                checkpoint: None,
            },
        };
        created.push((written.change, known));
    }
    // The user's change is never heard of; the second create's message comes first. Both
    // wait before the sequencer starts, so its first read of the log finds them there.
    for (change, known) in created.iter().rev() {
        notify
            .send(Notice::Committed(
                change.clone(),
                Some(Box::new(known.clone())),
            ))
            .await
            .unwrap();
    }
    let mut s = Sequenced::start_after(&db, Arc::new(feed), start).await;
    let user_change = s.next_due().await;
    assert_eq!(user_change.change.action, ChangeAction::UserChange);
    assert!(user_change.known.is_none());
    for (change, known) in &created {
        let due = s.next_due().await;
        assert_eq!(due.change, *change);
        assert_eq!(due.known.as_deref(), Some(known));
    }
    s.stop().await;
    db.close().await;
}

/// The bus carries changes but may drop, repeat and reorder them: the sequencer still hands on
/// every change of the log once, in order (the log is the oracle).
async fn dropped_repeated_and_reordered_feed_messages_lose_and_reorder_nothing(backend: Backend) {
    let (db, _dir) = open(backend).await;
    let (notify, notices) = mpsc::channel(16);
    let feed = HandFeed {
        notices: std::sync::Mutex::new(Some(notices)),
    };
    let start = db.last_seq().await.unwrap();
    let mut s = Sequenced::start(&db, Arc::new(feed)).await;
    // "Another node" commits five changes; its messages arrive mangled.
    db.create_user(&NewUser {
        username: "dave",
        authority: "example.com",
        ..Default::default()
    })
    .await
    .unwrap();
    for nipsa in [true, false, true, false, true] {
        db.set_nipsa("acct:dave@example.com", nipsa).await.unwrap();
    }
    let log = db.changes_after(start, 100).await.unwrap();
    assert_eq!(log.len(), 5);
    for i in [3, 0, 0, 4, 1, 3] {
        // 2 is dropped; 0 and 3 come twice; 3 comes before 0.
        notify
            .send(Notice::Committed(log[i].clone(), None))
            .await
            .unwrap();
    }
    let mut got = vec![];
    for _ in 0..log.len() {
        got.push(s.next().await);
    }
    assert_eq!(got, log);
    // Nothing more: the repeats were dropped.
    let last = log.last().unwrap().clone();
    db.set_nipsa("acct:dave@example.com", false).await.unwrap();
    let next = s.next().await;
    assert!(next.seq > last.seq, "{next:?} after {last:?}");
    assert_eq!(s.stop().await, next.seq);
    db.close().await;
}
