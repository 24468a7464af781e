//! One client frame through the Real Time API's parser and filter compiler
//! (`realtime::protocol::interpret`, which calls `realtime::filter::compile`), as the socket task
//! calls it for every text or binary message, and the replies the socket would render from it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scholia::realtime::filter::FilterLimits;
use scholia::realtime::protocol::{self, Incoming};
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let limits = FilterLimits::default();
    let reply_to = Value::from(1);
    match protocol::interpret(data, limits) {
        Incoming::Filter { keys, since } => {
            // The index relies on a sorted, de-duplicated key list.
            assert!(
                keys.windows(2).all(|w| w[0] < w[1]),
                "keys not sorted and unique"
            );
            // A resume point is a seq: never negative.
            assert!(since.is_none_or(|s| s >= 0), "negative since accepted");
        }
        Incoming::Error {
            kind, description, ..
        } => {
            let text = protocol::error(kind, &description, &reply_to);
            serde_json::from_str::<Value>(&text).expect("an error reply is JSON");
        }
        Incoming::Ping { reply_to: Some(id) } => {
            serde_json::from_str::<Value>(&protocol::pong(&id)).expect("a pong is JSON");
        }
        Incoming::Whoami { reply_to: Some(id) } => {
            let text = protocol::whoyouare(Some("acct:fuzz@example.org"), &id);
            serde_json::from_str::<Value>(&text).expect("a whoyouare is JSON");
        }
        _ => {}
    }
});
