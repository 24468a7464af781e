//! Forwarding headers: counted only from trusted peers, and then only up to the first hop that
//! is not a trusted proxy.

use super::*;

fn trusted(list: &[&str]) -> TrustedProxies {
    TrustedProxies::new(list.iter().map(|s| s.parse().unwrap()).collect())
}

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.append(
            axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
    }
    h
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn networks_contain_their_addresses() {
    let c: Cidr = "10.1.0.0/16".parse().unwrap();
    assert!(c.contains(ip("10.1.200.3")));
    assert!(!c.contains(ip("10.2.0.1")));
    assert!(!c.contains(ip("::1")));
    let one: Cidr = "127.0.0.1".parse().unwrap();
    assert!(one.contains(ip("127.0.0.1")) && !one.contains(ip("127.0.0.2")));
    assert!(one.contains(ip("::ffff:127.0.0.1")), "an IPv4-mapped peer");
    let v6: Cidr = "fd00::/8".parse().unwrap();
    assert!(v6.contains(ip("fd12::5")) && !v6.contains(ip("fe80::1")));
    let all: Cidr = "0.0.0.0/0".parse().unwrap();
    assert!(all.contains(ip("203.0.113.9")));
    for bad in ["10.0.0.0/33", "example.com", "10.0.0.1/x", "::/129"] {
        assert!(bad.parse::<Cidr>().is_err(), "{bad}");
    }
}

#[test]
fn an_untrusted_peer_speaks_only_for_itself() {
    let h = headers(&[
        ("x-forwarded-for", "198.51.100.7"),
        ("x-forwarded-proto", "https"),
        ("x-forwarded-host", "evil.example"),
    ]);
    let f = Forwarded::of(&h, ip("203.0.113.1"), &trusted(&["127.0.0.1"]));
    assert_eq!(
        f,
        Forwarded {
            client: ip("203.0.113.1"),
            scheme: None,
            host: None
        }
    );
}

#[test]
fn a_trusted_peer_names_the_rightmost_untrusted_hop() {
    let proxies = trusted(&["127.0.0.1", "10.0.0.0/8"]);
    // The client wrote the first address itself; the outer proxy (10.0.0.2) appended the
    // address it heard from, then the inner one appended 10.0.0.2.
    let h = headers(&[
        ("x-forwarded-for", "1.1.1.1, 198.51.100.7"),
        ("x-forwarded-for", "10.0.0.2"),
        ("x-forwarded-proto", "https"),
        ("x-forwarded-host", "annotations.example.org"),
    ]);
    let f = Forwarded::of(&h, ip("127.0.0.1"), &proxies);
    assert_eq!(f.client, ip("198.51.100.7"));
    assert_eq!(f.scheme, Some("https"));
    assert_eq!(f.host.as_deref(), Some("annotations.example.org"));
    // Ports and brackets are allowed; garbage stops the walk at the trusted hop after it.
    let h = headers(&[("x-forwarded-for", "[2001:db8::5]:443, 10.0.0.2:80")]);
    assert_eq!(
        Forwarded::of(&h, ip("127.0.0.1"), &proxies).client,
        ip("2001:db8::5")
    );
    let h = headers(&[("x-forwarded-for", "1.1.1.1, unknown, 10.0.0.2")]);
    assert_eq!(
        Forwarded::of(&h, ip("127.0.0.1"), &proxies).client,
        ip("10.0.0.2")
    );
    // No header: the proxy's own address; an odd scheme is not believed.
    let h = headers(&[("x-forwarded-proto", "gopher")]);
    let f = Forwarded::of(&h, ip("127.0.0.1"), &proxies);
    assert_eq!((f.client, f.scheme), (ip("127.0.0.1"), None));
}

#[test]
fn the_list_reads_from_a_comma_separated_string_or_a_list() {
    #[derive(Deserialize)]
    struct T {
        p: TrustedProxies,
    }
    let from_env: T = serde_json::from_str(r#"{"p": "127.0.0.1, 10.0.0.0/8"}"#).unwrap();
    let from_file: T = serde_json::from_str(r#"{"p": ["127.0.0.1", "10.0.0.0/8"]}"#).unwrap();
    assert_eq!(from_env.p, from_file.p);
    assert_eq!(from_env.p, trusted(&["127.0.0.1", "10.0.0.0/8"]));
    let e = serde_json::from_str::<T>(r#"{"p": "10.0.0.0/99"}"#)
        .err()
        .unwrap();
    assert!(e.to_string().contains("neither an IP address"), "{e}");
    assert_eq!(
        serde_json::to_value(&from_env.p).unwrap(),
        serde_json::json!(["127.0.0.1/32", "10.0.0.0/8"])
    );
}
