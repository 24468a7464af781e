//! Per-address limits on password guesses and registrations: a bucket of [`BURST`] attempts per
//! address, refilled at one per [`REFILL`]. Kept in memory per node; a node restart forgets.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Attempts an address may make at once.
pub const BURST: f64 = 10.0;
/// One more attempt every this long (10 a minute, sustained).
pub const REFILL: Duration = Duration::from_secs(6);
/// Addresses tracked before full buckets are forgotten.
const TRACKED_MAX: usize = 100_000;

#[derive(Debug, Default)]
pub struct AttemptLimiter(Mutex<HashMap<IpAddr, (f64, Instant)>>);

impl AttemptLimiter {
    /// Takes one attempt for `addr`; false when its bucket is empty.
    pub fn allow(&self, addr: IpAddr) -> bool {
        self.allow_at(addr, Instant::now())
    }

    /// Whether `addr` may try now, taking nothing: a login checks before the password and
    /// [`AttemptLimiter::allow`]s only a wrong one, so that people logging in right (a class
    /// behind one NAT) never run out.
    pub fn may_try(&self, addr: IpAddr) -> bool {
        let now = Instant::now();
        self.0.lock().map_or(true, |map| {
            map.get(&key(addr))
                .is_none_or(|(tokens, at)| refilled(*tokens, *at, now) >= 1.0)
        })
    }

    fn allow_at(&self, addr: IpAddr, now: Instant) -> bool {
        let Ok(mut map) = self.0.lock() else {
            return true;
        };
        if map.len() >= TRACKED_MAX {
            map.retain(|_, (tokens, at)| refilled(*tokens, *at, now) < BURST);
        }
        let (tokens, at) = map.entry(key(addr)).or_insert((BURST, now));
        let available = refilled(*tokens, *at, now);
        if available < 1.0 {
            return false;
        }
        *tokens = available - 1.0;
        *at = now;
        true
    }
}

/// An IPv6 client holds a whole /64 (and can pick any address in it): one bucket per /64.
fn key(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V4(_) => addr,
        IpAddr::V6(v6) => {
            let mut octets = v6.octets();
            octets[8..].fill(0);
            IpAddr::from(octets)
        }
    }
}

fn refilled(tokens: f64, at: Instant, now: Instant) -> f64 {
    let gained = now.saturating_duration_since(at).as_secs_f64() / REFILL.as_secs_f64();
    (tokens + gained).min(BURST)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_one_per_refill_per_address() {
        let l = AttemptLimiter::default();
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let t0 = Instant::now();
        for _ in 0..10 {
            assert!(l.allow_at(a, t0));
        }
        assert!(!l.allow_at(a, t0));
        assert!(l.allow_at(b, t0), "another address has its own bucket");
        assert!(!l.allow_at(a, t0 + REFILL / 2));
        assert!(l.allow_at(a, t0 + REFILL));
        assert!(!l.allow_at(a, t0 + REFILL));
    }

    #[test]
    fn an_ipv6_64_is_one_bucket() {
        let l = AttemptLimiter::default();
        let t0 = Instant::now();
        for i in 0..10u16 {
            let a: IpAddr = format!("2001:db8::{i:x}").parse().unwrap();
            assert!(l.allow_at(a, t0));
        }
        assert!(!l.allow_at("2001:db8::ffff".parse().unwrap(), t0));
        assert!(l.allow_at("2001:db8:0:1::1".parse().unwrap(), t0));
    }
}
