//! Identifiers: annotation ids (h's 22-character URL-safe UUIDs), userids (`acct:name@authority`)
//! and group pubids.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::Rng as _;

/// An annotation id as h accepts it in URLs: `[A-Za-z0-9_-]{20,22}` (22 for UUID-based ids, 20
/// for legacy Elasticsearch flake ids). Mirrors the route predicate in `h/routes.py`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AnnotationId(String);

impl AnnotationId {
    /// Checks the shape of an id from a URL or a request body.
    pub fn parse(s: &str) -> Option<AnnotationId> {
        let ok = (20..=22).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        ok.then(|| AnnotationId(s.to_owned()))
    }

    /// A fresh random id: the URL-safe base64 of a v4 UUID, without padding (h's
    /// `h/util/uri.py`-independent `URLSafeUUID` column type encodes ids the same way).
    pub fn generate() -> AnnotationId {
        AnnotationId(URL_SAFE_NO_PAD.encode(uuid::Uuid::new_v4().as_bytes()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AnnotationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A userid `acct:<username>@<authority>` (h's `h/util/user.py` `split_user`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct UserId {
    pub username: String,
    pub authority: String,
}

impl UserId {
    /// Parses `acct:user@authority`; the username may not be empty or contain `@`.
    pub fn parse(s: &str) -> Option<UserId> {
        let rest = s.strip_prefix("acct:")?;
        let (username, authority) = rest.split_once('@')?;
        if username.is_empty() || authority.is_empty() || authority.contains('@') {
            return None;
        }
        Some(UserId {
            username: username.to_owned(),
            authority: authority.to_owned(),
        })
    }

    pub fn new(username: &str, authority: &str) -> UserId {
        UserId {
            username: username.to_owned(),
            authority: authority.to_owned(),
        }
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "acct:{}@{}", self.username, self.authority)
    }
}

/// A new group pubid: 8 random alphanumerics, as h's `h/pubid.py` makes them.
pub fn generate_pubid() -> String {
    random_string(
        8,
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
    )
}

/// A random URL-safe secret of `len` characters (tokens, client secrets).
pub fn random_token(len: usize) -> String {
    random_string(
        len,
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
    )
}

fn random_string(len: usize, alphabet: &[u8]) -> String {
    let mut rng = rand::rng();
    (0..len)
        .map(|_| alphabet[rng.random_range(0..alphabet.len())] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_parse() {
        let id = AnnotationId::generate();
        assert_eq!(id.as_str().len(), 22);
        assert_eq!(AnnotationId::parse(id.as_str()), Some(id));
    }

    #[test]
    fn ids_outside_h_shape_are_refused() {
        for bad in [
            "",
            "short",
            "has space in it 123456",
            "a".repeat(23).as_str(),
            "abc/def/ghi/jkl/mnopq",
        ] {
            assert_eq!(AnnotationId::parse(bad), None, "{bad:?}");
        }
        assert!(AnnotationId::parse("AbCdEfGhIjKlMnOpQrSt").is_some());
    }

    #[test]
    fn userids_round_trip() {
        let u = UserId::parse("acct:alice@example.com").unwrap();
        assert_eq!(u.username, "alice");
        assert_eq!(u.authority, "example.com");
        assert_eq!(u.to_string(), "acct:alice@example.com");
        for bad in [
            "alice@example.com",
            "acct:@x",
            "acct:a@",
            "acct:a@b@c",
            "acct:nobody",
        ] {
            assert_eq!(UserId::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn pubids_and_tokens_have_the_requested_shape() {
        assert_eq!(generate_pubid().len(), 8);
        let t = random_token(43);
        assert_eq!(t.len(), 43);
        assert!(
            t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
    }
}
