//! The listener: accepts connections and serves HTTP/1.1 (WebSocket upgrades included) on them,
//! with the limits that keep one client from starving the others of descriptors: a deadline for
//! a request's headers (a client trickling one byte a second is closed, not kept forever) and a
//! cap on the connections one address may hold. What is checked per request (sizes, the body's
//! deadline, shedding under overload) is in [`guard`].
//!
//! axum's own `serve` sets neither limit (hyper has the header deadline, but only with a timer,
//! which `axum::serve` does not give it), so this loop replaces it.

pub mod guard;

use std::collections::HashMap;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::http::Request;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use crate::proxy::{Forwarded, TrustedProxies};

/// Headers hyper itself accepts before it answers a bare 431 (twice [`guard`]'s limits, so that
/// a request past those gets the JSON answer instead).
const PARSER_MAX_HEADERS: usize = 2 * guard::MAX_HEADERS;
const PARSER_MAX_BUF: usize = 2 * guard::MAX_HEADER_BYTES;

/// How the listener treats connections.
#[derive(Clone, Debug)]
pub struct ConnLimits {
    /// A request's head (request line and headers) must arrive within this; an idle keep-alive
    /// connection is closed after it too.
    pub header_timeout: Duration,
    /// Open connections (WebSockets included) one client address may hold; 0 means no cap.
    pub per_address: usize,
    /// Whether the cap applies to loopback addresses (a reverse proxy on the same host
    /// connects from one, so by default it does not).
    pub cap_loopback: bool,
    /// Reverse proxies: their forwarding headers count, and the cap does not apply to them.
    pub trusted: Arc<TrustedProxies>,
}

/// Open connections by client address.
#[derive(Clone, Default)]
struct Census(Arc<Mutex<HashMap<IpAddr, usize>>>);

/// One admitted connection; dropping it gives its place back.
struct Admitted {
    census: Census,
    ip: IpAddr,
}

impl Census {
    fn admit(&self, ip: IpAddr, cap: usize) -> Option<Admitted> {
        let mut open = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let n = open.entry(ip).or_insert(0);
        if *n >= cap {
            return None;
        }
        *n += 1;
        Some(Admitted {
            census: self.clone(),
            ip,
        })
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut open = self.census.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = open.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

/// How long requests in progress may take to finish once the server stops.
const GRACE: Duration = Duration::from_secs(10);

/// Serves `app` on `listener` until `shutdown`, then stops accepting, lets requests in progress
/// finish (idle connections close at once) and returns. Upgraded WebSockets are not waited
/// for here: they belong to the hub's tasks.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnLimits,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let mut builder = auto::Builder::new(TokioExecutor::new()).http1_only();
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_headers(PARSER_MAX_HEADERS)
        .max_buf_size(PARSER_MAX_BUF);
    let builder = Arc::new(builder);
    let graceful = GracefulShutdown::new();
    let census = Census::default();
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of descriptors (or a connection reset before it was accepted): the
                    // listener stays, and trying again at once would spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.cancelled() => break,
        };
        // The cap is per TCP peer: it is decided before any header arrives, so a client
        // behind a proxy is not capped here (the proxy's own limits apply to it).
        let capped = limits.per_address > 0
            && (limits.cap_loopback || !peer.ip().is_loopback())
            && !limits.trusted.contains(peer.ip());
        let admitted = match capped {
            true => match census.admit(peer.ip(), limits.per_address) {
                Some(a) => Some(a),
                None => {
                    metrics::counter!("scholia_connections_refused_total").increment(1);
                    tracing::debug!(%peer, "too many connections from this address");
                    continue;
                }
            },
            false => None,
        };
        // Events go out the moment they are routed: Nagle's algorithm would hold a frame back
        // while an earlier one is unacknowledged.
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "could not set TCP_NODELAY");
        }
        let trusted = limits.trusted.clone();
        let service = TowerToHyperService::new(tower::ServiceExt::map_request(
            app.clone(),
            move |mut req: Request<Incoming>| {
                let forwarded = Forwarded::of(req.headers(), peer.ip(), &trusted);
                req.extensions_mut().insert(ConnectInfo(peer));
                req.extensions_mut().insert(forwarded);
                req
            },
        ));
        // The place travels with the connection's I/O, so a WebSocket keeps it after hyper has
        // handed the connection over, until the socket closes.
        let io = TokioIo::new(Counted { tcp, admitted });
        let conn = builder
            .serve_connection_with_upgrades(io, service)
            .into_owned();
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            let _ = conn.await;
        });
    }
    drop(listener);
    // Bounded: a response that never ends (a client that stopped reading a long download)
    // must not keep the server from stopping.
    if tokio::time::timeout(GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("requests still in progress after {GRACE:?}; stopping anyway");
    }
    Ok(())
}

/// A connection holding its place in the [`Census`] for as long as it is open.
pub(crate) struct Counted {
    tcp: TcpStream,
    #[allow(dead_code)] // Held for its `Drop`.
    admitted: Option<Admitted>,
}

impl AsyncRead for Counted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.tcp).poll_read(cx, buf)
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.tcp).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.tcp).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.tcp).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.tcp).poll_shutdown(cx)
    }
}
