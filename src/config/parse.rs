//! Parsers for single config values, each returning a [`ConfigError`] that names its key.

use std::time::Duration;

use http::HeaderName;

use super::file::DurationValue;
use super::ConfigError;

/// Whole seconds, or text with a unit (`"500ms"`, `"30s"`, `"7d"`).
pub(super) fn duration(key: &str, value: &DurationValue) -> Result<Duration, ConfigError> {
    match value {
        DurationValue::Seconds(s) => Ok(Duration::from_secs(*s)),
        DurationValue::Text(t) => humantime::parse_duration(t).map_err(|_| {
            ConfigError::new(key, format!("`{t}` is not a duration; write seconds (30) or text with a unit (\"30s\", \"500ms\", \"7d\")"))
        }),
    }
}

/// Names that must never carry identity: forwarding them would break HTTP or leak credentials.
const RESERVED_HEADERS: &[&str] = &[
    "host",
    "cookie",
    "authorization",
    "connection",
    "keep-alive",
    "proxy-authorization",
    "proxy-authenticate",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "content-length",
    "content-type",
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-forwarded-host",
];

/// A lowercase header name that is safe to inject.
pub(super) fn header_name(key: &str, name: &str) -> Result<HeaderName, ConfigError> {
    let lower = name.to_ascii_lowercase();
    if RESERVED_HEADERS.contains(&lower.as_str()) {
        return Err(ConfigError::new(
            key,
            format!("`{name}` is reserved; pick another name such as x-auth-user-id"),
        ));
    }
    HeaderName::from_bytes(lower.as_bytes())
        .map_err(|_| ConfigError::new(key, format!("`{name}` is not a valid header name")))
}

/// A table or column name: letters, digits and `_`, so it can be quoted safely in any dialect.
pub(super) fn identifier(key: &str, name: &str) -> Result<String, ConfigError> {
    let ok = !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !ok {
        return Err(ConfigError::new(
            key,
            format!("`{name}` must be a plain SQL identifier (letters, digits, `_`)"),
        ));
    }
    Ok(name.to_string())
}

/// IP addresses or CIDRs (`10.0.0.0/8`, `127.0.0.1`), as networks.
pub(super) fn ip_nets(key: &str, list: &[String]) -> Result<Vec<ipnet::IpNet>, ConfigError> {
    list.iter()
        .map(|s| {
            s.parse::<ipnet::IpNet>()
                .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| {
                    ConfigError::new(
                        key,
                        format!("`{s}` is not an IP address or CIDR such as 10.0.0.0/8"),
                    )
                })
        })
        .collect()
}

pub(super) fn nonzero(key: &str, d: Duration) -> Result<Duration, ConfigError> {
    if d.is_zero() {
        return Err(ConfigError::new(key, "must be greater than zero"));
    }
    Ok(d)
}
