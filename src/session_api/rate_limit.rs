//! Per-client-IP rate limits on the endpoints Gatehouse serves, counted in memory on this
//! instance as Better Auth's memory store counts them: per (IP, endpoint), a request is allowed
//! while fewer than `max` were allowed since the count started, and the count starts again once
//! `window` has passed since the last allowed request (refused requests do not extend it).
//! Timed by the injectable [`Clock`]; moka's idle expiry only frees the memory of quiet clients.

use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use moka::sync::Cache;

use crate::config::RateLimitConfig;
use crate::time::{Clock, Timestamp};

/// Better Auth's `{count, lastRequest}` for one client and endpoint.
#[derive(Clone, Copy)]
struct Count {
    count: u32,
    last_request: Timestamp,
}

/// Counts requests per client and endpoint.
pub(crate) struct RateLimiter {
    config: RateLimitConfig,
    clock: Arc<dyn Clock>,
    counts: Cache<(IpAddr, &'static str), Arc<Mutex<Count>>>,
}

impl RateLimiter {
    /// Limits as `config` sets them, timed by `clock`.
    pub(crate) fn new(config: &RateLimitConfig, clock: Arc<dyn Clock>) -> Self {
        let longest = config
            .endpoints
            .values()
            .flatten()
            .map(|r| r.window)
            .chain([config.default.window])
            .max()
            .unwrap_or(Duration::from_secs(60));
        Self {
            config: config.clone(),
            clock,
            counts: Cache::builder()
                .max_capacity(100_000)
                .time_to_idle(longest)
                .build(),
        }
    }

    /// Counts one request; `Some(retry_after)` when it is over the limit.
    pub(crate) fn check(&self, client: IpAddr, endpoint: &'static str) -> Option<Duration> {
        if !self.config.enabled {
            return None;
        }
        let rule = self.config.rule(endpoint)?;
        let now = self.clock.now();
        let entry = self.counts.get_with((client, endpoint), || {
            Arc::new(Mutex::new(Count {
                count: 0,
                last_request: now,
            }))
        });
        let mut c = entry
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let quiet_since = now.millis() - c.last_request.millis();
        let window_ms = i64::try_from(rule.window.as_millis()).unwrap_or(i64::MAX);
        if c.count == 0 || quiet_since >= window_ms {
            *c = Count {
                count: 1,
                last_request: now,
            };
            return None;
        }
        if c.count >= rule.max {
            let left = u64::try_from(window_ms - quiet_since).unwrap_or(0);
            return Some(Duration::from_millis(left));
        }
        c.count += 1;
        c.last_request = now;
        None
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::config::RateRule;
    use crate::time::ManualClock;

    const START: Timestamp = Timestamp::from_millis(1_800_000_000_000);

    fn limiter(max: u32, window_ms: u64) -> (RateLimiter, Arc<ManualClock>) {
        let rule = RateRule {
            max,
            window: Duration::from_millis(window_ms),
        };
        let mut endpoints = BTreeMap::new();
        endpoints.insert("get-session".to_string(), Some(RateRule { max: 1, ..rule }));
        endpoints.insert("session".to_string(), None);
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
    fn the_count_starts_again_only_a_window_after_the_last_allowed_request() {
        // Better Auth's rule, not a fixed window: requests at 0 s and 9 s fill a 2-per-10 s
        // limit until 19 s.
        let (l, clock) = limiter(2, 10_000);
        assert_eq!(l.check(A, "sign-out"), None);
        clock.advance(Duration::from_secs(9));
        assert_eq!(l.check(A, "sign-out"), None);
        clock.advance(Duration::from_secs(2));
        assert_eq!(l.check(A, "sign-out"), Some(Duration::from_secs(8)));
        clock.advance(Duration::from_secs(8));
        assert_eq!(
            l.check(A, "sign-out"),
            None,
            "10 s after the last allowed one"
        );
    }

    #[test]
    fn endpoints_without_a_rule_are_never_limited() {
        let (l, _) = limiter(1, 60_000);
        for _ in 0..5 {
            assert_eq!(l.check(A, "session"), None);
        }
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
