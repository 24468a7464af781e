//! The access log: one INFO line per HTTP request, and the request id that ties it to the
//! client and to whatever else the request logged.
//!
//! Every request gets an `x-request-id` (the client's own if it sent one, else a fresh UUID),
//! echoed on the response. tower-http's `TraceLayer` opens a `request` span holding what is
//! known when the request arrives (method, route template, client address, request id, the
//! `X-Client-Id` that h's client sends), so anything a handler logs carries the request id too,
//! and writes the access line when the response head is ready: its status and latency, inside
//! that span. In JSON (`SCHOLIA_LOG_FORMAT=json`) the line is one object: `fields` holds
//! `status` and `latency_ms`, `span` the request's fields.

use std::time::Duration;

use axum::Router;
use axum::extract::MatchedPath;
use axum::http::{HeaderMap, Request, Response};
use tower::ServiceBuilder;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{MakeSpan, OnResponse, TraceLayer};
use tracing::Span;

/// The header h's client identifies itself with (one id per sidebar instance).
const CLIENT_ID: &str = "x-client-id";
const REQUEST_ID: &str = "x-request-id";

/// Adds request ids and the access log to every route of `router`, its fallback included.
pub fn wrap<S: Clone + Send + Sync + 'static>(router: Router<S>) -> Router<S> {
    // Applied with `Router::layer`, so the span sees the route template (`MatchedPath`), which
    // exists only once routing has happened; the outermost layer comes first.
    router.layer(
        ServiceBuilder::new()
            .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
            .layer(PropagateRequestIdLayer::x_request_id())
            .layer(
                TraceLayer::new_for_http()
                    .make_span_with(RequestSpan)
                    .on_request(())
                    .on_response(AccessLine)
                    // One line per request, whatever its status: a 5xx's cause is logged where
                    // it happens, and the access line already says 500.
                    .on_failure(())
                    .on_body_chunk(())
                    .on_eos(()),
            ),
    )
}

/// The `request` span: method, route template (the path itself when no route matched; never
/// the query, which may hold an `access_token`), request id and client id.
#[derive(Clone, Copy, Debug)]
struct RequestSpan;

impl<B> MakeSpan<B> for RequestSpan {
    fn make_span(&mut self, request: &Request<B>) -> Span {
        let route = match request.extensions().get::<MatchedPath>() {
            Some(matched) => matched.as_str(),
            None => request.uri().path(),
        };
        let span = tracing::info_span!(
            "request",
            method = %request.method(),
            route,
            // The TCP peer, or the client a trusted proxy forwarded for (`crate::proxy`).
            client = %crate::proxy::client_addr_of(request.extensions()),
            request_id = header(request.headers(), REQUEST_ID),
            client_id = tracing::field::Empty,
        );
        // Recorded only when sent, so a request without one shows no empty field.
        if let Some(client) = header(request.headers(), CLIENT_ID) {
            span.record("client_id", client);
        }
        span
    }
}

/// The access line itself, written once the response head is ready (for `/ws`, the 101).
#[derive(Clone, Copy, Debug)]
struct AccessLine;

impl<B> OnResponse<B> for AccessLine {
    fn on_response(self, response: &Response<B>, latency: Duration, span: &Span) {
        tracing::info!(
            parent: span,
            status = response.status().as_u16(),
            latency_ms = latency_ms(latency),
            "response"
        );
    }
}

/// Milliseconds to the microsecond, so the line reads `0.412`, not `0.41234500000000003`.
fn latency_ms(latency: Duration) -> f64 {
    // Exact below 2^53 µs (285 years).
    latency.as_micros() as f64 / 1000.0
}

/// A header's value when it is printable text; anything else is left out of the log.
fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_reads_in_milliseconds_to_the_microsecond() {
        assert_eq!(latency_ms(Duration::from_micros(412)), 0.412);
        assert_eq!(latency_ms(Duration::from_nanos(2_500_999)), 2.5);
        assert_eq!(latency_ms(Duration::from_secs(3)), 3000.0);
    }
}
