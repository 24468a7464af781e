//! The JWT bearer grant (RFC 7523) as h checks it (`h/services/oauth/_jwt_grant.py`,
//! `h/services/oauth/_jwt_grant_token.py`): HS256 signed with an auth client's secret, `iss` the
//! client id, `aud` the host the request was sent to, `sub` the userid, `nbf`/`exp` at most ten
//! minutes apart, ten seconds of leeway. Failures carry h's OAuth error descriptions.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

use crate::domain::User;
use crate::store::{AuthClient, Db};

/// Longest allowed `exp - nbf`.
const MAX_LIFETIME_SECS: f64 = 600.0;
const LEEWAY_SECS: u64 = 10;

/// Why a grant was refused, as an OAuth error kind and description.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GrantError {
    /// `invalid_request`
    #[error("{0}")]
    Request(String),
    /// `invalid_client`
    #[error("{0}")]
    Client(String),
    /// `unauthorized_client`: the client may not use this grant type.
    #[error("unauthorized client")]
    UnauthorizedClient,
    /// `invalid_grant`
    #[error("{0}")]
    Grant(String),
}

fn missing(claim: &str, description: &str) -> GrantError {
    GrantError::Grant(format!(
        "Missing claim '{claim}' ({description}) from grant token."
    ))
}

fn invalid(claim: &str, description: &str) -> GrantError {
    GrantError::Grant(format!(
        "Invalid claim '{claim}' ({description}) in grant token."
    ))
}

/// The claims, read without checking the signature (only to find the issuer).
pub fn unverified_claims(token: &str) -> Result<serde_json::Map<String, Value>, GrantError> {
    let format_error = || GrantError::Request("Invalid JWT grant token format.".into());
    let mut parts = token.split('.');
    let (Some(_), Some(payload), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(format_error());
    };
    let bytes = URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .map_err(|_| format_error())?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(format_error()),
    }
}

fn timestamp(
    claims: &serde_json::Map<String, Value>,
    key: &str,
    description: &str,
) -> Result<f64, GrantError> {
    match claims.get(key) {
        None | Some(Value::Null) => Err(missing(key, description)),
        Some(v) => v.as_f64().ok_or_else(|| invalid(key, description)),
    }
}

fn non_empty_str<'a>(claims: &'a serde_json::Map<String, Value>, key: &str) -> Option<&'a str> {
    claims
        .get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// The grant's issuer: the auth client whose secret signs it.
pub fn issuer(claims: &serde_json::Map<String, Value>) -> Result<&str, GrantError> {
    non_empty_str(claims, "iss").ok_or_else(|| missing("iss", "issuer"))
}

/// Every check that needs the client's secret and no database, in h's order: the timestamps
/// and lifetime, then the signature, audience and validity window, then the subject, which it
/// returns. Pure, so the fuzz target `jwt_grant` drives it directly.
pub fn check_grant(
    token: &str,
    claims: &serde_json::Map<String, Value>,
    secret: &str,
    audience: &str,
) -> Result<String, GrantError> {
    let expiry = timestamp(claims, "exp", "expiry")?;
    let not_before = timestamp(claims, "nbf", "start time")?;
    if expiry - not_before > MAX_LIFETIME_SECS {
        return Err(GrantError::Grant(
            "Grant token lifetime is too long.".into(),
        ));
    }
    check_signature(token, secret, audience)?;
    non_empty_str(claims, "sub")
        .map(str::to_owned)
        .ok_or_else(|| missing("sub", "subject"))
}

/// Checks a grant token and returns the user it names and the client that signed it.
pub async fn verify_grant(
    db: &Db,
    token: &str,
    audience: &str,
) -> Result<(User, AuthClient), VerifyError> {
    let claims = unverified_claims(token)?;
    let client = db
        .authclient(issuer(&claims)?)
        .await?
        .ok_or_else(|| GrantError::Client("Client authentication failed.".into()))?;
    if client.grant_type != "jwt_bearer" {
        return Err(GrantError::UnauthorizedClient.into());
    }
    let subject = check_grant(token, &claims, &client.secret, audience)?;
    let user = db
        .user_by_userid(&subject)
        .await?
        .filter(|u| !u.deleted)
        .ok_or_else(|| GrantError::Grant("Grant token subject (sub) could not be found.".into()))?;
    if user.authority != client.authority {
        return Err(GrantError::Grant(
            "Grant token subject (sub) does not match issuer (iss).".into(),
        )
        .into());
    }
    Ok((user, client))
}

fn check_signature(token: &str, secret: &str, audience: &str) -> Result<(), GrantError> {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.leeway = LEEWAY_SECS;
    validation.validate_nbf = true;
    validation.set_audience(&[audience]);
    validation.set_required_spec_claims(&["exp", "aud"]);
    let key = DecodingKey::from_secret(secret.as_bytes());
    match jsonwebtoken::decode::<Value>(token, &key, &validation) {
        Ok(_) => Ok(()),
        Err(e) => Err(match e.kind() {
            ErrorKind::InvalidAlgorithm => {
                GrantError::Grant("Invalid grant token signature algorithm.".into())
            }
            ErrorKind::MissingRequiredClaim(c) if c == "aud" => missing("aud", "audience"),
            ErrorKind::MissingRequiredClaim(c) => {
                GrantError::Grant(format!("Missing claim '{c}' from grant token."))
            }
            ErrorKind::InvalidAudience => invalid("aud", "audience"),
            ErrorKind::ImmatureSignature => {
                GrantError::Grant("Grant token is not yet valid.".into())
            }
            ErrorKind::ExpiredSignature => GrantError::Grant("Grant token is expired.".into()),
            _ => GrantError::Grant("Invalid grant token signature.".into()),
        }),
    }
}

/// A refused grant, or a database failure while checking it.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error(transparent)]
    Grant(#[from] GrantError),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_tokens_are_invalid_requests() {
        for bad in ["", "abc", "a.b", "a.!!!.c", "a.b.c.d"] {
            assert_eq!(
                unverified_claims(bad).unwrap_err(),
                GrantError::Request("Invalid JWT grant token format.".into()),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn claims_are_read_without_the_key() {
        let payload = URL_SAFE_NO_PAD.encode(br#"{"iss":"client","nbf":1}"#);
        let claims = unverified_claims(&format!("e30.{payload}.sig")).unwrap();
        assert_eq!(non_empty_str(&claims, "iss"), Some("client"));
        assert_eq!(timestamp(&claims, "nbf", "start time"), Ok(1.0));
        assert_eq!(
            timestamp(&claims, "exp", "expiry"),
            Err(missing("exp", "expiry"))
        );
    }
}
