//! OAuth: `POST /api/token` (JWT bearer and refresh-token grants), `POST /oauth/revoke` and
//! `GET /api/debug-token` (spec §8.2; h's `h/views/api/auth.py`, `h/services/oauth/`).

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use serde_json::{Value, json};
use std::collections::HashMap;

use super::error::{ApiError, ApiResult};
use crate::app::AppState;
use crate::auth::jwt::{self, GrantError, VerifyError};
use crate::domain::time::format_micros;
use crate::store::OAuthTokens;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/token", post(token))
        .route("/oauth/revoke", post(revoke))
        .route("/api/debug-token", get(debug_token))
}

const JWT_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

fn oauth(status: StatusCode, error: &'static str, description: impl Into<String>) -> ApiError {
    ApiError::OAuth {
        status,
        error,
        description: description.into(),
    }
}

impl From<GrantError> for ApiError {
    fn from(e: GrantError) -> Self {
        match e {
            GrantError::Request(d) => oauth(StatusCode::BAD_REQUEST, "invalid_request", d),
            GrantError::Client(d) => oauth(StatusCode::UNAUTHORIZED, "invalid_client", d),
            GrantError::UnauthorizedClient => oauth(
                StatusCode::BAD_REQUEST,
                "unauthorized_client",
                "The client is not authorized to use this grant type.",
            ),
            GrantError::Grant(d) => oauth(StatusCode::BAD_REQUEST, "invalid_grant", d),
        }
    }
}

impl From<VerifyError> for ApiError {
    fn from(e: VerifyError) -> Self {
        match e {
            VerifyError::Grant(g) => g.into(),
            VerifyError::Db(d) => d.into(),
        }
    }
}

fn token_body(t: &OAuthTokens) -> Value {
    json!({
        "token_type": "Bearer",
        "access_token": t.access_token,
        "expires_in": t.expires_in,
        "refresh_token": t.refresh_token,
        "scope": "annotation:read annotation:write",
    })
}

/// The host the request was addressed to, without a port: the JWT audience h checks.
fn request_host(headers: &HeaderMap) -> &str {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    if host.starts_with('[') {
        // An IPv6 literal keeps its brackets; only what follows `]` can be a port.
        return host.find(']').map_or(host, |i| &host[..=i]);
    }
    match host.rsplit_once(':') {
        Some((h, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    }
}

async fn token(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> ApiResult<Json<Value>> {
    let grant_type = form.get("grant_type").map(String::as_str).unwrap_or("");
    match grant_type {
        JWT_GRANT => {
            let assertion = form.get("assertion").ok_or_else(|| {
                oauth(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "Missing assertion.",
                )
            })?;
            let audience = request_host(&headers).to_owned();
            let (user, client) = jwt::verify_grant(state.db(), assertion, &audience).await?;
            let tokens = state.db().issue_oauth_tokens(&user, &client).await?;
            Ok(Json(token_body(&tokens)))
        }
        // The code from the login popup (`src/client/login.rs`); single use.
        "authorization_code" => {
            let (Some(client_id), Some(code)) = (form.get("client_id"), form.get("code")) else {
                return Err(oauth(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "Missing client_id or code parameter.",
                ));
            };
            match state
                .db()
                .redeem_authorization_code(code, client_id)
                .await?
            {
                Some((user, client)) => {
                    let tokens = state.db().issue_oauth_tokens(&user, &client).await?;
                    Ok(Json(token_body(&tokens)))
                }
                None => Err(oauth(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "Invalid or expired authorization code.",
                )),
            }
        }
        "refresh_token" => {
            let refresh = form.get("refresh_token").ok_or_else(|| {
                oauth(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "Missing refresh token parameter.",
                )
            })?;
            match state.db().refresh_oauth_tokens(refresh).await? {
                Some((_, _, tokens)) => Ok(Json(token_body(&tokens))),
                None => Err(oauth(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "Invalid refresh_token.",
                )),
            }
        }
        "" => Err(oauth(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Request is missing grant type.",
        )),
        _ => Err(oauth(StatusCode::BAD_REQUEST, "unsupported_grant_type", "")),
    }
}

async fn revoke(
    State(state): State<AppState>,
    Form(form): Form<HashMap<String, String>>,
) -> ApiResult<Json<Value>> {
    if let Some(token) = form.get("token") {
        state.db().revoke_token(token).await?;
    }
    Ok(Json(json!({})))
}

async fn debug_token(State(state): State<AppState>, headers: HeaderMap) -> ApiResult<Json<Value>> {
    let Some(token) = crate::auth::bearer_token(&headers) else {
        return Err(ApiError::Unauthorized(json!({
            "error": "missing_token",
            "error_description": "Bearer token is missing in Authorization HTTP header",
        })));
    };
    let Some(found) = state.db().lookup_token(&token).await? else {
        return Err(ApiError::Unauthorized(json!({
            "error": "missing_token",
            "error_description": "Bearer token does not exist or is expired",
        })));
    };
    let mut body = json!({
        "userid": found.user.userid().to_string(),
        "issued_at": format_micros(found.created),
        "expires_at": found.expires.map(format_micros),
        "expired": false,
    });
    if let Some(c) = found.authclient {
        body["client"] = json!({"id": c.id, "name": c.name});
    }
    Ok(Json(body))
}
