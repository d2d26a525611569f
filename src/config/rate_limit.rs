//! `[rate_limit]`: per-client-IP limits on the endpoints Gatehouse serves itself.

use super::*;

/// Limits on the endpoints Gatehouse serves itself.
#[derive(Debug, Clone)]
pub struct RateLimitConfig {
    pub enabled: bool,
    pub default: RateRule,
    /// The rule of each endpoint that does not take `default`; `None`: not limited.
    pub endpoints: BTreeMap<String, Option<RateRule>>,
}

impl RateLimitConfig {
    /// The rule for `endpoint`; `None` when it is not limited.
    pub fn rule(&self, endpoint: &str) -> Option<RateRule> {
        match self.endpoints.get(endpoint) {
            Some(rule) => *rule,
            None => Some(self.default),
        }
    }
}

/// Seed 004's `GET /api/auth/session`: 10 requests per 60 s, unless configured otherwise.
const SESSION_ENDPOINT_DEFAULT: RateRule = RateRule {
    max: 10,
    window: Duration::from_secs(60),
};

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
        endpoints.insert(name.clone(), Some(rate_rule(&key, rule.max, &rule.window)?));
    }
    endpoints
        .entry("session".to_owned())
        .or_insert(Some(SESSION_ENDPOINT_DEFAULT));
    // Better Auth's customRules, matched against each endpoint's path as Better Auth matches
    // them (exact, or `*` wildcards), win over everything else.
    for (path, rule) in &r.custom_rules {
        let key = format!("rate_limit.custom_rules.\"{path}\"");
        let rule =
            match rule {
                file::CustomRule::Rule(rule) => Some(rate_rule(&key, rule.max, &rule.window)?),
                file::CustomRule::Switch(false) => None,
                file::CustomRule::Switch(true) => return Err(ConfigError::new(
                    key,
                    "must be { window = .., max = .. } or false (not limited), as in Better Auth",
                )),
            };
        if !path.starts_with('/') {
            return Err(ConfigError::new(
                key,
                "must be a path under better_auth.base_path such as \"/get-session\" (`*` matches any part)",
            ));
        }
        for endpoint in SERVED_ENDPOINTS {
            if wildcard_match(path, &format!("/{endpoint}")) {
                endpoints.insert((*endpoint).to_owned(), rule);
            }
        }
    }
    Ok(RateLimitConfig {
        enabled: r.enabled,
        default: rate_rule("rate_limit", r.max, &r.window)?,
        endpoints,
    })
}

/// Whether `path` matches `pattern`, where `*` stands for any run of characters (Better Auth's
/// `wildcardMatch` for customRules keys; `**` is the same as `*` for these one-segment paths).
fn wildcard_match(pattern: &str, path: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = path.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_as_better_auth_matches_them() {
        assert!(wildcard_match("/get-session", "/get-session"));
        assert!(!wildcard_match("/get-session", "/get-session2"));
        assert!(wildcard_match("/revoke-*", "/revoke-session"));
        assert!(wildcard_match("/revoke-*", "/revoke-other-sessions"));
        assert!(!wildcard_match("/revoke-*", "/sign-out"));
        assert!(wildcard_match("*", "/sign-out"));
        assert!(wildcard_match("/*-session*", "/get-session"));
        assert!(wildcard_match("/*-session*", "/revoke-sessions"));
        assert!(!wildcard_match("/*-session*", "/sign-out"));
    }
}
