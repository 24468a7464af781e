//! Errors on the site are pages: a status, a title and a sentence a person can act on. JSON
//! errors stay for `/api` and for callers that do not ask for HTML.

use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use maud::html;

use super::layout;

/// Why a page could not be shown.
#[derive(Debug)]
pub enum PageError {
    NotFound,
    /// A form that did not come from our page, or an action this visitor may not take.
    Forbidden(String),
    BadRequest(String),
    /// Too many attempts from one address.
    TooMany,
    Internal(anyhow::Error),
}

impl From<sqlx::Error> for PageError {
    fn from(e: sqlx::Error) -> Self {
        PageError::Internal(e.into())
    }
}

impl From<crate::store::StoreError> for PageError {
    fn from(e: crate::store::StoreError) -> Self {
        PageError::Internal(e.into())
    }
}

/// A page saying what went wrong, with `status`.
pub fn error_page(status: StatusCode, title: &str, message: &str) -> Response {
    let body = html! {
        h1 { (title) }
        p { (message) }
        p { a href="/" { "Go to the start page" } }
    };
    layout::no_framing((status, layout::bare(title, body)).into_response())
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        match self {
            PageError::TooMany => {
                let mut r = error_page(
                    StatusCode::TOO_MANY_REQUESTS,
                    "Too many attempts",
                    "Too many attempts from your address. Wait a minute and try again.",
                );
                r.headers_mut()
                    .insert(header::RETRY_AFTER, header::HeaderValue::from_static("60"));
                r
            }
            PageError::NotFound => error_page(
                StatusCode::NOT_FOUND,
                "Not found",
                "There is nothing here, or you may not see it. If someone sent you this link, \
                 check that you are logged in as the right user.",
            ),
            PageError::Forbidden(why) => error_page(StatusCode::FORBIDDEN, "Not allowed", &why),
            PageError::BadRequest(why) => {
                error_page(StatusCode::BAD_REQUEST, "Cannot do that", &why)
            }
            PageError::Internal(e) => {
                tracing::error!(error = %e, "page failed");
                error_page(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong",
                    "The server could not show this page. Try again in a moment.",
                )
            }
        }
    }
}

/// Whether the request is a browser asking for a page.
fn wants_html(req: &Request) -> bool {
    req.headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"))
}

/// Turns the router's own errors (an unknown path's JSON, a wrong method's empty answer, a
/// malformed query's text) into pages for browsers outside `/api`: a mistyped link shows a
/// page, and API clients still get h's JSON. Answers that are pages already, or scripts and
/// styles (which browsers ask for without `text/html`), are left alone.
pub async fn html_errors(req: Request, next: Next) -> Response {
    let page = wants_html(&req) && !req.uri().path().starts_with("/api");
    let response = next.run(req).await;
    let plain = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|v| v.contains("json") || v.starts_with("text/plain"));
    let status = response.status();
    if !page || !plain || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let (title, message) = match status {
        StatusCode::NOT_FOUND => (
            "Not found",
            "There is nothing at this address. Check the link, or start from the start page.",
        ),
        s if s.is_server_error() => (
            "Something went wrong",
            "The server could not answer this request. Try again in a moment.",
        ),
        _ => (
            "Cannot do that",
            "The server refused this request as it was sent.",
        ),
    };
    let mut page = error_page(status, title, message);
    // The request id ties the page to the access log.
    if let Some(v) = response.headers().get("x-request-id") {
        page.headers_mut().insert("x-request-id", v.clone());
    }
    page
}
