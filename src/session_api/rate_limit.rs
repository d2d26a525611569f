//! Per-client-IP rate limits on the endpoints Gatehouse serves: a fixed window per (IP,
//! endpoint), counted in memory on this instance. Windows are timed by the injectable
//! [`Clock`]; moka's own expiry only frees the memory of windows long over.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use moka::sync::Cache;
use moka::Expiry;

use crate::config::{RateLimitConfig, RateRule};
use crate::time::{Clock, Timestamp};

struct Window {
    started: Timestamp,
    length: Duration,
    count: AtomicU32,
}

struct WindowExpiry;

impl Expiry<(IpAddr, &'static str), Arc<Window>> for WindowExpiry {
    fn expire_after_create(
        &self,
        _key: &(IpAddr, &'static str),
        window: &Arc<Window>,
        _created: Instant,
    ) -> Option<Duration> {
        Some(window.length)
    }
}

/// Counts requests per client and endpoint.
pub(crate) struct RateLimiter {
    config: RateLimitConfig,
    clock: Arc<dyn Clock>,
    windows: Cache<(IpAddr, &'static str), Arc<Window>>,
}

impl RateLimiter {
    /// Limits as `config` sets them, timed by `clock`.
    pub(crate) fn new(config: &RateLimitConfig, clock: Arc<dyn Clock>) -> Self {
        Self {
            config: config.clone(),
            clock,
            windows: Cache::builder()
                .max_capacity(100_000)
                .expire_after(WindowExpiry)
                .build(),
        }
    }

    fn rule(&self, endpoint: &str) -> RateRule {
        self.config
            .endpoints
            .get(endpoint)
            .copied()
            .unwrap_or(self.config.default)
    }

    /// Counts one request; `Some(retry_after)` when it is over the limit.
    pub(crate) fn check(&self, client: IpAddr, endpoint: &'static str) -> Option<Duration> {
        if !self.config.enabled {
            return None;
        }
        let rule = self.rule(endpoint);
        let now = self.clock.now();
        let fresh = || {
            Arc::new(Window {
                started: now,
                length: rule.window,
                count: AtomicU32::new(0),
            })
        };
        let key = (client, endpoint);
        let mut window = self.windows.get_with(key, fresh);
        let ends = window.started.plus(window.length);
        if ends <= now {
            window = fresh();
            self.windows.insert(key, window.clone());
        }
        let count = window.count.fetch_add(1, Ordering::Relaxed) + 1;
        let ends = window.started.plus(window.length);
        let left = u64::try_from(ends.millis() - now.millis()).unwrap_or(0);
        (count > rule.max).then(|| Duration::from_millis(left))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::time::ManualClock;

    const START: Timestamp = Timestamp::from_millis(1_800_000_000_000);

    fn limiter(max: u32, window_ms: u64) -> (RateLimiter, Arc<ManualClock>) {
        let rule = RateRule {
            max,
            window: Duration::from_millis(window_ms),
        };
        let mut endpoints = BTreeMap::new();
        endpoints.insert("get-session".to_string(), RateRule { max: 1, ..rule });
        let clock = Arc::new(ManualClock::new(START));
        let config = RateLimitConfig {
            enabled: true,
            default: rule,
            endpoints,
        };
        (RateLimiter::new(&config, clock.clone()), clock)
    }

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(203, 0, 113, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(203, 0, 113, 2));

    #[test]
    fn allows_max_then_limits_per_client_and_endpoint() {
        let (l, clock) = limiter(3, 60_000);
        clock.advance(Duration::from_millis(250));
        for _ in 0..3 {
            assert_eq!(l.check(A, "sign-out"), None);
        }
        let retry = l.check(A, "sign-out").expect("the fourth is limited");
        assert_eq!(retry, Duration::from_secs(60));
        assert_eq!(
            l.check(B, "sign-out"),
            None,
            "another client has its own window"
        );
        assert_eq!(
            l.check(A, "list-sessions"),
            None,
            "another endpoint has its own window"
        );
    }

    #[test]
    fn endpoint_overrides_apply() {
        let (l, _) = limiter(3, 60_000);
        assert_eq!(l.check(A, "get-session"), None);
        assert!(l.check(A, "get-session").is_some());
    }

    #[test]
    fn the_window_resets() {
        let (l, clock) = limiter(1, 60_000);
        assert_eq!(l.check(A, "sign-out"), None);
        clock.advance(Duration::from_secs(59));
        assert_eq!(l.check(A, "sign-out"), Some(Duration::from_secs(1)));
        clock.advance(Duration::from_secs(1));
        assert_eq!(l.check(A, "sign-out"), None, "a new window");
        assert!(l.check(A, "sign-out").is_some());
    }

    #[test]
    fn disabled_never_limits() {
        let (limiter, clock) = limiter(1, 60_000);
        let mut config = limiter.config;
        config.enabled = false;
        let l = RateLimiter::new(&config, clock);
        for _ in 0..5 {
            assert_eq!(l.check(A, "sign-out"), None);
        }
    }
}
