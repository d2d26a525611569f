//! `[metrics]` (the operations listener: `/metrics`, `/healthz`, `/readyz`), `[log]` and
//! `[tracing]` (span export).

use super::*;

/// The operations listener (`/metrics`, `/healthz`, `/readyz`); `None` turns it off.
#[derive(Debug, Clone)]
pub struct MetricsConfig {
    pub listen: Option<SocketAddr>,
    /// How often `gatehouse_cache_entries` and `gatehouse_active_sessions` are updated.
    pub gauge_interval: Duration,
}

/// How logs are written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogConfig {
    pub json: bool,
    /// Access lines in nginx's combined format (for tools that parse nginx logs) instead of
    /// one field per value.
    pub access_combined: bool,
    /// A `tracing` filter (`info`, `gatehouse=debug,warn`); `RUST_LOG` wins when set.
    pub level: String,
}

/// Span export over OTLP/HTTP (`[tracing]`); `None` when off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TracingConfig {
    /// e.g. `http://collector:4318/v1/traces`.
    pub otlp_endpoint: String,
    pub service_name: String,
    pub export_interval: Duration,
    /// Spans waiting to be sent; past this they are dropped (and counted), never waited for.
    pub queue: usize,
}

pub(super) fn span_export(t: &file::TracingSection) -> Result<Option<TracingConfig>, ConfigError> {
    let Some(endpoint) = &t.otlp_endpoint else {
        return Ok(None);
    };
    let uri: http::Uri = endpoint.parse().map_err(|_| {
        ConfigError::new(
            "tracing.otlp_endpoint",
            format!("`{endpoint}` is not a URL"),
        )
    })?;
    if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
        return Err(ConfigError::new(
            "tracing.otlp_endpoint",
            format!("`{endpoint}` must be an http(s) URL such as http://collector:4318/v1/traces"),
        ));
    }
    if t.queue == 0 {
        return Err(ConfigError::new("tracing.queue", "must be at least 1"));
    }
    Ok(Some(TracingConfig {
        otlp_endpoint: endpoint.clone(),
        service_name: t.service_name.clone(),
        export_interval: nonzero(
            "tracing.export_interval",
            duration("tracing.export_interval", &t.export_interval)?,
        )?,
        queue: t.queue,
    }))
}

pub(super) fn metrics(m: &file::MetricsSection) -> Result<MetricsConfig, ConfigError> {
    let listen = m.listen.parse().map_err(|_| {
        ConfigError::new(
            "metrics.listen",
            format!("`{}` is not an address; write ip:port, e.g. 127.0.0.1:9090 (or set GATEHOUSE_METRICS_LISTEN)", m.listen),
        )
    })?;
    Ok(MetricsConfig {
        listen: m.enabled.then_some(listen),
        gauge_interval: nonzero(
            "metrics.gauge_interval",
            duration("metrics.gauge_interval", &m.gauge_interval)?,
        )?,
    })
}

pub(super) fn log(l: &file::LogSection) -> Result<LogConfig, ConfigError> {
    let json = match l.format.as_str() {
        "human" => false,
        "json" => true,
        other => {
            return Err(ConfigError::new(
                "log.format",
                format!("`{other}` is not one of human, json"),
            ))
        }
    };
    if tracing_subscriber::EnvFilter::try_new(&l.level).is_err() {
        return Err(ConfigError::new(
            "log.level",
            format!("`{}` is not a log filter; write a level (info, debug) or targets (gatehouse=debug,warn)", l.level),
        ));
    }
    let access_combined = match l.access_format.as_str() {
        "fields" => false,
        "combined" => true,
        other => {
            return Err(ConfigError::new(
                "log.access_format",
                format!("`{other}` is not one of fields, combined"),
            ))
        }
    };
    Ok(LogConfig {
        json,
        access_combined,
        level: l.level.clone(),
    })
}
