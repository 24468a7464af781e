//! Who is looking at a page: the browser session (the cookie the login form sets), and the
//! token that proves a form was sent from one of our own pages (CSRF).
//!
//! The CSRF token is derived, not stored: a hash of the session token for a logged-in visitor,
//! or of a random pre-session cookie for a logged-out one (the login and signup forms). Both
//! cookies are HttpOnly and SameSite, so another site can neither read the basis nor make the
//! browser send it with a cross-site POST; the hash shows nothing of the session token.

use std::net::IpAddr;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;
use base64::Engine as _;
use sha2::{Digest, Sha256};

use super::errors::PageError;
use crate::app::AppState;
use crate::domain::Identity;
use crate::domain::ids::random_token;
use crate::store::logins::SESSION_TTL_SECS;

/// The browser session's cookie (set by the login form, `src/client/login.rs`).
pub const SESSION_COOKIE: &str = "scholia_session";
/// The logged-out visitor's CSRF basis.
const CSRF_COOKIE: &str = "scholia_csrf";

/// The visitor of a page.
pub struct Visitor {
    pub identity: Option<Identity>,
    /// The session token, when logged in.
    session: Option<String>,
    /// What the CSRF token is derived from.
    basis: String,
    /// The pre-session cookie of a visitor who has since logged in: a form shown before the
    /// login (in another tab, say) still proves it came from this browser.
    earlier_basis: Option<String>,
    /// A new pre-session cookie to set with this response.
    new_basis: bool,
    /// Whether cookies get `Secure` (the server is reached over HTTPS).
    secure: bool,
    /// The address the request came from (a trusted proxy's forwarded one).
    addr: IpAddr,
}

/// A cookie's value from the request's `Cookie` headers.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| {
            let (k, v) = c.trim().split_once('=')?;
            (k == name && !v.is_empty()).then(|| v.to_owned())
        })
}

/// Only a path on this server may follow a login or a signup (no open redirect): it starts
/// with one `/`, and holds only visible ASCII without `\\`, since browsers drop tabs and
/// newlines from a URL (`/\t/evil.example` would become `//evil.example`) and read `\\` as
/// `/`. Anything else goes to `/`. (ASCII only also keeps it a valid `Location` header.)
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && n.bytes().all(|b| b.is_ascii_graphic() && b != b'\\') =>
        {
            n.to_owned()
        }
        _ => "/".to_owned(),
    }
}

/// `Set-Cookie` for the browser session (`None` clears it).
pub fn session_cookie(token: Option<&str>, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let value = match token {
        Some(t) => format!(
            "{SESSION_COOKIE}={t}; Path=/; HttpOnly; SameSite=Lax; Max-Age={SESSION_TTL_SECS}{secure}"
        ),
        None => format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{secure}"),
    };
    HeaderValue::from_str(&value).unwrap_or(HeaderValue::from_static(""))
}

fn token_of(basis: &str) -> String {
    let digest = Sha256::new()
        .chain_update(b"scholia csrf\0")
        .chain_update(basis.as_bytes())
        .finalize();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..24])
}

/// Compares without an early exit, so timing says nothing of how much matched.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

impl Visitor {
    /// Reads the visitor from a request's headers; `addr` is where it came from.
    async fn from_headers(
        state: &AppState,
        headers: &HeaderMap,
        addr: IpAddr,
    ) -> Result<Visitor, PageError> {
        let secure = state.site().public_url.starts_with("https://");
        let session = cookie(headers, SESSION_COOKIE);
        let user = match &session {
            Some(token) => state.db().session_user(token).await?,
            None => None,
        };
        let (identity, session) = match user {
            Some(user) => (Some(state.db().identity_of(user).await?), session),
            None => (None, None),
        };
        let pre_session = cookie(headers, CSRF_COOKIE);
        let (basis, new_basis, earlier_basis) = match (&session, pre_session) {
            (Some(s), earlier) => (s.clone(), false, earlier),
            (None, Some(c)) => (c, false, None),
            (None, None) => (random_token(32), true, None),
        };
        Ok(Visitor {
            identity,
            session,
            basis,
            earlier_basis,
            new_basis,
            secure,
            addr,
        })
    }

    /// The address the request came from (for per-address limits).
    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    pub fn session(&self) -> Option<&str> {
        self.session.as_deref()
    }

    pub fn secure(&self) -> bool {
        self.secure
    }

    /// The token forms carry in their `csrf` field.
    pub fn csrf_token(&self) -> String {
        token_of(&self.basis)
    }

    /// Refuses a form whose token is missing or not this visitor's.
    pub fn check_csrf(&self, sent: Option<&str>) -> Result<(), PageError> {
        let earlier = self.earlier_basis.as_deref().map(token_of);
        match sent {
            Some(t) if !self.new_basis && same(t, &self.csrf_token()) => Ok(()),
            Some(t) if earlier.as_deref().is_some_and(|e| same(t, e)) => Ok(()),
            _ => Err(PageError::Forbidden(
                "This form has expired or did not come from this site. Go back, reload the page and try again."
                    .into(),
            )),
        }
    }

    /// Adds the pre-session cookie to a response that showed a form made from it.
    pub fn finish(&self, mut response: Response) -> Response {
        if self.new_basis {
            let secure = if self.secure { "; Secure" } else { "" };
            let value = format!(
                "{CSRF_COOKIE}={}; Path=/; HttpOnly; SameSite=Strict{secure}",
                self.basis
            );
            if let Ok(v) = HeaderValue::from_str(&value) {
                response.headers_mut().append(header::SET_COOKIE, v);
            }
        }
        response
    }
}

impl FromRequestParts<AppState> for Visitor {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, PageError> {
        // Behind a trusted proxy, the address it forwarded (`--trusted-proxy`).
        let addr = crate::proxy::client_addr(parts);
        Visitor::from_headers(state, &parts.headers, addr).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_differ_by_basis_and_compare_exactly() {
        let a = token_of("one");
        assert_eq!(a, token_of("one"));
        assert_ne!(a, token_of("two"));
        assert!(same(&a, &token_of("one")));
        assert!(!same(&a, &token_of("two")));
        assert!(!same(&a, &a[1..]));
    }

    #[test]
    fn only_plain_local_paths_may_follow_a_login() {
        for ok in ["/", "/groups/new", "/oauth/authorize?a=b%20c&d=%2F"] {
            assert_eq!(safe_next(Some(ok)), ok);
        }
        for bad in [
            "//evil.example",
            "/\t/evil.example",
            "/\n/evil.example",
            "/ /x",
            "/\\evil.example",
            "https://evil.example/",
            "evil",
            "/caf\u{e9}",
            "",
        ] {
            assert_eq!(safe_next(Some(bad)), "/", "{bad:?}");
        }
        assert_eq!(safe_next(None), "/");
    }

    #[test]
    fn cookies_are_found_by_exact_name() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("xscholia_session=no; scholia_session=yes; other=1"),
        );
        assert_eq!(cookie(&h, SESSION_COOKIE).as_deref(), Some("yes"));
        assert_eq!(cookie(&h, CSRF_COOKIE), None);
    }
}
