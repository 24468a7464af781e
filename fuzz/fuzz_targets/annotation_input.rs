//! An annotation create or update body through the checks the API runs before anything is
//! stored (`input::nul_path`, `input::parse_create`/`parse_update_for` with their limits), then
//! the normalisation the write path applies to what was accepted. An accepted body must be one
//! the store can take: within the documented limits, every URI normalisable or refused here.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scholia::input::{self, limits};
use scholia::uri::normalize;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, json)) = data.split_first() else {
        return;
    };
    let Ok(body) = serde_json::from_slice::<Value>(json) else {
        return;
    };
    if input::nul_path(&body).is_some() {
        // Refused with a 400 before parsing, on both engines.
        return;
    }
    if mode % 2 == 0 {
        if let Ok(create) = input::parse_create(&body) {
            assert!(!create.uri.trim().is_empty(), "accepted a blank uri");
            limits::check_create(&create).expect("accepted past the limits");
            let _ = normalize(&create.uri);
            for claim in create.document.iter().flat_map(|d| d.uris.iter()) {
                let _ = normalize(&claim.uri);
            }
        }
    } else if let Ok(update) = input::parse_update_for(&body, "https://example.org/existing") {
        limits::check_update(&update).expect("accepted past the limits");
        if let Some(doc) = update.document_for("https://example.org/existing") {
            for claim in &doc.uris {
                let _ = normalize(&claim.uri);
            }
        }
    }
});
