//! `[rate_limit]`: per-client-IP limits on the endpoints Gatehouse serves itself.

use super::*;

/// Limits on the endpoints Gatehouse serves itself.
#[derive(Debug, Clone)]
pub struct RateLimitConfig {
    pub enabled: bool,
    pub default: RateRule,
    pub endpoints: BTreeMap<String, RateRule>,
}

/// At most `max` requests per client IP per `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateRule {
    pub max: u32,
    pub window: Duration,
}

/// The endpoints under the Better Auth base path that Gatehouse answers itself.
pub const SERVED_ENDPOINTS: &[&str] = &[
    "get-session",
    "sign-out",
    "list-sessions",
    "revoke-session",
    "revoke-sessions",
    "revoke-other-sessions",
    "session",
];

pub(super) fn rate_rule(
    key: &str,
    max: u32,
    window: &file::DurationValue,
) -> Result<RateRule, ConfigError> {
    if max == 0 {
        return Err(ConfigError::new(
            format!("{key}.max"),
            "must be at least 1 (set rate_limit.enabled = false to turn limits off)",
        ));
    }
    let window = nonzero(
        &format!("{key}.window"),
        duration(&format!("{key}.window"), window)?,
    )?;
    Ok(RateRule { max, window })
}

pub(super) fn rate_limit(r: &file::RateLimitSection) -> Result<RateLimitConfig, ConfigError> {
    let mut endpoints = BTreeMap::new();
    for (name, rule) in &r.endpoints {
        let key = format!("rate_limit.endpoints.{name}");
        if !SERVED_ENDPOINTS.contains(&name.as_str()) {
            return Err(ConfigError::new(
                key,
                format!(
                    "unknown endpoint; use one of {}",
                    SERVED_ENDPOINTS.join(", ")
                ),
            ));
        }
        endpoints.insert(name.clone(), rate_rule(&key, rule.max, &rule.window)?);
    }
    Ok(RateLimitConfig {
        enabled: r.enabled,
        default: rate_rule("rate_limit", r.max, &r.window)?,
        endpoints,
    })
}
