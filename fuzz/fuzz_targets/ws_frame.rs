//! A client's bytes through the WebSocket frame decoder (`realtime::wire::frame::Decoder`), as
//! `/ws` reads them: whole, and in the pieces the kernel might hand over. The first byte sets
//! the piece size; both ways must give the same messages and the same refusal, and no message
//! may be over the limit.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scholia::realtime::wire::frame::{Decoder, WireError};

const MAX: usize = 4096;

fn decode(data: &[u8], piece: usize) -> (Vec<String>, Option<WireError>) {
    let mut d = Decoder::new(MAX);
    let mut out = vec![];
    for chunk in data.chunks(piece) {
        d.push(chunk);
        loop {
            match d.decode() {
                Ok(Some(m)) => {
                    let len = match &m {
                        axum::extract::ws::Message::Text(t) => t.len(),
                        axum::extract::ws::Message::Binary(b) => b.len(),
                        _ => 0,
                    };
                    assert!(len <= MAX, "a message over the limit");
                    out.push(format!("{m:?}"));
                }
                Ok(None) => break,
                Err(e) => return (out, Some(e)),
            }
        }
    }
    (out, None)
}

fuzz_target!(|data: &[u8]| {
    let Some((&piece, data)) = data.split_first() else {
        return;
    };
    let whole = decode(data, data.len().max(1));
    let pieces = decode(data, usize::from(piece).max(1));
    assert_eq!(whole, pieces, "pieces changed what was decoded");
});
