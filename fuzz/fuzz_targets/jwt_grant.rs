//! The JWT bearer grant (`auth::jwt`): a token as sent to `POST /api/token`, read for its
//! issuer and then checked against a client secret and audience. The first byte picks the
//! mode: raw bytes as the token, or the rest as a claims object that is signed with the right
//! secret (so the fuzzer reaches the checks past the signature).
#![no_main]

use jsonwebtoken::{EncodingKey, Header, encode};
use libfuzzer_sys::fuzz_target;
use scholia::auth::jwt::{GrantError, check_grant, issuer, unverified_claims};
use serde_json::Value;

const SECRET: &str = "fuzz-secret";
const AUDIENCE: &str = "example.org";

fn check(token: &str) {
    let Ok(claims) = unverified_claims(token) else {
        return;
    };
    let _ = issuer(&claims);
    match check_grant(token, &claims, SECRET, AUDIENCE) {
        Ok(subject) => assert!(!subject.is_empty()),
        // `unauthorized_client` is decided from the client row, never from the token.
        Err(e) => assert_ne!(e, GrantError::UnauthorizedClient),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode % 2 == 0 {
        if let Ok(token) = std::str::from_utf8(rest) {
            check(token);
        }
    } else if let Ok(claims @ Value::Object(_)) = serde_json::from_slice::<Value>(rest) {
        let key = EncodingKey::from_secret(SECRET.as_bytes());
        if let Ok(token) = encode(&Header::default(), &claims, &key) {
            check(&token);
        }
    }
});
