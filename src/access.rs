//! One access-log line and one `gatehouse_requests_total` count per request, and the request
//! ID that ties a request's log lines to the upstream's.

use std::time::Duration;

use http::{HeaderMap, HeaderName, HeaderValue};
use rand::Rng;

use std::sync::Arc;

use crate::auth::validator::LookupSource;
use crate::decision::Outcome;
use crate::metrics::Metrics;

/// The header carrying the request ID, to the upstream and back to the client.
pub(crate) const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The client's `X-Request-Id` when it is short and plain (letters, digits, `-`, `_`, `.`, at
/// most 128), else a fresh random one.
pub(crate) fn request_id(headers: &HeaderMap) -> HeaderValue {
    let sent = headers.get(REQUEST_ID).filter(|v| {
        let b = v.as_bytes();
        !b.is_empty()
            && b.len() <= 128
            && b.iter()
                .all(|c| c.is_ascii_alphanumeric() || b"-_.".contains(c))
    });
    match sent {
        Some(v) => v.clone(),
        None => {
            let id = format!("{:032x}", rand::thread_rng().gen::<u128>());
            HeaderValue::from_str(&id).unwrap_or(HeaderValue::from_static("unknown"))
        }
    }
}

/// What the access log records about a request. Never the query string, a cookie or a token.
#[derive(Debug)]
pub(crate) struct AccessRecord<'a> {
    pub(crate) request_id: &'a str,
    pub(crate) method: &'a str,
    /// The path without its query string.
    pub(crate) path: &'a str,
    /// The client as `ClientAddr` computed it (behind trusted proxies, the forwarded address).
    pub(crate) client_ip: Option<std::net::IpAddr>,
    pub(crate) route: &'a str,
    pub(crate) outcome: Outcome,
    pub(crate) source: Option<LookupSource>,
    /// 0 when no response was sent.
    pub(crate) status: u16,
    pub(crate) latency: Duration,
}

/// Writes access lines and counts requests.
pub(crate) struct AccessLog {
    metrics: Arc<Metrics>,
}

impl AccessLog {
    /// An access log counting into `metrics`.
    pub(crate) fn new(metrics: Arc<Metrics>) -> Self {
        Self { metrics }
    }

    /// Counts and logs a finished request.
    pub(crate) fn record(&self, r: &AccessRecord<'_>) {
        self.metrics
            .requests
            .with_label_values(&[r.route, r.outcome.as_str()])
            .inc();
        tracing::info!(
            target: "gatehouse::access",
            request_id = r.request_id,
            method = r.method,
            path = r.path,
            client_ip = r.client_ip.map(tracing::field::display),
            route = r.route,
            outcome = r.outcome.as_str(),
            source = r.source.map_or("none", LookupSource::as_str),
            status = r.status,
            latency_ms = r.latency.as_secs_f64() * 1000.0,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_client_ids_are_kept_and_others_replaced() {
        let mut h = HeaderMap::new();
        h.insert(REQUEST_ID, HeaderValue::from_static("abc-123_x.y"));
        assert_eq!(request_id(&h), "abc-123_x.y");
        h.insert(REQUEST_ID, HeaderValue::from_static("has space"));
        let replaced = request_id(&h);
        assert_eq!(replaced.len(), 32);
        assert_ne!(replaced, request_id(&h), "fresh each time");
        h.insert(REQUEST_ID, HeaderValue::from_str(&"a".repeat(129)).unwrap());
        assert_eq!(request_id(&h).len(), 32);
        assert_eq!(request_id(&HeaderMap::new()).len(), 32);
    }
}
