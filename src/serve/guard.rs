//! Checks every request passes before its handler runs, each answered at once and in h's error
//! shape under `/api` (`{"status": "failure", "reason": ...}`): a request line or headers past
//! the documented sizes (414, 431), a body that has not arrived by its deadline (408, so a
//! client trickling a body holds a connection for a bounded time), and, past a documented
//! number of API requests in progress, a 503 with `Retry-After` instead of a place at the back
//! of a queue that answers a minute later (so clients back off and the WebSockets, which share
//! the process, keep their latency).
//!
//! hyper's parser answers bare statuses itself, before any of this runs, only past twice these
//! sizes (`super::PARSER_MAX_*`) or for a request target of 64 KiB and more.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::{BodyExt, LengthLimitError, Limited};

/// Headers one request may carry, and their bytes (names and values) in all.
pub const MAX_HEADERS: usize = 100;
pub const MAX_HEADER_BYTES: usize = 64 * 1024;
/// Bytes in the request target (path and query): room for a search by the longest URI an
/// annotation may have, percent-encoded, below hyper's own 64 KiB.
pub const MAX_TARGET_BYTES: usize = 60 * 1024;
/// What a shed request is told to wait before trying again, in seconds.
const RETRY_AFTER_SECS: u64 = 1;

/// The limits and the count of API requests in progress, shared by every request.
#[derive(Clone, Debug)]
pub struct Guard {
    in_flight: Arc<AtomicUsize>,
    max_in_flight: usize,
    body_deadline: Duration,
    max_body: usize,
}

impl Guard {
    /// `max_in_flight` API requests at once (0: no limit); a body must arrive within
    /// `body_deadline` of its headers and hold at most `max_body` bytes.
    pub fn new(max_in_flight: usize, body_deadline: Duration, max_body: usize) -> Guard {
        Guard {
            in_flight: Arc::default(),
            max_in_flight,
            body_deadline,
            max_body,
        }
    }
}

/// A place among the API requests in progress, given back when the response is ready.
struct InFlight(Arc<AtomicUsize>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

fn refuse(is_api: bool, status: StatusCode, reason: String) -> Response {
    if is_api {
        crate::api::error::failure(status, reason)
    } else {
        (status, reason).into_response()
    }
}

/// The middleware (`axum::middleware::from_fn_with_state`).
pub async fn check(State(guard): State<Guard>, req: Request, next: Next) -> Response {
    let is_api = req.uri().path().starts_with("/api");
    let target = req.uri().path_and_query().map_or(0, |pq| pq.as_str().len());
    if target > MAX_TARGET_BYTES {
        let reason = format!(
            "The request target is {target} bytes long; at most {MAX_TARGET_BYTES} are allowed"
        );
        return refuse(is_api, StatusCode::URI_TOO_LONG, reason);
    }
    let headers = req.headers();
    let header_bytes: usize = headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    if headers.len() > MAX_HEADERS || header_bytes > MAX_HEADER_BYTES {
        let reason = format!(
            "The request has {} headers of {header_bytes} bytes; at most {MAX_HEADERS} headers \
             of {MAX_HEADER_BYTES} bytes in all are allowed",
            headers.len()
        );
        return refuse(is_api, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, reason);
    }
    // The body first: a slow one holds its connection, not a place among the requests.
    let req = match read_body(&guard, req, is_api).await {
        Ok(req) => req,
        Err(refused) => return refused,
    };
    let _place = match is_api && guard.max_in_flight > 0 {
        true => {
            let before = guard.in_flight.fetch_add(1, Ordering::Relaxed);
            let place = InFlight(guard.in_flight.clone());
            if before >= guard.max_in_flight {
                metrics::counter!("scholia_requests_shed_total").increment(1);
                let mut shed = refuse(
                    is_api,
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!(
                        "The server is at its limit of {} requests in progress; try again \
                         in {RETRY_AFTER_SECS} s",
                        guard.max_in_flight
                    ),
                );
                shed.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
                return shed;
            }
            Some(place)
        }
        false => None,
    };
    next.run(req).await
}

/// The request with its body read in full by the deadline (handlers then read it from memory).
async fn read_body(guard: &Guard, req: Request, is_api: bool) -> Result<Request, Response> {
    use http_body::Body as _;
    let (parts, body) = req.into_parts();
    if body.is_end_stream() {
        return Ok(Request::from_parts(parts, body));
    }
    let collect = Limited::new(body, guard.max_body).collect();
    match tokio::time::timeout(guard.body_deadline, collect).await {
        Ok(Ok(collected)) => Ok(Request::from_parts(parts, Body::from(collected.to_bytes()))),
        Ok(Err(e)) if e.downcast_ref::<LengthLimitError>().is_some() => Err(refuse(
            is_api,
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "Request body is larger than the limit of {} bytes",
                guard.max_body
            ),
        )),
        // The client went away mid-body: nobody reads this answer.
        Ok(Err(_)) => Err(refuse(
            is_api,
            StatusCode::BAD_REQUEST,
            "The request body ended early".to_owned(),
        )),
        Err(_) => Err(refuse(
            is_api,
            StatusCode::REQUEST_TIMEOUT,
            format!(
                "The request body did not arrive within {} s",
                guard.body_deadline.as_secs()
            ),
        )),
    }
}
