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

    fn allow_at(&self, addr: IpAddr, now: Instant) -> bool {
        let Ok(mut map) = self.0.lock() else {
            return true;
        };
        if map.len() >= TRACKED_MAX {
            map.retain(|_, (tokens, at)| refilled(*tokens, *at, now) < BURST);
        }
        let (tokens, at) = map.entry(addr).or_insert((BURST, now));
        let available = refilled(*tokens, *at, now);
        if available < 1.0 {
            return false;
        }
        *tokens = available - 1.0;
        *at = now;
        true
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
}
