//! Authentication pieces that are not plain token lookups (those live in the store): reading a
//! request's bearer token, the JWT grant, passwords. Shared by the HTTP API and the Real Time
//! API.

pub mod jwt;
pub mod password;

/// The bearer token of a request: `Authorization: Bearer <token>`, exactly that prefix
/// (case-sensitive, one space), the rest trimmed; empty means none (`h/security/policy/_bearer_token.py`).
pub fn bearer_token(headers: &axum::http::HeaderMap) -> Option<String> {
    let header = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let token = header.strip_prefix("Bearer ")?.trim();
    (!token.is_empty()).then(|| token.to_owned())
}
