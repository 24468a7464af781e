//! h's HTTP API v1 (spec §8), one module per resource, each with its own `router()`. This module
//! merges them and adds what every API response shares: CORS, version negotiation through
//! `Accept`, request metrics, and h's JSON 404 for unknown routes.

pub mod annotations;
pub mod bench;
pub mod error;
pub mod extract;
pub mod groups;
pub mod index;
pub mod presenter;
pub mod profile;
pub mod search;
pub mod token;
pub mod webhooks;
mod write;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};

use crate::app::AppState;
use error::ApiError;

/// Every route of the HTTP API.
/// The HTTP API; `/metrics` too when `with_metrics` (see [`index::metrics_router`]).
pub fn router(with_metrics: bool) -> Router<AppState> {
    Router::new()
        .merge(index::router(with_metrics))
        .merge(annotations::router())
        .merge(search::router())
        .merge(groups::router())
        .merge(profile::router())
        .merge(token::router())
        .merge(webhooks::router())
        .fallback(|| async { ApiError::NotFound })
        // h answers a known path with an unsupported method as an unknown route: 404.
        .method_not_allowed_fallback(|| async { ApiError::NotFound })
        .layer(middleware::from_fn(api_headers))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(|_| {
            ApiError::Internal(anyhow::anyhow!("handler panicked")).into_response()
        }))
        .route_layer(middleware::from_fn(crate::metrics::track))
}

const MEDIA_V1: &str = "application/vnd.hypothesis.v1+json";
const MEDIA_V2: &str = "application/vnd.hypothesis.v2+json";

/// Which API version an `Accept` header asks for (h's `h/views/api/config.py` version
/// predicates): none, a wildcard, plain JSON or a header that is not a list of media types at
/// all means v1; a list naming only unknown versions is refused (`None`).
fn negotiate(accept: Option<&str>) -> Option<&'static str> {
    let Some(accept) = accept.map(str::trim).filter(|a| !a.is_empty()) else {
        return Some(MEDIA_V1);
    };
    let types: Vec<&str> = accept
        .split(',')
        .map(|t| t.split(';').next().unwrap_or("").trim())
        .filter(|t| !t.is_empty())
        .collect();
    if types.iter().all(|t| !t.contains('/')) {
        return Some(MEDIA_V1);
    }
    for t in &types {
        match t.to_ascii_lowercase().as_str() {
            MEDIA_V1 | "application/json" | "*/*" | "application/*" => return Some(MEDIA_V1),
            MEDIA_V2 => return Some(MEDIA_V2),
            _ => {}
        }
    }
    None
}

/// CORS for every response (`Access-Control-Allow-Origin: *`, preflights answered here, as h's
/// `h/views/api/config.py` cors policy does), and the `Hypothesis-Media-Type` version header.
async fn api_headers(req: Request, next: Next) -> Response {
    if req.method() == Method::OPTIONS {
        return preflight(&req);
    }
    let accept = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok());
    let is_api = req.uri().path().starts_with("/api");
    let version = negotiate(accept);
    let mut response = match version {
        None if is_api => ApiError::NotAcceptable.into_response(),
        _ => next.run(req).await,
    };
    if is_api {
        response = json_errors(response).await;
    }
    let headers = response.headers_mut();
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    if is_api {
        headers.insert(
            "hypothesis-media-type",
            HeaderValue::from_static(version.unwrap_or(MEDIA_V1)),
        );
    }
    response
}

/// Rejections from axum's own extractors (a malformed path, query or form, a wrong content
/// type) come as plain text; under `/api` every failure answers h's JSON shape, keeping the text
/// as the reason.
async fn json_errors(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let body = axum::body::to_bytes(response.into_body(), 64 * 1024)
        .await
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&body).trim().to_owned();
    let reason = if text.is_empty() {
        status
            .canonical_reason()
            .unwrap_or("Request failed")
            .to_owned()
    } else {
        text
    };
    error::failure(status, reason)
}

fn preflight(req: &Request) -> Response {
    let origin = req.headers().get(header::ORIGIN).cloned();
    let has_method = req
        .headers()
        .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    let Some(origin) = origin.filter(|_| has_method) else {
        return error::failure(
            StatusCode::BAD_REQUEST,
            "CORS preflight requests need Origin and Access-Control-Request-Method headers",
        );
    };
    let mut response = StatusCode::OK.into_response();
    let h = response.headers_mut();
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("OPTIONS, HEAD, GET, PATCH, POST, PUT, DELETE"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static(
            "Authorization, Content-Type, Hypothesis-Client-Version, X-Client-Id",
        ),
    );
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("86400"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_negotiation_follows_h() {
        assert_eq!(negotiate(None), Some(MEDIA_V1));
        assert_eq!(negotiate(Some("*/*")), Some(MEDIA_V1));
        assert_eq!(negotiate(Some("application/json")), Some(MEDIA_V1));
        assert_eq!(negotiate(Some("nonsensical")), Some(MEDIA_V1));
        assert_eq!(negotiate(Some(MEDIA_V2)), Some(MEDIA_V2));
        assert_eq!(negotiate(Some("application/vnd.hypothesis.v3+json")), None);
        assert_eq!(
            negotiate(Some("text/html, application/vnd.hypothesis.v1+json;q=0.5")),
            Some(MEDIA_V1)
        );
    }
}
