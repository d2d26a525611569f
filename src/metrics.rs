//! Every Prometheus series Gatehouse exports, in one registry owned by the app (not the process
//! global one). Label values are bounded: route names come from config, everything else from
//! fixed sets.

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

/// The registered collectors.
pub(crate) struct Metrics {
    registry: Registry,
    /// `route`, `outcome`.
    pub(crate) requests: IntCounterVec,
    /// `source` (memory, cookie_cache, database), `result` (hit, miss, invalid, expired,
    /// revoked, banned, rejected).
    pub(crate) session_lookups: IntCounterVec,
    /// `result` (written, already_refreshed, failed).
    pub(crate) session_refreshes: IntCounterVec,
    /// `via` (sign_out, revoke_endpoint, notify, expired, cleanup).
    pub(crate) revocations: IntCounterVec,
    /// Time to decide whether a request is authenticated.
    pub(crate) auth_duration: Histogram,
    /// `op`: one per store method.
    pub(crate) db_query_duration: HistogramVec,
    /// `gatehouse_upstream_responses_total` by `status_class` (1xx ... 5xx), its five series
    /// resolved once: counting a response hashes no label.
    upstream_by_class: [IntCounter; 5],
    /// `kind` (unreachable, timeout, tls, failed, unresolved, no_healthy_server): requests
    /// that got no upstream answer.
    pub(crate) upstream_failures: IntCounterVec,
    pub(crate) rate_limited: IntCounter,
    /// Sessions held in memory, updated periodically.
    pub(crate) cache_entries: IntGauge,
    /// Unexpired sessions in the database, counted periodically.
    pub(crate) active_sessions: IntGauge,
    /// Log lines the non-blocking writer dropped (its queue was full), read at each scrape.
    log_lines_dropped: IntCounter,
}

/// Buckets for time spent deciding (mostly microseconds, database misses in milliseconds).
const AUTH_BUCKETS: &[f64] = &[
    0.000_01, 0.000_05, 0.000_1, 0.000_5, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0,
];
/// Buckets for database queries.
const DB_BUCKETS: &[f64] = &[
    0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// Why creating a series cannot fail: its name, help and labels are literals checked by the
/// tests below (`every_series_is_exported_with_its_help`).
const VALID: &str = "a series name, help and labels are fixed valid literals";
/// Why registering one cannot fail: each name is registered once, in a registry of our own.
const UNIQUE: &str = "each series is registered once in a fresh registry";

fn counter_vec(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let c = IntCounterVec::new(Opts::new(name, help), labels).expect(VALID);
    registry.register(Box::new(c.clone())).expect(UNIQUE);
    c
}

impl Metrics {
    /// A fresh registry with every series registered.
    pub(crate) fn new() -> Self {
        let registry = Registry::new();
        let r = &registry;
        let auth_duration = Histogram::with_opts(
            HistogramOpts::new(
                "gatehouse_auth_duration_seconds",
                "Time to decide whether a request is authenticated",
            )
            .buckets(AUTH_BUCKETS.to_vec()),
        )
        .expect(VALID);
        let db_query_duration = HistogramVec::new(
            HistogramOpts::new(
                "gatehouse_db_query_duration_seconds",
                "Session store query time",
            )
            .buckets(DB_BUCKETS.to_vec()),
            &["op"],
        )
        .expect(VALID);
        let rate_limited = IntCounter::new(
            "gatehouse_rate_limited_total",
            "Requests refused by a rate limit",
        )
        .expect(VALID);
        let cache_entries =
            IntGauge::new("gatehouse_cache_entries", "Sessions held in memory").expect(VALID);
        let active_sessions = IntGauge::new(
            "gatehouse_active_sessions",
            "Unexpired sessions in the database",
        )
        .expect(VALID);
        let log_lines_dropped = IntCounter::new(
            "gatehouse_log_lines_dropped_total",
            "Log lines dropped because the log writer's queue was full",
        )
        .expect(VALID);
        let upstream_responses = counter_vec(
            r,
            "gatehouse_upstream_responses_total",
            "Upstream responses by status class",
            &["status_class"],
        );
        let build_info = IntGaugeVec::new(
            Opts::new("gatehouse_build_info", "Build information"),
            &["version"],
        )
        .expect(VALID);
        build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION")])
            .set(1);
        for c in [
            Box::new(auth_duration.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(db_query_duration.clone()),
            Box::new(rate_limited.clone()),
            Box::new(cache_entries.clone()),
            Box::new(active_sessions.clone()),
            Box::new(log_lines_dropped.clone()),
            Box::new(build_info),
        ] {
            r.register(c).expect(UNIQUE);
        }
        Self {
            requests: counter_vec(
                r,
                "gatehouse_requests_total",
                "Requests by route and outcome",
                &["route", "outcome"],
            ),
            session_lookups: counter_vec(
                r,
                "gatehouse_session_lookups_total",
                "Session lookups by source and result",
                &["source", "result"],
            ),
            session_refreshes: counter_vec(
                r,
                "gatehouse_session_refreshes_total",
                "Session refreshes",
                &["result"],
            ),
            revocations: counter_vec(
                r,
                "gatehouse_revocations_total",
                "Sessions revoked or forgotten",
                &["via"],
            ),
            upstream_by_class: ["1xx", "2xx", "3xx", "4xx", "5xx"]
                .map(|class| upstream_responses.with_label_values(&[class])),
            upstream_failures: counter_vec(
                r,
                "gatehouse_upstream_failures_total",
                "Requests that got no upstream answer, by why",
                &["kind"],
            ),
            auth_duration,
            db_query_duration,
            rate_limited,
            cache_entries,
            active_sessions,
            log_lines_dropped,
            registry,
        }
    }

    /// Counts a session lookup.
    pub(crate) fn lookup(&self, source: &str, result: &str) {
        self.session_lookups
            .with_label_values(&[source, result])
            .inc();
    }

    /// Counts an upstream response by its status class.
    pub(crate) fn upstream_status(&self, status: u16) {
        let class = match status {
            100..=199 => 0,
            200..=299 => 1,
            300..=399 => 2,
            400..=499 => 3,
            _ => 4,
        };
        self.upstream_by_class[class].inc();
    }

    /// The text exposition of every series.
    pub(crate) fn render(&self) -> prometheus::Result<String> {
        let dropped = crate::logging::dropped_lines();
        self.log_lines_dropped
            .inc_by(dropped.saturating_sub(self.log_lines_dropped.get()));
        let mut out = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut out)?;
        String::from_utf8(out).map_err(|e| prometheus::Error::Msg(e.to_string()))
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_series_is_exported_with_its_help() {
        let m = Metrics::new();
        m.requests
            .with_label_values(&["default", "forwarded"])
            .inc();
        m.lookup("memory", "hit");
        m.session_refreshes.with_label_values(&["written"]).inc();
        m.revocations.with_label_values(&["sign_out"]).inc();
        m.auth_duration.observe(0.000_02);
        m.db_query_duration
            .with_label_values(&["find_session"])
            .observe(0.003);
        m.upstream_status(204);
        m.upstream_failures.with_label_values(&["unresolved"]).inc();
        m.rate_limited.inc();
        let text = m.render().unwrap();
        for series in [
            r#"gatehouse_requests_total{outcome="forwarded",route="default"} 1"#,
            r#"gatehouse_session_lookups_total{result="hit",source="memory"} 1"#,
            r#"gatehouse_session_refreshes_total{result="written"} 1"#,
            r#"gatehouse_revocations_total{via="sign_out"} 1"#,
            "gatehouse_auth_duration_seconds_count 1",
            r#"gatehouse_db_query_duration_seconds_count{op="find_session"} 1"#,
            r#"gatehouse_upstream_responses_total{status_class="2xx"} 1"#,
            r#"gatehouse_upstream_failures_total{kind="unresolved"} 1"#,
            "gatehouse_rate_limited_total 1",
            "gatehouse_cache_entries 0",
            "gatehouse_active_sessions 0",
            "gatehouse_log_lines_dropped_total 0",
            r#"gatehouse_build_info{version=""#,
        ] {
            assert!(text.contains(series), "missing {series}\n{text}");
        }
    }

    #[test]
    fn registries_are_independent() {
        let (a, b) = (Metrics::new(), Metrics::new());
        a.rate_limited.inc();
        assert!(b
            .render()
            .unwrap()
            .contains("gatehouse_rate_limited_total 0"));
    }
}
