//! The hub's end of the path: what writes announce, what the feed says and what the change log
//! holds, merged into one stream in `seq` order with no gap and no repeat.
//!
//! An announcement that follows the last change handed on goes out as it came, with what its
//! write knew, and costs no read. The log is read, by `Sequencer::read_log` alone, when
//! something says a change is missing: an announcement past a gap (another process wrote, or a
//! concurrent write announced first), a feed notice past the last change, or a poll when the
//! poll interval (the `bus_poll_ms` setting) has passed since the last read with nothing heard
//! from the feed: the latency of a change written by another process or node when no feed tells
//! of it. A change read from the log still gets the facts its announcement or feed message
//! carried if that has arrived by then.

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::Watermark;
use super::announce::{Announcement, Known};
use super::feed::Notice;
use crate::store::{Change, Db};

/// Changes read from the log at once.
const BATCH: i64 = 1000;

/// One change, due to be routed, with what its write knew if it was announced here.
#[derive(Debug)]
pub struct Sequenced {
    pub change: Change,
    pub known: Option<Box<Known>>,
}

pub struct Sequencer {
    db: Db,
    inbox: mpsc::Receiver<Announcement>,
    /// `None` once the feed has closed: the log is then polled alone.
    notices: Option<mpsc::Receiver<Notice>>,
    /// The seq of the newest change handed on.
    last: i64,
    /// Raised as changes are handed on.
    watermark: Watermark,
    /// Announcements and carried changes past `last`, waiting for the ones before them.
    ahead: BTreeMap<i64, Sequenced>,
    /// The highest seq a feed notice said exists.
    heard: i64,
    /// The log must be read even with no gap in sight (at start, and after a poll).
    read_due: bool,
    /// How long to wait, hearing nothing from the feed, before reading the log anyway.
    poll: Duration,
    /// When that is: `poll` after the last read of the log or the last feed notice. This
    /// node's own announcements do not put it off, so a busy node still finds other nodes'
    /// changes within `poll` when the feed is silent.
    next_poll: Instant,
    /// The last read failed or found nothing new: no new attempt until something new arrives
    /// or the next poll, so a database that is down is not hammered.
    backing_off: bool,
}

impl Sequencer {
    /// Hands on changes after the watermark's seq (the log's end when the node started).
    pub fn new(
        db: Db,
        inbox: mpsc::Receiver<Announcement>,
        notices: mpsc::Receiver<Notice>,
        watermark: Watermark,
        poll: Duration,
    ) -> Sequencer {
        let last = watermark.get();
        Sequencer {
            db,
            inbox,
            notices: Some(notices),
            last,
            watermark,
            ahead: BTreeMap::new(),
            heard: last,
            read_due: true,
            poll,
            next_poll: Instant::now() + poll,
            backing_off: false,
        }
    }

    /// The seq of the newest change handed on.
    pub fn last(&self) -> i64 {
        self.last
    }

    /// Waits until changes are due and appends them to `out`, in seq order: every change that
    /// is due by then, so a hub that fell behind takes its backlog in one batch. Returns false
    /// once `shutdown` fires, after a last read of the log (so changes committed while the
    /// server stopped are still handed on).
    pub async fn next_batch(
        &mut self,
        out: &mut Vec<Sequenced>,
        shutdown: &CancellationToken,
    ) -> bool {
        loop {
            self.take_waiting();
            self.release_ready(out);
            if self.must_read() && !self.read_due {
                // A gap among this node's own announcements is most often a group of writes
                // committed together whose handlers announce in any order, and one among the
                // feed's messages two nodes' publishes that crossed: let the handlers and the
                // feed's reader run once before paying for a read.
                tokio::task::yield_now().await;
                self.take_waiting();
                self.release_ready(out);
            }
            if self.must_read() {
                self.read_log(out).await;
            }
            if !out.is_empty() {
                self.report_lag();
                return true;
            }
            let polled = tokio::select! {
                biased;
                _ = shutdown.cancelled() => {
                    self.take_waiting();
                    self.read_due = true;
                    self.backing_off = false;
                    self.read_log(out).await;
                    return false;
                }
                Some(a) = self.inbox.recv() => {
                    self.accept(a);
                    false
                }
                notice = recv_notice(&mut self.notices) => {
                    match notice {
                        Some(n) => self.hear(n),
                        None => self.notices = None,
                    }
                    false
                }
                _ = tokio::time::sleep_until(self.next_poll) => true,
            };
            if polled {
                metrics::counter!("scholia_log_polls_total").increment(1);
                self.read_due = true;
                self.backing_off = false;
            }
        }
    }

    /// How far this node trails what it knows exists, for `/metrics` (the lag in time is
    /// `scholia_ws_commit_to_handoff_seconds`).
    fn report_lag(&self) {
        let known = self.heard.max(self.watermark.get());
        metrics::gauge!("scholia_hub_seq").set(self.last as f64);
        metrics::gauge!("scholia_hub_seq_lag").set((known - self.last).max(0) as f64);
    }

    /// Takes every announcement and notice already waiting, without blocking.
    fn take_waiting(&mut self) {
        while let Ok(a) = self.inbox.try_recv() {
            self.accept(a);
        }
        while let Some(n) = self.notices.as_mut().and_then(|rx| rx.try_recv().ok()) {
            self.hear(n);
        }
    }

    fn accept(&mut self, a: Announcement) {
        self.backing_off = false;
        if a.change.seq > self.last {
            let seq = a.change.seq;
            self.ahead.insert(
                seq,
                Sequenced {
                    change: a.change,
                    known: a.known,
                },
            );
        }
    }

    fn hear(&mut self, notice: Notice) {
        metrics::counter!("scholia_feed_notices_total").increment(1);
        self.next_poll = Instant::now() + self.poll;
        self.backing_off = false;
        self.heard = self.heard.max(notice.seq());
        if let Notice::Committed(change, known) = notice
            && change.seq > self.last
        {
            // This node's own announcement of the same change knows as much: keep it.
            self.ahead
                .entry(change.seq)
                .or_insert(Sequenced { change, known });
        }
    }

    /// Hands on what follows `last` without a gap.
    fn release_ready(&mut self, out: &mut Vec<Sequenced>) {
        while let Some(entry) = self.ahead.first_entry() {
            if *entry.key() != self.last + 1 {
                break;
            }
            self.last += 1;
            out.push(entry.remove());
        }
        self.watermark.raise(self.last);
    }

    /// Whether a change is known to be missing, or a read is due anyway.
    fn must_read(&self) -> bool {
        if self.backing_off {
            return false;
        }
        self.read_due || self.heard > self.last || !self.ahead.is_empty()
    }

    /// The one reader of the change log: hands on every change after `last`, in order, each
    /// with its announcement's facts when the announcement has arrived.
    async fn read_log(&mut self, out: &mut Vec<Sequenced>) {
        if !self.ahead.is_empty() || self.heard > self.last {
            metrics::counter!("scholia_log_gap_reads_total").increment(1);
        }
        let before = self.last;
        self.next_poll = Instant::now() + self.poll;
        loop {
            let changes = match self.db.changes_after(self.last, BATCH).await {
                Ok(changes) => changes,
                Err(e) => {
                    metrics::counter!("scholia_log_read_errors_total").increment(1);
                    tracing::warn!(error = %e, after = self.last,
                        "reading the change log failed; trying again at the next poll");
                    self.backing_off = true;
                    return;
                }
            };
            let full = changes.len() as i64 == BATCH;
            for change in changes {
                // An announcement may have arrived since the read began.
                self.take_waiting();
                let known = self.ahead.remove(&change.seq).and_then(|s| s.known);
                self.last = change.seq;
                out.push(Sequenced { change, known });
            }
            self.ahead = self.ahead.split_off(&(self.last + 1));
            self.watermark.raise(self.last);
            if !full {
                break;
            }
        }
        self.read_due = false;
        if self.last == before {
            // Nothing new, though something may have claimed a change past `last`. The log is
            // the truth: forget the claim, and read again only when something new arrives or
            // the next poll comes (a notice ahead of the log must not make the hub spin).
            self.heard = self.last;
            self.backing_off = true;
        }
        // Announcements of changes committed after the read began follow.
        self.release_ready(out);
    }
}

async fn recv_notice(notices: &mut Option<mpsc::Receiver<Notice>>) -> Option<Notice> {
    match notices {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}
