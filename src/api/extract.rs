//! Request extractors: the caller's identity (bearer token), the writer's `X-Client-Id`, and a
//! JSON body that fails with h's messages instead of axum's.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde_json::Value;

use super::error::ApiError;
use crate::app::AppState;
use crate::auth::bearer_token;
use crate::domain::Identity;

/// The caller, if the request carries a valid token. An unknown, expired or revoked token makes
/// the request anonymous, as in h: it is not an error.
#[derive(Clone, Debug)]
pub struct Caller(pub Option<Identity>);

impl Caller {
    pub fn identity(&self) -> Option<&Identity> {
        self.0.as_ref()
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Some(token) = bearer_token(&parts.headers) else {
            return Ok(Caller(None));
        };
        Ok(Caller(state.identity_for_token(&token).await?))
    }
}

/// The writer's `X-Client-Id` header, used to suppress the echo of its own events.
#[derive(Clone, Debug, Default)]
pub struct ClientId(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for ClientId {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let id = parts
            .headers
            .get("x-client-id")
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned);
        Ok(ClientId(id))
    }
}

/// A JSON request body as a `serde_json::Value`.
pub struct JsonBody(pub Value);

/// h's reason for a body that is not JSON.
pub const NOT_JSON: &str = "Expected a valid JSON payload, but none was found!";

impl FromRequest<AppState> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let limit = state.config().max_body_bytes;
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge(limit)
            } else {
                ApiError::BadRequest(NOT_JSON.to_owned())
            }
        })?;
        let body: Value = serde_json::from_slice(&bytes)
            .map_err(|_| ApiError::BadRequest(NOT_JSON.to_owned()))?;
        if let Some(path) = crate::input::nul_path(&body) {
            return Err(ApiError::BadRequest(crate::input::nul_reason(&path)));
        }
        Ok(JsonBody(body))
    }
}
