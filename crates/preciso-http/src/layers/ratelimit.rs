//! Rate limiting per API key or client address, in process: one GCRA bucket (`governor`) per
//! client, allowing a burst of `per_minute` requests and refilling continuously. The buckets
//! live in a bounded cache (`moka`): at most `MAX_CLIENTS`, each dropped after two idle
//! minutes (by then it would be full again anyway). Eviction is amortized by the cache, so no
//! request ever sweeps the whole map under a lock.
//!
//! Failed authentication counts against the client's address like any request; an address
//! whose bucket ran dry on a failed key is remembered as blocked until it refills, and its
//! next key is refused without looking it up.

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota};
use moka::sync::Cache;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Clients tracked at once; beyond it the least recently used bucket goes (its client gets
/// a fresh burst, never a refusal).
const MAX_CLIENTS: u64 = 100_000;

/// A bucket idle this long is full again: forgetting it changes nothing.
const IDLE: Duration = Duration::from_secs(120);

pub struct RateLimiter {
    quota: Option<Quota>,
    buckets: Cache<String, Arc<DefaultDirectRateLimiter>>,
    /// Addresses whose failed keys emptied their bucket, until when.
    blocked: Cache<String, Instant>,
    clock: DefaultClock,
}

impl RateLimiter {
    /// `per_minute` requests per client; 0 disables limiting.
    pub fn new(per_minute: u32) -> Self {
        let quota = NonZeroU32::new(per_minute).map(Quota::per_minute);
        RateLimiter {
            quota,
            buckets: Cache::builder().max_capacity(MAX_CLIENTS).time_to_idle(IDLE).build(),
            blocked: Cache::builder().max_capacity(MAX_CLIENTS).time_to_live(IDLE).build(),
            clock: DefaultClock::default(),
        }
    }

    /// `Ok(())` if the request may pass, else `Err(seconds until it may)`.
    pub fn check(&self, client: &str) -> Result<(), u64> {
        let Some(quota) = self.quota else { return Ok(()) };
        let bucket = self
            .buckets
            .get_with_by_ref(client, || Arc::new(DefaultDirectRateLimiter::direct(quota)));
        bucket.check().map_err(|not_until| {
            let wait = not_until.wait_time_from(self.clock.now());
            wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
        })
    }

    /// Counts a failed authentication against `client`; when that empties its bucket the
    /// client is blocked until it refills. `Err(retry_after)` when it is (now) limited.
    pub fn fail(&self, client: &str) -> Result<(), u64> {
        self.check(client).inspect_err(|&secs| {
            self.blocked.insert(client.to_string(), Instant::now() + Duration::from_secs(secs));
        })
    }

    /// `Err(retry_after)` while `client` is blocked for failed keys.
    pub fn blocked(&self, client: &str) -> Result<(), u64> {
        match self.blocked.get(client) {
            Some(until) if until > Instant::now() => {
                Err(until.duration_since(Instant::now()).as_secs().max(1))
            }
            _ => Ok(()),
        }
    }

    /// Buckets held right now (after pending evictions).
    pub fn clients(&self) -> u64 {
        self.buckets.run_pending_tasks();
        self.buckets.entry_count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_the_burst_then_limits_per_client() {
        let l = RateLimiter::new(3);
        assert!(l.check("a").is_ok() && l.check("a").is_ok() && l.check("a").is_ok());
        let retry = l.check("a").unwrap_err();
        assert!((1..=20).contains(&retry), "{retry}");
        assert!(l.check("b").is_ok());
        assert!(RateLimiter::new(0).check("a").is_ok());
    }

    #[test]
    fn failures_drain_the_bucket_and_then_block_the_client() {
        let l = RateLimiter::new(2);
        assert!(l.blocked("ip:1").is_ok());
        assert!(l.fail("ip:1").is_ok() && l.fail("ip:1").is_ok());
        assert!(l.fail("ip:1").is_err());
        assert!(l.blocked("ip:1").is_err(), "blocked without another lookup");
        assert!(l.check("ip:1").is_err(), "its anonymous requests too");
        assert!(l.blocked("ip:2").is_ok());
    }

    #[test]
    fn the_bucket_map_stays_bounded() {
        let l = RateLimiter::new(10);
        for i in 0..(MAX_CLIENTS + 5_000) {
            let _ = l.check(&format!("ip:{i}"));
        }
        assert!(l.clients() <= MAX_CLIENTS, "{}", l.clients());
    }
}
