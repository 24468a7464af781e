use std::sync::Arc;

use axum::extract::ws::Utf8Bytes;
use serde_json::json;

use super::Registry;
use crate::realtime::filter::Key;
use crate::realtime::outbox;

fn k(s: &str) -> Key {
    Key::Uri(s.to_owned())
}

#[test]
fn filters_replace_and_unregister_cleans_up() {
    let reg = Registry::default();
    let (tx, _rx) = outbox::channel(4);
    let a = reg.register(None, tx.clone());
    let b = reg.register(None, tx);
    reg.set_filter(a, vec![k("x")]);
    reg.set_filter(b, vec![k("x"), k("y")]);
    let all = |_: &super::Entry| Some(());
    assert_eq!(reg.classify(&[k("x")], all).len(), 2);
    reg.set_filter(a, vec![k("z")]);
    assert_eq!(reg.classify(&[k("x")], all), vec![(b, ())]);
    reg.unregister(b);
    assert!(reg.classify(&[k("x"), k("y")], all).is_empty());
    assert_eq!(reg.subscribed_keys(), 1);
    reg.unregister(a);
    assert!(reg.is_empty());
    assert_eq!(reg.subscribed_keys(), 0);
}

#[test]
fn a_full_queue_marks_only_that_socket_slow() {
    let reg = Registry::default();
    let (tx_slow, rx_slow) = outbox::channel(1);
    let (tx_ok, rx_ok) = outbox::channel(8);
    let s = reg.register(None, tx_slow);
    let o = reg.register(None, tx_ok);
    reg.set_filter(s, vec![k("x")]);
    reg.set_filter(o, vec![k("x")]);
    let targets = reg.classify(&[k("x")], |_| Some(()));
    let frame = |_: &()| Utf8Bytes::from_static("{}");
    let first = reg.hand_off(&targets, frame);
    assert_eq!((first.delivered, first.slow), (2, 0));
    let second = reg.hand_off(&targets, frame);
    assert_eq!((second.delivered, second.slow), (1, 1));
    assert!(rx_slow.is_slow());
    // Counted once, however many frames it misses.
    let third = reg.hand_off(&targets, frame);
    assert_eq!((third.delivered, third.slow), (1, 0));
    let mut got = 0;
    while rx_ok.try_recv().is_some() {
        got += 1;
    }
    assert_eq!(got, 3);
}

#[test]
fn client_id_and_identity_are_per_socket() {
    let reg = Registry::default();
    let (tx, _rx) = outbox::channel(1);
    let a = reg.register(None, tx);
    reg.set_filter(a, vec![k("x")]);
    reg.set_client_id(a, Some(json!("abc")));
    let seen = reg.classify(&[k("x")], |e| e.client_id.as_deref().cloned());
    assert_eq!(seen, vec![(a, json!("abc"))]);
    assert!(!reg.has_user("acct:a@x"));
    reg.refresh_identity("acct:a@x", None::<Arc<crate::domain::Identity>>);
}

#[test]
fn an_entry_stays_small() {
    // Routing reads one entry per delivery; see `Entry`.
    assert!(std::mem::size_of::<(u64, super::Entry)>() <= 64);
}

#[test]
fn a_filter_starts_after_the_newest_committed_change() {
    let mark = crate::bus::Watermark::new(5);
    let reg = Registry::new(mark.clone());
    let (tx, _rx) = outbox::channel(4);
    let a = reg.register(None, tx);
    reg.set_filter(a, vec![k("x")]);
    let after = |seq: i64| move |e: &super::Entry| (seq > e.from_seq).then_some(());
    assert!(
        reg.classify(&[k("x")], after(5)).is_empty(),
        "committed before"
    );
    assert_eq!(reg.classify(&[k("x")], after(6)), vec![(a, ())]);
    // A filter set again later starts later.
    mark.raise(9);
    reg.set_filter(a, vec![k("x")]);
    assert!(reg.classify(&[k("x")], after(9)).is_empty());
    assert_eq!(reg.classify(&[k("x")], after(10)), vec![(a, ())]);
}
