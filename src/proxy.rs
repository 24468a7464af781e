//! Reverse proxies: which peers may speak for their clients (`--trusted-proxy ADDR|CIDR`), and the
//! client address, scheme and host a request carries through them.
//!
//! `X-Forwarded-For`, `X-Forwarded-Proto` and `X-Forwarded-Host` are whatever a client writes
//! unless a proxy the operator trusts set them; so they count only when the TCP peer is trusted.
//! The client is then the rightmost address in `X-Forwarded-For` that is not itself a trusted
//! proxy: each proxy appends the address it heard from, so everything left of the first
//! untrusted hop may have been written by the client. The listener works this out once per
//! request ([`Forwarded::of`]) and stores it in the request's extensions; [`client_addr`] reads
//! it, for the access log and anything else that needs the address.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use axum::extract::ConnectInfo;
use axum::http::HeaderMap;
use axum::http::request::Parts;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An address or a network: `10.0.0.5`, `10.0.0.0/8`, `::1`, `fd00::/8`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    net: IpAddr,
    bits: u8,
}

impl FromStr for Cidr {
    type Err = String;

    fn from_str(s: &str) -> Result<Cidr, String> {
        let bad = || format!("{s:?} is neither an IP address nor a CIDR network (ADDR/BITS)");
        let (addr, bits) = match s.trim().split_once('/') {
            Some((a, b)) => (a, Some(b.parse::<u8>().map_err(|_| bad())?)),
            None => (s.trim(), None),
        };
        let net: IpAddr = addr.parse().map_err(|_| bad())?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        let bits = bits.unwrap_or(max);
        if bits > max {
            return Err(bad());
        }
        Ok(Cidr { net, bits })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.net, self.bits)
    }
}

impl Cidr {
    pub fn contains(&self, ip: IpAddr) -> bool {
        // An IPv4 client seen on an IPv6 socket arrives as ::ffff:a.b.c.d.
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        let (net, ip, width) = match (self.net, ip) {
            (IpAddr::V4(n), IpAddr::V4(i)) => (u32::from(n) as u128, u32::from(i) as u128, 32),
            (IpAddr::V6(n), IpAddr::V6(i)) => (u128::from(n), u128::from(i), 128),
            _ => return false,
        };
        let shift = width - u32::from(self.bits);
        // A shift by the whole width (a /0) would overflow: every address matches.
        shift >= width || (net >> shift) == (ip >> shift)
    }
}

/// The proxies whose forwarding headers count. Empty by default: none do.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<Cidr>);

impl TrustedProxies {
    pub fn new(list: Vec<Cidr>) -> TrustedProxies {
        TrustedProxies(list)
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|c| c.contains(ip))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A list in `scholia.toml`, or one comma-separated string (`SCHOLIA_TRUSTED_PROXY=a,b`).
impl<'de> Deserialize<'de> for TrustedProxies {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Given {
            One(String),
            Many(Vec<String>),
        }
        let items = match Given::deserialize(d)? {
            Given::One(s) => s.split(',').map(str::to_owned).collect(),
            Given::Many(v) => v,
        };
        items
            .iter()
            .filter(|s| !s.trim().is_empty())
            .map(|s| s.parse().map_err(serde::de::Error::custom))
            .collect::<Result<_, _>>()
            .map(TrustedProxies)
    }
}

impl Serialize for TrustedProxies {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(ToString::to_string))
    }
}

/// What a request says about its origin, once its forwarding headers are weighed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Forwarded {
    /// The client's address: the TCP peer's, or the one a trusted proxy forwarded.
    pub client: IpAddr,
    /// `http` or `https` as a trusted proxy received the request; `None` when not forwarded.
    pub scheme: Option<&'static str>,
    /// The `Host` a trusted proxy received; `None` when not forwarded.
    pub host: Option<String>,
}

impl Forwarded {
    /// Weighs `headers` of a request whose TCP peer is `peer`.
    pub fn of(headers: &HeaderMap, peer: IpAddr, trusted: &TrustedProxies) -> Forwarded {
        if !trusted.contains(peer) {
            return Forwarded {
                client: peer,
                scheme: None,
                host: None,
            };
        }
        let scheme = last_value(headers, "x-forwarded-proto").and_then(|p| {
            match p.to_ascii_lowercase().as_str() {
                "http" => Some("http"),
                "https" => Some("https"),
                _ => None,
            }
        });
        let host = last_value(headers, "x-forwarded-host").map(str::to_owned);
        Forwarded {
            client: forwarded_client(headers, peer, trusted),
            scheme,
            host,
        }
    }
}

/// The rightmost hop of `X-Forwarded-For` (all its headers, in order) that is not a trusted
/// proxy; a hop that is no address ends the walk at the trusted one after it.
fn forwarded_client(headers: &HeaderMap, peer: IpAddr, trusted: &TrustedProxies) -> IpAddr {
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let mut client = peer;
    for hop in hops.iter().rev() {
        let Some(ip) = parse_hop(hop) else {
            break;
        };
        client = ip;
        if !trusted.contains(ip) {
            break;
        }
    }
    client
}

/// `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1` or `[2001:db8::1]:443`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<SocketAddr>().ok().map(|s| s.ip()))
}

/// The last comma-separated value of a header: the one the nearest proxy wrote.
fn last_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    let value = headers.get_all(name).iter().next_back()?.to_str().ok()?;
    let last = value.rsplit(',').next()?.trim();
    (!last.is_empty()).then_some(last)
}

/// The client address of a request: as [`Forwarded::of`] found it when the listener received
/// the request, else the TCP peer's, else (a request that came through no listener, as in unit
/// tests) the unspecified address.
pub fn client_addr(parts: &Parts) -> IpAddr {
    client_addr_of(&parts.extensions)
}

/// [`client_addr`] for anything with extensions (a whole request, in middleware).
pub fn client_addr_of(extensions: &axum::http::Extensions) -> IpAddr {
    if let Some(f) = extensions.get::<Forwarded>() {
        return f.client;
    }
    match extensions.get::<ConnectInfo<SocketAddr>>() {
        Some(ConnectInfo(peer)) => peer.ip(),
        None => IpAddr::from([0, 0, 0, 0]),
    }
}

#[cfg(test)]
mod tests;
