//! How a webhook is POSTed: one HTTP/1.1 request on a connection of its own, to an address we
//! resolved and checked ourselves (no loopback, private or link-local target unless the operator
//! allowed them, so a hook cannot be pointed into the server's own network by a name that
//! resolves there), TLS through rustls with ring and the system's roots, no redirects, and one
//! deadline for the whole exchange.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use http_body_util::Full;
use hyper::Request;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::domain::webhook::is_public;

/// How long one delivery may take, connection included.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// What every delivery shares: the TLS configuration and the address policy.
#[derive(Clone)]
pub struct Client {
    tls: tokio_rustls::TlsConnector,
    allow_private: bool,
}

/// The headers of one delivery besides the body's.
pub struct Signed<'a> {
    pub id: &'a str,
    pub timestamp: i64,
    pub signature: &'a str,
}

impl Client {
    pub fn new(allow_private: bool) -> Result<Client, String> {
        let mut roots = rustls::RootCertStore::empty();
        let (added, _) =
            roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
        if added == 0 {
            tracing::warn!("no system root certificates found: https webhooks will fail");
        }
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
        Ok(Client {
            tls: tokio_rustls::TlsConnector::from(Arc::new(config)),
            allow_private,
        })
    }

    /// POSTs `body` to `url`; the response's status, or why there is none.
    pub async fn post(
        &self,
        url: &url::Url,
        signed: &Signed<'_>,
        body: &str,
    ) -> Result<u16, String> {
        tokio::time::timeout(TIMEOUT, self.exchange(url, signed, body))
            .await
            .unwrap_or_else(|_| Err(format!("no answer within {} s", TIMEOUT.as_secs())))
    }

    async fn exchange(
        &self,
        url: &url::Url,
        signed: &Signed<'_>,
        body: &str,
    ) -> Result<u16, String> {
        let host = url.host_str().ok_or("the url has no host")?;
        let port = url.port_or_known_default().ok_or("the url has no port")?;
        let addr = self.resolve(url, port).await?;
        let tcp = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connect {addr}: {e}"))?;
        let _ = tcp.set_nodelay(true);
        let authority = match url.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.to_owned(),
        };
        let path = match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        };
        let req = Request::post(path)
            .header("host", authority)
            .header("content-type", "application/json")
            .header(
                "user-agent",
                concat!("scholia-webhooks/", env!("CARGO_PKG_VERSION")),
            )
            .header("webhook-id", signed.id)
            .header("webhook-timestamp", signed.timestamp.to_string())
            .header("webhook-signature", signed.signature)
            .body(Full::new(Bytes::from(body.to_owned())))
            .map_err(|e| e.to_string())?;
        match url.scheme() {
            "https" => {
                let name = rustls::pki_types::ServerName::try_from(
                    host.trim_matches(['[', ']']).to_owned(),
                )
                .map_err(|e| format!("{host}: {e}"))?;
                let tls = self
                    .tls
                    .connect(name, tcp)
                    .await
                    .map_err(|e| format!("TLS with {host}: {e}"))?;
                send(TokioIo::new(tls), req).await
            }
            _ => send(TokioIo::new(tcp), req).await,
        }
    }

    /// The address to connect to: the first the policy allows.
    async fn resolve(&self, url: &url::Url, port: u16) -> Result<SocketAddr, String> {
        let found: Vec<SocketAddr> = match url.host() {
            Some(url::Host::Ipv4(a)) => vec![SocketAddr::new(IpAddr::V4(a), port)],
            Some(url::Host::Ipv6(a)) => vec![SocketAddr::new(IpAddr::V6(a), port)],
            Some(url::Host::Domain(d)) => tokio::net::lookup_host((d, port))
                .await
                .map_err(|e| format!("resolve {d}: {e}"))?
                .collect(),
            None => vec![],
        };
        found
            .iter()
            .copied()
            .find(|a| self.allow_private || is_public(a.ip()))
            .ok_or_else(|| match found.first() {
                Some(a) => format!(
                    "{} is not a public address; refused (see --webhook-allow-private)",
                    a.ip()
                ),
                None => "the host resolves to no address".to_owned(),
            })
    }
}

/// One request on a fresh HTTP/1.1 connection; the response's status.
async fn send<T>(io: TokioIo<T>, req: Request<Full<Bytes>>) -> Result<u16, String>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| format!("HTTP handshake: {e}"))?;
    // The connection is driven beside the request and dropped with it.
    let driver = tokio::spawn(conn);
    let resp = sender
        .send_request(req)
        .await
        .map_err(|e| format!("request: {e}"));
    driver.abort();
    Ok(resp?.status().as_u16())
}
