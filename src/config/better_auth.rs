//! `[better_auth]` and `[sessions]`: the Better Auth settings Gatehouse must match (secret, base
//! URL, cookie names and attributes, cookie cache, trusted origins) and the session rules.

use super::*;

/// What Gatehouse must agree on with the Better Auth server it stands in front of.
#[derive(Debug, Clone)]
pub struct BetterAuthConfig {
    /// The current secret: it signs and checks every cookie.
    pub secret: Secret,
    /// Older secrets (`secrets` rotation, then the legacy `secret`): they only still decrypt
    /// `jwe` cookie caches, as in Better Auth.
    pub older_secrets: Vec<Secret>,
    pub base_path: String,
    /// Where requests under `base_path` go (defaults to `proxy.upstream`).
    pub upstream: Arc<Upstream>,
    pub cookies: CookieConfig,
    pub expires_in: Duration,
    pub update_age: Duration,
    /// `None` when the cookie cache is off.
    pub cookie_cache: Option<CookieCacheConfig>,
    /// Origins allowed to make state-changing requests with cookies (`trustedOrigins`, always
    /// including the base URL's origin), as `scheme://host[:port]`.
    pub trusted_origins: Vec<String>,
    /// Better Auth runs the multi-session plugin: sign-out also revokes the sessions of the
    /// browser's `*_multi-*` cookies and expires them.
    pub multi_session: bool,
    /// `user.additionalFields`, `session.additionalFields` and plugin fields.
    pub additional_fields: AdditionalFields,
    /// Who answers `GET <base_path>/get-session`.
    pub get_session: GetSessionMode,
}

/// Who answers `GET <base_path>/get-session`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GetSessionMode {
    /// Gatehouse, from its cache, the cookie cache or the database (the default).
    Gatehouse,
    /// Better Auth itself: the request is forwarded like any other under the base path, for
    /// apps whose plugins add fields Gatehouse cannot know.
    BetterAuth,
}

/// Gatehouse's own session rules.
#[derive(Debug, Clone)]
pub struct SessionsConfig {
    /// Reject users banned by the admin plugin on every path (Better Auth does not).
    pub reject_banned: bool,
    /// Never extend sessions (Better Auth's `session.disableSessionRefresh`).
    pub disable_refresh: bool,
    /// How often expired sessions are deleted; `None` turns cleanup off.
    pub cleanup_interval: Option<Duration>,
    /// Better Auth's `freshAge`, for `list-sessions`.
    pub fresh_age: Duration,
    /// Sessions whose field equals the value are rejected on every request (an account status
    /// such as `user.isActive = false`), as banned users are.
    pub reject_when: Vec<(FieldRef, serde_json::Value)>,
}

/// Better Auth's cookie cache (`session_data`), as configured in `session.cookieCache`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookieCacheConfig {
    pub strategy: CookieCacheStrategy,
    /// `cookieCache.maxAge`: the cookie's `Max-Age` and the cache's own expiry.
    pub max_age: Duration,
    /// `cookieCache.version`.
    pub version: String,
    /// Gatehouse never trusts a cache minted longer ago than this, whatever its own expiry says.
    pub max_trust: Duration,
}

/// How `session_data` is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CookieCacheStrategy {
    /// base64url JSON signed with HMAC-SHA256 (Better Auth's default).
    Compact,
    /// An HS256 JWT keyed with the raw secret.
    Jwt,
    /// A `dir` + `A256CBC-HS512` JWE keyed by HKDF of the secret.
    Jwe,
}

pub(super) fn better_auth(
    b: &file::BetterAuthSection,
    default_upstream: &Arc<Upstream>,
    env: &dyn EnvSource,
) -> Result<BetterAuthConfig, ConfigError> {
    let (secret, older_secrets) = secrets(b)?;
    if let Some(url) = &b.url {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(ConfigError::new(
                "better_auth.url",
                format!("`{url}` must start with http:// or https:// (BETTER_AUTH_URL)"),
            ));
        }
    }
    if !b.base_path.starts_with('/') || (b.base_path.len() > 1 && b.base_path.ends_with('/')) {
        return Err(ConfigError::new(
            "better_auth.base_path",
            format!(
                "`{}` must start with `/` and not end with one, e.g. /api/auth",
                b.base_path
            ),
        ));
    }
    if b.cookie_prefix.is_empty() || !b.cookie_prefix.chars().all(is_cookie_name_char) {
        return Err(ConfigError::new(
            "better_auth.cookie_prefix",
            "must be a non-empty cookie name (letters, digits, `-`, `_`, `.`)",
        ));
    }
    // Better Auth: useSecureCookies, else an https baseURL, else NODE_ENV=production.
    let secure = b.use_secure_cookies.unwrap_or_else(|| match &b.url {
        Some(url) => url.starts_with("https://"),
        None => env.var("NODE_ENV").as_deref() == Some("production"),
    });
    let upstream = match &b.upstream {
        Some(u) => Arc::new(upstream(
            "better_auth.upstream",
            &UpstreamSections {
                urls: &file::UpstreamUrls::One(u.clone()),
                tls: None,
                host: None,
                group: None,
            },
        )?),
        None => Arc::clone(default_upstream),
    };
    Ok(BetterAuthConfig {
        secret,
        older_secrets,
        base_path: b.base_path.clone(),
        upstream,
        cookies: cookies(b, secure)?,
        expires_in: nonzero(
            "better_auth.expires_in",
            duration("better_auth.expires_in", &b.expires_in)?,
        )?,
        update_age: duration("better_auth.update_age", &b.update_age)?,
        cookie_cache: cookie_cache(&b.cookie_cache)?,
        trusted_origins: trusted_origins(b)?,
        multi_session: b.plugins.multi_session,
        get_session: match b.get_session.as_str() {
            "gatehouse" => GetSessionMode::Gatehouse,
            "better_auth" => GetSessionMode::BetterAuth,
            other => {
                return Err(ConfigError::new(
                    "better_auth.get_session",
                    format!("`{other}` is not one of gatehouse, better_auth"),
                ))
            }
        },
        additional_fields: additional_fields(
            &b.user.additional_fields,
            &b.session.additional_fields,
            &b.plugins,
        )?,
    })
}

pub(super) fn cookie_cache(
    c: &file::CookieCacheSection,
) -> Result<Option<CookieCacheConfig>, ConfigError> {
    let strategy = match c.strategy.as_str() {
        "compact" | "base64-hmac" => CookieCacheStrategy::Compact,
        "jwt" => CookieCacheStrategy::Jwt,
        "jwe" => CookieCacheStrategy::Jwe,
        other => {
            return Err(ConfigError::new(
                "better_auth.cookie_cache.strategy",
                format!("`{other}` is not one of compact, jwt, jwe (Better Auth's session.cookieCache.strategy)"),
            ))
        }
    };
    let max_age = nonzero(
        "better_auth.cookie_cache.max_age",
        duration("better_auth.cookie_cache.max_age", &c.max_age)?,
    )?;
    let max_trust = nonzero(
        "better_auth.cookie_cache.max_trust",
        duration("better_auth.cookie_cache.max_trust", &c.max_trust)?,
    )?;
    if c.version.is_empty() {
        return Err(ConfigError::new(
            "better_auth.cookie_cache.version",
            "must not be empty (Better Auth's default is \"1\")",
        ));
    }
    Ok(c.enabled.then(|| CookieCacheConfig {
        strategy,
        max_age,
        version: c.version.clone(),
        max_trust,
    }))
}

/// `scheme://host[:port]`, lowercase, of an http(s) URL or origin.
pub fn origin_of(url: &str) -> Option<String> {
    let uri: http::Uri = url.parse().ok()?;
    let scheme = uri.scheme_str().filter(|s| *s == "http" || *s == "https")?;
    Some(format!(
        "{scheme}://{}",
        uri.authority()?.as_str().to_ascii_lowercase()
    ))
}

pub(super) fn trusted_origins(b: &file::BetterAuthSection) -> Result<Vec<String>, ConfigError> {
    let mut origins: Vec<String> = b.url.iter().filter_map(|u| origin_of(u)).collect();
    for o in &b.trusted_origins {
        let origin = origin_of(o).ok_or_else(|| {
            ConfigError::new(
                "better_auth.trusted_origins",
                format!("`{o}` is not an origin such as https://app.example.com"),
            )
        })?;
        origins.push(origin);
    }
    Ok(origins)
}

pub(super) fn sessions(
    s: &file::SessionsSection,
    additional: &AdditionalFields,
) -> Result<SessionsConfig, ConfigError> {
    let interval = duration("sessions.cleanup_interval", &s.cleanup_interval)?;
    let mut reject_when = Vec::new();
    for (field, value) in &s.reject_when {
        let key = format!("sessions.reject_when.\"{field}\"");
        let (at, _) = additional.find(field).ok_or_else(|| {
            ConfigError::new(
                &key,
                format!("`{field}` is not a declared field; write user.<name> or session.<name> of a field in better_auth.user/session.additional_fields or a plugin's"),
            )
        })?;
        let value = match value {
            toml::Value::String(_)
            | toml::Value::Integer(_)
            | toml::Value::Float(_)
            | toml::Value::Boolean(_) => {
                serde_json::to_value(value).map_err(|e| ConfigError::new(&key, e.to_string()))?
            }
            _ => return Err(ConfigError::new(key, "must be a string, number or boolean")),
        };
        reject_when.push((at, value));
    }
    Ok(SessionsConfig {
        reject_banned: s.reject_banned,
        disable_refresh: s.disable_refresh,
        cleanup_interval: (!interval.is_zero()).then_some(interval),
        fresh_age: duration("sessions.fresh_age", &s.fresh_age)?,
        reject_when,
    })
}
