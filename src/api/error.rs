//! The one error type at the HTTP edge. Every variant answers h's body
//! `{"status": "failure", "reason": ...}` (`h/views/api/errors.py`); internal causes are logged,
//! never sent.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::store::StoreError;

/// h's reason for every 404, including the permission failures it turns into 404s.
pub const NOT_FOUND_REASON: &str = "Either the resource you requested doesn't exist, or you are not currently authorized to see it.";
const INTERNAL_REASON: &str = "scholia had a problem while handling this request. \
    The error has been logged; please contact the server's operator if the problem persists.";

/// An API failure and the status it answers with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 404: unknown resource, or one the caller may not see (h turns 403 into 404).
    #[error("not found")]
    NotFound,
    /// 400: the request is malformed; the reason says how.
    #[error("{0}")]
    BadRequest(String),
    /// 409: the change conflicts with the current state.
    #[error("{0}")]
    Conflict(String),
    /// 406: the `Accept` header names only API versions this server does not have.
    #[error("not acceptable")]
    NotAcceptable,
    /// 413: the body is larger than the configured limit.
    #[error("body too large")]
    PayloadTooLarge(usize),
    /// An OAuth failure (`POST /api/token`): h puts the OAuth JSON error, as a string, in the
    /// reason.
    #[error("oauth error {error}")]
    OAuth {
        status: StatusCode,
        error: &'static str,
        description: String,
    },
    /// 401 with a body of its own (`GET /api/debug-token`).
    #[error("unauthorized")]
    Unauthorized(serde_json::Value),
    /// 500: something broke on our side.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        ApiError::Internal(anyhow::Error::new(e).context("database error"))
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(m) => ApiError::Conflict(m),
            StoreError::NotFound(_) => ApiError::NotFound,
            StoreError::Db(e) => e.into(),
            // 500, as a closed pool answered before the writer had an error of its own.
            e @ StoreError::WriterStopped => ApiError::Internal(anyhow::Error::new(e)),
        }
    }
}

/// The h error body.
pub fn failure(status: StatusCode, reason: impl Into<String>) -> Response {
    let body = json!({"status": "failure", "reason": reason.into()});
    (status, Json(body)).into_response()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::NotFound => failure(StatusCode::NOT_FOUND, NOT_FOUND_REASON),
            ApiError::BadRequest(r) => failure(StatusCode::BAD_REQUEST, r),
            ApiError::Conflict(r) => failure(StatusCode::CONFLICT, r),
            ApiError::NotAcceptable => failure(StatusCode::NOT_ACCEPTABLE, "Not acceptable"),
            ApiError::PayloadTooLarge(limit) => failure(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("Request body is larger than the limit of {limit} bytes"),
            ),
            ApiError::OAuth {
                status,
                error,
                description,
            } => {
                let reason = json!({"error": error, "error_description": description}).to_string();
                failure(status, reason)
            }
            ApiError::Unauthorized(body) => (StatusCode::UNAUTHORIZED, Json(body)).into_response(),
            ApiError::Internal(e) => {
                tracing::error!(error = ?e, "internal error");
                failure(StatusCode::INTERNAL_SERVER_ERROR, INTERNAL_REASON)
            }
        }
    }
}

/// `Result` for handlers.
pub type ApiResult<T, E = ApiError> = std::result::Result<T, E>;
