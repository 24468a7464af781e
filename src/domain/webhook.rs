//! Webhooks as users and operators define them (issue 16): where to POST, which subscription,
//! and the Standard Webhooks signing scheme (<https://www.standardwebhooks.com/>): a secret
//! `whsec_<base64 key>`, and `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`. Pure, so the
//! admin commands, the HTTP API and the delivery task share one set of rules.

use std::net::IpAddr;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use rand::RngCore;
use serde_json::{Value, json};
use sha2::Sha256;

/// Values a hook's filter may list, over all of uri, group and id.
pub const MAX_VALUES: usize = 100;
/// The longest target URL accepted.
pub const MAX_URL: usize = 2048;

/// What a new hook asks for, checked.
#[derive(Clone, Debug, PartialEq)]
pub struct WebhookSpec {
    pub url: url::Url,
    pub uris: Vec<String>,
    pub groups: Vec<String>,
    pub ids: Vec<String>,
}

impl WebhookSpec {
    /// Checks a hook's target and subscription. `allow_private` lets a target name a loopback,
    /// private or link-local address (the operator's `--webhook-allow-private`).
    pub fn new(
        url: &str,
        uris: Vec<String>,
        groups: Vec<String>,
        ids: Vec<String>,
        allow_private: bool,
    ) -> Result<WebhookSpec, String> {
        if url.len() > MAX_URL {
            return Err(format!("url is longer than {MAX_URL} characters"));
        }
        let parsed = url::Url::parse(url).map_err(|e| format!("url {url:?} is not a URL: {e}"))?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
            return Err(format!(
                "url must be an http(s) URL with a host, got {url:?}"
            ));
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err("url must not carry credentials".into());
        }
        if !allow_private && let Some(reason) = refused_host(&parsed) {
            return Err(reason);
        }
        let count = uris.len() + groups.len() + ids.len();
        if count == 0 {
            return Err("a webhook needs at least one uri, group or id to follow".into());
        }
        if count > MAX_VALUES {
            return Err(format!(
                "a webhook follows at most {MAX_VALUES} uris, groups and ids, got {count}"
            ));
        }
        if let Some(bad) = uris
            .iter()
            .chain(&groups)
            .chain(&ids)
            .find(|v| v.trim().is_empty() || v.len() > 2048)
        {
            return Err(format!("empty or overlong value {bad:?}"));
        }
        Ok(WebhookSpec {
            url: parsed,
            uris,
            groups,
            ids,
        })
    }

    /// The hook's subscription as a WebSocket filter (one `one_of` clause per field).
    pub fn filter(&self) -> Value {
        let clause = |field: &str, v: &[String]| {
            (!v.is_empty()).then(|| json!({"field": field, "operator": "one_of", "value": v}))
        };
        let clauses: Vec<Value> = [
            clause("/uri", &self.uris),
            clause("/group", &self.groups),
            clause("/id", &self.ids),
        ]
        .into_iter()
        .flatten()
        .collect();
        json!({"match_policy": "include_any", "clauses": clauses, "actions": {}})
    }
}

/// Why a target host is refused without `--webhook-allow-private`: a name that means this
/// machine, or an address literal that is not public. Names are checked again, resolved, when
/// each request goes out ([`is_public`]).
fn refused_host(url: &url::Url) -> Option<String> {
    let ip = match url.host()? {
        url::Host::Domain(d) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            return (d == "localhost" || d.ends_with(".localhost"))
                .then(|| format!("{d} is this machine; refused (see --webhook-allow-private)"));
        }
        url::Host::Ipv4(a) => IpAddr::V4(a),
        url::Host::Ipv6(a) => IpAddr::V6(a),
    };
    (!is_public(ip)).then(|| {
        format!("{ip} is a loopback, private or link-local address; refused (see --webhook-allow-private)")
    })
}

/// Whether a webhook may reach `ip` without `--webhook-allow-private`: not loopback, private,
/// link-local, shared (CGNAT), unspecified, multicast, documentation or benchmarking space, nor
/// an IPv6 unique-local address or an IPv4 address mapped into IPv6 that is any of those.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => {
            let o = a.octets();
            !(a.is_loopback()
                || a.is_private()
                || a.is_link_local()
                || a.is_unspecified()
                || a.is_broadcast()
                || a.is_multicast()
                || a.is_documentation()
                || o[0] == 0
                || (o[0] == 100 && (64..128).contains(&o[1]))
                || (o[0] == 198 && (o[1] == 18 || o[1] == 19))
                || o[0] >= 240)
        }
        IpAddr::V6(a) => {
            if let Some(v4) = a.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let s = a.segments();
            // NAT64 (64:ff9b::/96) and 6to4 (2002::/16) carry an IPv4 address: judge that.
            let embedded = |hi: u16, lo: u16| {
                IpAddr::V4(std::net::Ipv4Addr::new(
                    (hi >> 8) as u8,
                    hi as u8,
                    (lo >> 8) as u8,
                    lo as u8,
                ))
            };
            if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                return is_public(embedded(s[6], s[7]));
            }
            if s[0] == 0x2002 {
                return is_public(embedded(s[1], s[2]));
            }
            !(a.is_loopback()
                || a.is_unspecified()
                || a.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                || (s[0] & 0xffc0) == 0xfec0
                || (s[0] == 0x2001 && s[1] == 0x0db8))
        }
    }
}

/// A new secret: `whsec_` and the base64 of 24 random bytes.
pub fn new_secret() -> String {
    let mut key = [0u8; 24];
    rand::rng().fill_bytes(&mut key);
    format!("whsec_{}", STANDARD.encode(key))
}

/// A new hook id.
pub fn new_id() -> String {
    format!("wh_{}", uuid::Uuid::new_v4().simple())
}

/// The `webhook-signature` header value for one message.
pub fn sign(secret: &str, msg_id: &str, timestamp: i64, body: &str) -> Result<String, String> {
    let key = secret
        .strip_prefix("whsec_")
        .and_then(|k| STANDARD.decode(k).ok())
        .ok_or("a webhook secret is whsec_ and base64")?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).map_err(|e| e.to_string())?;
    mac.update(format!("{msg_id}.{timestamp}.{body}").as_bytes());
    Ok(format!(
        "v1,{}",
        STANDARD.encode(mac.finalize().into_bytes())
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_follow_standard_webhooks() {
        // The Standard Webhooks specification's example.
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = r#"{"test": 2432232314}"#;
        assert_eq!(
            sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body).unwrap(),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
        assert!(sign("nope", "m", 1, "b").is_err());
        assert!(new_secret().starts_with("whsec_"));
    }

    #[test]
    fn private_targets_are_refused_unless_allowed() {
        let spec = |url: &str, allow| {
            WebhookSpec::new(
                url,
                vec!["https://a.example/".into()],
                vec![],
                vec![],
                allow,
            )
        };
        for bad in [
            "http://127.0.0.1:9/x",
            "http://10.1.2.3/",
            "http://192.168.0.1/",
            "http://169.254.169.254/latest",
            "http://[::1]/",
            "http://[fd00::1]/",
            "http://[::ffff:10.0.0.1]/",
            "http://localhost:8080/",
            "http://100.64.0.1/",
            "http://[64:ff9b::a00:1]/",
            "http://[2002:c0a8:1::1]/",
            "http://[fec0::1]/",
        ] {
            let e = spec(bad, false).unwrap_err();
            assert!(e.contains("webhook-allow-private"), "{bad}: {e}");
            assert!(spec(bad, true).is_ok(), "{bad}");
        }
        assert!(spec("https://hooks.example.com/in", false).is_ok());
        assert!(spec("https://8.8.8.8/in", false).is_ok());
        assert!(spec("https://[64:ff9b::808:808]/in", false).is_ok());
        assert!(spec("https://[2606:4700::1111]/in", false).is_ok());
        assert!(spec("ftp://example.com/", true).is_err());
        assert!(spec("https://u:p@example.com/", true).is_err());
        assert!(WebhookSpec::new("https://example.com/", vec![], vec![], vec![], true).is_err());
    }
}
