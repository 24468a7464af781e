//! `GET /api/search`'s query string (`api::search::parse_params`): every parameter h's
//! `SearchParamsSchema` reads, the URI parameters parsed for versions and normalised. An
//! accepted query is one the store can run: limits and offsets in h's ranges, no NUL.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scholia::api::search::parse_params;

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    match parse_params(raw) {
        Ok(req) => {
            let q = &req.query;
            assert!((0..=200).contains(&q.limit), "limit {}", q.limit);
            assert!((0..=9800).contains(&q.offset), "offset {}", q.offset);
            let texts = q
                .groups
                .iter()
                .chain(&q.users)
                .chain(&q.tags)
                .chain(&q.text);
            for t in texts.chain(&q.quote).chain(&q.any).chain(&q.references) {
                assert!(!t.contains('\0'), "NUL reached the store");
            }
        }
        Err(reason) => assert!(!reason.is_empty()),
    }
});
