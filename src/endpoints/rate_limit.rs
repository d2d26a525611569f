//! Per-client-IP rate limits on the endpoints Gatehouse serves: a fixed window per (IP,
//! endpoint), counted in memory on this instance.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use moka::sync::Cache;
use moka::Expiry;

use crate::config::{RateLimitConfig, RateRule};

struct Window {
    started: Instant,
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
pub struct RateLimiter {
    config: RateLimitConfig,
    windows: Cache<(IpAddr, &'static str), Arc<Window>>,
}

impl RateLimiter {
    /// Limits as `config` sets them.
    pub fn new(config: &RateLimitConfig) -> Self {
        Self {
            config: config.clone(),
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
    pub fn check(&self, client: IpAddr, endpoint: &'static str) -> Option<Duration> {
        if !self.config.enabled {
            return None;
        }
        let rule = self.rule(endpoint);
        let window = self.windows.get_with((client, endpoint), || {
            Arc::new(Window {
                started: Instant::now(),
                length: rule.window,
                count: AtomicU32::new(0),
            })
        });
        let count = window.count.fetch_add(1, Ordering::Relaxed) + 1;
        (count > rule.max).then(|| window.length.saturating_sub(window.started.elapsed()))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn limiter(max: u32, window_ms: u64) -> RateLimiter {
        let rule = RateRule {
            max,
            window: Duration::from_millis(window_ms),
        };
        let mut endpoints = BTreeMap::new();
        endpoints.insert("get-session".to_string(), RateRule { max: 1, ..rule });
        RateLimiter::new(&RateLimitConfig {
            enabled: true,
            default: rule,
            endpoints,
        })
    }

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(203, 0, 113, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(203, 0, 113, 2));

    #[test]
    fn allows_max_then_limits_per_client_and_endpoint() {
        let l = limiter(3, 60_000);
        for _ in 0..3 {
            assert_eq!(l.check(A, "sign-out"), None);
        }
        let retry = l.check(A, "sign-out").expect("the fourth is limited");
        assert!(retry <= Duration::from_secs(60) && retry > Duration::from_secs(59));
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
        let l = limiter(3, 60_000);
        assert_eq!(l.check(A, "get-session"), None);
        assert!(l.check(A, "get-session").is_some());
    }

    #[test]
    fn the_window_resets() {
        let l = limiter(1, 50);
        assert_eq!(l.check(A, "sign-out"), None);
        assert!(l.check(A, "sign-out").is_some());
        std::thread::sleep(Duration::from_millis(80));
        assert_eq!(l.check(A, "sign-out"), None);
    }

    #[test]
    fn disabled_never_limits() {
        let mut config = limiter(1, 60_000).config;
        config.enabled = false;
        let l = RateLimiter::new(&config);
        for _ in 0..5 {
            assert_eq!(l.check(A, "sign-out"), None);
        }
    }
}
