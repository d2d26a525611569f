//! Gatehouse's configuration: a TOML file plus environment variables, validated into typed values.
//!
//! Loading has three stages: [`file::ConfigFile`] (serde shapes, unknown keys rejected), the
//! environment overrides (`BETTER_AUTH_SECRET`, `GATEHOUSE_LISTEN`, ...; env beats file), and
//! [`Config::from_file`], which parses every value into a real type and reports the first
//! problem as a [`ConfigError`] naming the key and how to fix it.

pub mod env;
pub mod file;
mod parse;

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use http::HeaderName;
use ipnet::IpNet;

pub use env::{EnvSource, MapEnv, ProcessEnv};
use file::ConfigFile;
use parse::{duration, header_name, identifier, upstream};

/// A config problem: the key at fault and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {message}")]
pub struct ConfigError {
    /// The TOML key path (`proxy.upstream`) or environment variable at fault.
    pub key: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl ConfigError {
    pub(crate) fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            message: message.into(),
        }
    }
}

/// A secret string whose `Debug` never shows the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// The secret itself. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub server: ServerConfig,
    pub better_auth: BetterAuthConfig,
    pub database: DatabaseConfig,
    pub cache: CacheConfig,
    pub headers: HeadersConfig,
    pub proxy: ProxyConfig,
    pub sessions: SessionsConfig,
    pub rate_limit: RateLimitConfig,
    pub metrics: MetricsConfig,
    pub log: LogConfig,
    /// `None` when the admin API and dashboard are off.
    pub admin: Option<AdminConfig>,
    pub geo: GeoConfig,
    /// Routes in file order; the first matching route with the longest prefix wins.
    pub routes: Vec<RouteConfig>,
}

/// The listener and process settings handed to Pingora.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    pub threads: usize,
    pub grace_period: Duration,
    pub graceful_shutdown_timeout: Duration,
    pub pid_file: Option<String>,
    pub upgrade_sock: Option<String>,
}

/// What Gatehouse must agree on with the Better Auth server it stands in front of.
#[derive(Debug, Clone)]
pub struct BetterAuthConfig {
    pub secret: Secret,
    pub base_path: String,
    /// Where requests under `base_path` go (defaults to `proxy.upstream`).
    pub upstream: Upstream,
    pub cookies: CookieConfig,
    pub expires_in: Duration,
    pub update_age: Duration,
    /// `None` when the cookie cache is off.
    pub cookie_cache: Option<CookieCacheConfig>,
    /// Origins allowed to make state-changing requests with cookies (`trustedOrigins`, always
    /// including the base URL's origin), as `scheme://host[:port]`.
    pub trusted_origins: Vec<String>,
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
}

/// The operations listener (`/metrics`, `/healthz`, `/readyz`); `None` turns it off.
#[derive(Debug, Clone)]
pub struct MetricsConfig {
    pub listen: Option<SocketAddr>,
    /// How often `gatehouse_cache_entries` and `gatehouse_active_sessions` are updated.
    pub gauge_interval: Duration,
}

/// The sessions admin API and dashboard.
#[derive(Debug, Clone)]
pub struct AdminConfig {
    /// Path prefix (`/_gatehouse`), on the proxy listener or on [`Self::listen`].
    pub mount: String,
    /// A listener of its own (`GATEHOUSE_ADMIN_LISTEN`): the admin is then served only there,
    /// and the mount is an ordinary path on the proxy listener.
    pub listen: Option<SocketAddr>,
    /// Users with one of these roles may use the admin API.
    pub roles: Vec<String>,
    /// `GATEHOUSE_ADMIN_TOKEN`: a bearer token that also grants access.
    pub token: Option<Secret>,
    /// Whether the seeding endpoints (which create real sessions) are on.
    pub allow_seeding: bool,
}

/// Where IP locations come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GeoProvider {
    /// No lookups: only private and loopback addresses are labelled.
    None,
    /// ipinfo.io, `lite` or `lookup` endpoint, with a token.
    Ipinfo {
        lookup: bool,
        token: Option<Secret>,
        base_url: String,
    },
    /// ip-api.com's JSON endpoint.
    IpApi { base_url: String },
    /// A MaxMind-format database file, read offline.
    Mmdb { path: String },
}

/// IP geolocation settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeoConfig {
    pub provider: GeoProvider,
    /// PEM certificates trusted for HTTPS providers besides the system's roots.
    pub ca_file: Option<String>,
    pub timeout: Duration,
    pub cache_ttl: Duration,
    pub cache_max: u64,
}

/// How logs are written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogConfig {
    pub json: bool,
    /// A `tracing` filter (`info`, `gatehouse=debug,warn`); `RUST_LOG` wins when set.
    pub level: String,
}

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

/// Cookie names and attributes, decided as Better Auth decides them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookieConfig {
    pub session_token: String,
    pub session_data: String,
    pub dont_remember: String,
    /// `Secure` attribute and `__Secure-` name prefix.
    pub secure: bool,
}

/// How to reach the database and read Better Auth's tables.
#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    pub url: Secret,
    pub max_connections: u32,
    pub acquire_timeout: Duration,
    pub schema: SchemaConfig,
}

/// Which layout wrote the `user` and `session` tables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaConfig {
    pub user_table: String,
    pub session_table: String,
    pub account_table: String,
    /// Column names by Better Auth field name (`session.expiresAt` -> `expires_at`).
    pub columns: BTreeMap<String, String>,
    /// The admin plugin's columns (`role`, `banned`, `banReason`, `banExpires`, `impersonatedBy`).
    pub admin_plugin: bool,
    pub sqlite_dates: SqliteDates,
    /// Extra `user` columns to read, for `headers.user_columns`.
    pub extra_user_columns: Vec<String>,
}

/// How dates are stored in SQLite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SqliteDates {
    /// ISO-8601 text with milliseconds (Better Auth's own Kysely adapter).
    Iso,
    /// Integer milliseconds since the epoch (Drizzle's `timestamp_ms`).
    EpochMillis,
}

/// The moka session cache.
#[derive(Debug, Clone)]
pub struct CacheConfig {
    pub max_entries: u64,
    pub max_staleness: Duration,
    pub negative_ttl: Duration,
}

/// Identity header names injected upstream and stripped from clients.
#[derive(Debug, Clone)]
pub struct HeadersConfig {
    pub user_id: HeaderName,
    pub user_email: HeaderName,
    pub user_name: HeaderName,
    pub user_role: HeaderName,
    pub session_id: HeaderName,
    /// Any client header starting with one of these is removed before forwarding.
    pub strip_prefixes: Vec<String>,
    /// Extra headers filled from `user` columns.
    pub user_columns: Vec<(HeaderName, String)>,
}

/// Proxy behaviour shared by all routes.
#[derive(Debug, Clone)]
pub struct ProxyConfig {
    pub upstream: Upstream,
    pub trusted_proxies: Vec<IpNet>,
    pub strip_auth_cookies: bool,
    pub login_url: String,
    pub login_redirect_param: String,
    pub connect_timeout: Duration,
    pub read_timeout: Duration,
}

/// An upstream HTTP server, resolved once at load time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upstream {
    /// As written in the config, for logs.
    pub url: String,
    pub addr: SocketAddr,
}

/// One `[[routes]]` entry.
#[derive(Debug, Clone)]
pub struct RouteConfig {
    pub prefix: String,
    /// Lowercase host without port; `None` matches any host.
    pub host: Option<String>,
    pub upstream: Upstream,
    pub policy: Policy,
    pub unauthenticated: Unauthenticated,
    /// Reject sessions created longer ago than this (403 `SESSION_NOT_FRESH`).
    pub fresh_age: Option<Duration>,
    /// Reject users without one of these roles (403).
    pub roles: Vec<String>,
    /// Reject sessions used from another IP address than they were created from (403).
    pub bind_ip: bool,
}

/// Whether a route needs a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// No valid session: 401 or redirect; the upstream never sees the request.
    Required,
    /// Identity headers when there is a session; forwarded either way.
    Optional,
    /// Never looks at the session.
    Public,
}

/// What a `required` route answers without a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unauthenticated {
    /// Redirect browser navigations, 401 for everything else.
    Auto,
    /// Always `401`.
    Status,
    /// Always redirect to the login URL (for `GET`/`HEAD`; other methods get 401).
    Redirect,
}

impl Config {
    /// Reads `path` (or nothing, for defaults) and applies the environment on top.
    pub fn load(path: Option<&Path>, env: &dyn EnvSource) -> Result<Self, ConfigError> {
        let file = match path {
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|e| {
                    ConfigError::new(p.display().to_string(), format!("cannot read: {e}"))
                })?;
                parse_toml(&text).map_err(|e| ConfigError {
                    key: format!("{}: {}", p.display(), e.key),
                    ..e
                })?
            }
            None => ConfigFile::default(),
        };
        Self::from_file(file, env)
    }

    /// Validates a parsed file with the environment applied on top.
    pub fn from_file(mut file: ConfigFile, env: &dyn EnvSource) -> Result<Self, ConfigError> {
        apply_env(&mut file, env);
        let server = server(&file.server)?;
        let proxy = proxy(&file.proxy)?;
        let better_auth = better_auth(&file.better_auth, &proxy.upstream, env)?;
        let headers = headers(&file.headers)?;
        let database = database(&file.database, &headers)?;
        let cache = cache(&file.cache)?;
        let routes = file
            .routes
            .iter()
            .enumerate()
            .map(|(i, r)| route(i, r, &proxy.upstream))
            .collect::<Result<Vec<_>, _>>()?;
        for (i, r) in routes.iter().enumerate() {
            if routes[..i]
                .iter()
                .any(|o| o.prefix == r.prefix && o.host == r.host)
            {
                return Err(ConfigError::new(
                    format!("routes[{i}].prefix"),
                    format!(
                        "`{}` is already routed for the same host; merge the two routes",
                        r.prefix
                    ),
                ));
            }
        }
        let sessions = sessions(&file.sessions)?;
        let rate_limit = rate_limit(&file.rate_limit)?;
        let metrics = metrics(&file.metrics)?;
        let log = log(&file.log)?;
        let admin = admin(&file.admin, env)?;
        if let Some(listen) = admin.as_ref().and_then(|a| a.listen) {
            let taken = if listen == server.listen {
                Some("server.listen")
            } else if metrics.listen == Some(listen) {
                Some("metrics.listen")
            } else {
                None
            };
            if let Some(other) = taken {
                return Err(ConfigError::new(
                    "admin.listen",
                    format!("{listen} is already {other}; give the admin a port of its own, or remove admin.listen to serve it on the proxy listener"),
                ));
            }
        }
        let geo = geo(&file.geo, env)?;
        Ok(Config {
            server,
            better_auth,
            database,
            cache,
            headers,
            proxy,
            sessions,
            rate_limit,
            metrics,
            log,
            admin,
            geo,
            routes,
        })
    }

    /// A one-line description for `gatehouse check` and the startup log (no secrets).
    pub fn summary(&self) -> String {
        format!(
            "listen {}, upstream {}, database {}, {} route(s), cookie {}",
            self.server.listen,
            self.proxy.upstream.url,
            database_kind(self.database.url.expose()),
            self.routes.len(),
            self.better_auth.cookies.session_token
        )
    }
}

/// Parses TOML text into the raw file shape.
pub fn parse_toml(text: &str) -> Result<ConfigFile, ConfigError> {
    toml::from_str(text).map_err(|e| {
        let message = e.message().to_string();
        let key = match e.span() {
            Some(span) => {
                let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
                format!("line {line}")
            }
            None => "config".to_string(),
        };
        ConfigError::new(
            key,
            format!("{message} (see config/gatehouse.toml for every key)"),
        )
    })
}

fn apply_env(file: &mut ConfigFile, env: &dyn EnvSource) {
    if let Some(v) = env.var("BETTER_AUTH_SECRET") {
        file.better_auth.secret = Some(v);
    }
    if let Some(v) = env.var("BETTER_AUTH_URL") {
        file.better_auth.url = Some(v);
    }
    if let Some(v) = env
        .var("GATEHOUSE_DATABASE_URL")
        .or_else(|| env.var("DATABASE_URL"))
    {
        file.database.url = Some(v);
    }
    if let Some(v) = env.var("GATEHOUSE_LISTEN") {
        file.server.listen = v;
    }
    if let Some(v) = env.var("GATEHOUSE_UPSTREAM") {
        file.proxy.upstream = v;
    }
    if let Some(v) = env.var("GATEHOUSE_METRICS_LISTEN") {
        file.metrics.listen = v;
    }
    if let Some(v) = env.var("GATEHOUSE_ADMIN_LISTEN") {
        file.admin.listen = Some(v);
    }
}

fn server(s: &file::ServerSection) -> Result<ServerConfig, ConfigError> {
    let listen = s.listen.parse().map_err(|_| {
        ConfigError::new(
            "server.listen",
            format!("`{}` is not an address; write ip:port, e.g. 127.0.0.1:8080 (or set GATEHOUSE_LISTEN)", s.listen),
        )
    })?;
    if s.threads == 0 {
        return Err(ConfigError::new("server.threads", "must be at least 1"));
    }
    Ok(ServerConfig {
        listen,
        threads: s.threads,
        grace_period: duration("server.grace_period", &s.grace_period)?,
        graceful_shutdown_timeout: duration(
            "server.graceful_shutdown_timeout",
            &s.graceful_shutdown_timeout,
        )?,
        pid_file: s.pid_file.clone(),
        upgrade_sock: s.upgrade_sock.clone(),
    })
}

fn better_auth(
    b: &file::BetterAuthSection,
    default_upstream: &Upstream,
    env: &dyn EnvSource,
) -> Result<BetterAuthConfig, ConfigError> {
    let secret = b.secret.clone().filter(|s| !s.is_empty()).ok_or_else(|| {
        ConfigError::new(
            "better_auth.secret",
            "not set; set BETTER_AUTH_SECRET to the secret your Better Auth server uses",
        )
    })?;
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
    let name = |key: &str, over: &Option<String>, suffix: &str| -> Result<String, ConfigError> {
        let base = over
            .clone()
            .unwrap_or_else(|| format!("{}.{suffix}", b.cookie_prefix));
        if base.is_empty() || !base.chars().all(is_cookie_name_char) {
            return Err(ConfigError::new(
                format!("better_auth.cookies.{key}"),
                "must be a cookie name (letters, digits, `-`, `_`, `.`)",
            ));
        }
        Ok(if secure {
            format!("__Secure-{base}")
        } else {
            base
        })
    };
    let upstream = match &b.upstream {
        Some(u) => upstream("better_auth.upstream", u)?,
        None => default_upstream.clone(),
    };
    Ok(BetterAuthConfig {
        secret: Secret(secret),
        base_path: b.base_path.clone(),
        upstream,
        cookies: CookieConfig {
            session_token: name("session_token", &b.cookies.session_token, "session_token")?,
            session_data: name("session_data", &b.cookies.session_data, "session_data")?,
            dont_remember: name("dont_remember", &b.cookies.dont_remember, "dont_remember")?,
            secure,
        },
        expires_in: nonzero(
            "better_auth.expires_in",
            duration("better_auth.expires_in", &b.expires_in)?,
        )?,
        update_age: duration("better_auth.update_age", &b.update_age)?,
        cookie_cache: cookie_cache(&b.cookie_cache)?,
        trusted_origins: trusted_origins(b)?,
    })
}

fn cookie_cache(c: &file::CookieCacheSection) -> Result<Option<CookieCacheConfig>, ConfigError> {
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

fn trusted_origins(b: &file::BetterAuthSection) -> Result<Vec<String>, ConfigError> {
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

fn metrics(m: &file::MetricsSection) -> Result<MetricsConfig, ConfigError> {
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

fn admin(a: &file::AdminSection, env: &dyn EnvSource) -> Result<Option<AdminConfig>, ConfigError> {
    if !a.mount.starts_with('/') || a.mount.len() < 2 || a.mount.ends_with('/') {
        return Err(ConfigError::new(
            "admin.mount",
            format!(
                "`{}` must be a path such as /_gatehouse (no trailing `/`)",
                a.mount
            ),
        ));
    }
    if a.roles
        .iter()
        .any(|r| r.trim().is_empty() || r.contains(','))
    {
        return Err(ConfigError::new(
            "admin.roles",
            "each role must be a non-empty name without commas",
        ));
    }
    let token = env.var("GATEHOUSE_ADMIN_TOKEN").map(Secret);
    if token.as_ref().is_some_and(|t| t.expose().len() < 16) {
        return Err(ConfigError::new(
            "GATEHOUSE_ADMIN_TOKEN",
            "must be at least 16 characters; generate one with `openssl rand -hex 32`",
        ));
    }
    let listen = match &a.listen {
        None => None,
        Some(addr) => Some(addr.parse().map_err(|_| {
            ConfigError::new(
                "admin.listen",
                format!("`{addr}` is not an address; write ip:port, e.g. 127.0.0.1:9091 (or set GATEHOUSE_ADMIN_LISTEN)"),
            )
        })?),
    };
    Ok(a.enabled.then(|| AdminConfig {
        mount: a.mount.clone(),
        listen,
        roles: a.roles.clone(),
        token,
        allow_seeding: a.allow_seeding,
    }))
}

fn geo(g: &file::GeoSection, env: &dyn EnvSource) -> Result<GeoConfig, ConfigError> {
    let token = env
        .var("GATEHOUSE_GEO_TOKEN")
        .or_else(|| g.token.clone())
        .map(Secret);
    let base_url = |default: &str| -> Result<String, ConfigError> {
        let url = g.base_url.clone().unwrap_or_else(|| default.to_string());
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(ConfigError::new(
                "geo.base_url",
                format!("`{url}` must be an https:// (or http://) URL"),
            ));
        }
        Ok(url.trim_end_matches('/').to_string())
    };
    let provider = match g.provider.as_str() {
        "none" => GeoProvider::None,
        "ipinfo" => {
            let lookup = match g.ipinfo_endpoint.as_str() {
                "lite" => false,
                "lookup" => true,
                other => {
                    return Err(ConfigError::new(
                        "geo.ipinfo_endpoint",
                        format!("`{other}` is not one of lite, lookup"),
                    ))
                }
            };
            GeoProvider::Ipinfo {
                lookup,
                token,
                base_url: base_url("https://api.ipinfo.io")?,
            }
        }
        "ipapi" => GeoProvider::IpApi {
            base_url: base_url("http://ip-api.com")?,
        },
        "mmdb" => {
            let path = g.mmdb_path.clone().ok_or_else(|| {
                ConfigError::new(
                    "geo.mmdb_path",
                    "provider mmdb needs the path of a MaxMind-format .mmdb file",
                )
            })?;
            GeoProvider::Mmdb { path }
        }
        other => {
            return Err(ConfigError::new(
                "geo.provider",
                format!("`{other}` is not one of none, ipinfo, ipapi, mmdb"),
            ))
        }
    };
    if g.cache_max == 0 {
        return Err(ConfigError::new("geo.cache_max", "must be at least 1"));
    }
    if let Some(path) = &g.ca_file {
        let pem = std::fs::read_to_string(path)
            .map_err(|e| ConfigError::new("geo.ca_file", format!("cannot read `{path}`: {e}")))?;
        if !pem.contains("-----BEGIN CERTIFICATE-----") {
            return Err(ConfigError::new(
                "geo.ca_file",
                format!("`{path}` holds no PEM certificate (-----BEGIN CERTIFICATE-----)"),
            ));
        }
    }
    Ok(GeoConfig {
        provider,
        ca_file: g.ca_file.clone(),
        timeout: nonzero("geo.timeout", duration("geo.timeout", &g.timeout)?)?,
        cache_ttl: nonzero("geo.cache_ttl", duration("geo.cache_ttl", &g.cache_ttl)?)?,
        cache_max: g.cache_max,
    })
}

fn log(l: &file::LogSection) -> Result<LogConfig, ConfigError> {
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
    Ok(LogConfig {
        json,
        level: l.level.clone(),
    })
}

fn sessions(s: &file::SessionsSection) -> Result<SessionsConfig, ConfigError> {
    let interval = duration("sessions.cleanup_interval", &s.cleanup_interval)?;
    Ok(SessionsConfig {
        reject_banned: s.reject_banned,
        disable_refresh: s.disable_refresh,
        cleanup_interval: (!interval.is_zero()).then_some(interval),
        fresh_age: duration("sessions.fresh_age", &s.fresh_age)?,
    })
}

fn rate_rule(key: &str, max: u32, window: &file::DurationValue) -> Result<RateRule, ConfigError> {
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

fn rate_limit(r: &file::RateLimitSection) -> Result<RateLimitConfig, ConfigError> {
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

fn is_cookie_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')
}

fn nonzero(key: &str, d: Duration) -> Result<Duration, ConfigError> {
    if d.is_zero() {
        return Err(ConfigError::new(key, "must be greater than zero"));
    }
    Ok(d)
}

/// The session and user fields Gatehouse reads, by Better Auth name.
pub const SESSION_FIELDS: &[&str] = &[
    "id",
    "token",
    "userId",
    "expiresAt",
    "createdAt",
    "updatedAt",
    "ipAddress",
    "userAgent",
    "impersonatedBy",
];
/// The `account` fields Gatehouse writes when seeding, by Better Auth name.
pub const ACCOUNT_FIELDS: &[&str] = &[
    "id",
    "accountId",
    "providerId",
    "userId",
    "createdAt",
    "updatedAt",
];
/// See [`SESSION_FIELDS`].
pub const USER_FIELDS: &[&str] = &[
    "id",
    "name",
    "email",
    "emailVerified",
    "image",
    "createdAt",
    "updatedAt",
    "role",
    "banned",
    "banReason",
    "banExpires",
];

fn database(
    d: &file::DatabaseSection,
    headers: &HeadersConfig,
) -> Result<DatabaseConfig, ConfigError> {
    let url = d
        .url
        .clone()
        .unwrap_or_else(|| "sqlite://data/gatehouse.db".into());
    if database_kind(&url) == "unknown" {
        return Err(ConfigError::new(
            "database.url",
            "must start with sqlite://, postgres://, postgresql:// or mysql:// (GATEHOUSE_DATABASE_URL or DATABASE_URL)",
        ));
    }
    if d.max_connections == 0 {
        return Err(ConfigError::new(
            "database.max_connections",
            "must be at least 1",
        ));
    }
    let s = &d.schema;
    let snake = match s.naming.as_str() {
        "camelCase" => false,
        "snake_case" => true,
        other => {
            return Err(ConfigError::new(
                "database.schema.naming",
                format!("`{other}` is not one of camelCase (Better Auth's migrator, Prisma) or snake_case (Drizzle's default)"),
            ))
        }
    };
    let sqlite_dates = match s.sqlite_dates.as_str() {
        "iso" => SqliteDates::Iso,
        "epoch_ms" => SqliteDates::EpochMillis,
        other => {
            return Err(ConfigError::new(
                "database.schema.sqlite_dates",
                format!(
                "`{other}` is not one of iso (Better Auth's Kysely adapter) or epoch_ms (Drizzle)"
            ),
            ))
        }
    };
    let mut columns = BTreeMap::new();
    for (table, fields) in [
        ("session", SESSION_FIELDS),
        ("user", USER_FIELDS),
        ("account", ACCOUNT_FIELDS),
    ] {
        for field in fields.iter() {
            let column = if snake {
                to_snake_case(field)
            } else {
                field.to_string()
            };
            columns.insert(format!("{table}.{field}"), column);
        }
    }
    for (key, column) in &s.columns {
        if !columns.contains_key(key) {
            return Err(ConfigError::new(
                format!("database.schema.columns.\"{key}\""),
                "unknown field; write `session.<field>` or `user.<field>` with a Better Auth field name such as session.expiresAt",
            ));
        }
        identifier(&format!("database.schema.columns.\"{key}\""), column)?;
        columns.insert(key.clone(), column.clone());
    }
    Ok(DatabaseConfig {
        url: Secret(url),
        max_connections: d.max_connections,
        acquire_timeout: nonzero(
            "database.acquire_timeout",
            duration("database.acquire_timeout", &d.acquire_timeout)?,
        )?,
        schema: SchemaConfig {
            user_table: identifier("database.schema.user_table", &s.user_table)?,
            session_table: identifier("database.schema.session_table", &s.session_table)?,
            account_table: identifier("database.schema.account_table", &s.account_table)?,
            columns,
            admin_plugin: s.admin_plugin,
            sqlite_dates,
            extra_user_columns: headers
                .user_columns
                .iter()
                .map(|(_, c)| c.clone())
                .collect(),
        },
    })
}

/// `sqlite`, `postgres`, `mysql` or `unknown`, from a database URL's scheme.
pub fn database_kind(url: &str) -> &'static str {
    let scheme = url.split(':').next().unwrap_or_default();
    match scheme {
        "sqlite" => "sqlite",
        "postgres" | "postgresql" => "postgres",
        "mysql" | "mariadb" => "mysql",
        _ => "unknown",
    }
}

fn to_snake_case(field: &str) -> String {
    let mut out = String::with_capacity(field.len() + 4);
    for c in field.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn cache(c: &file::CacheSection) -> Result<CacheConfig, ConfigError> {
    if c.max_entries == 0 {
        return Err(ConfigError::new("cache.max_entries", "must be at least 1"));
    }
    Ok(CacheConfig {
        max_entries: c.max_entries,
        max_staleness: nonzero(
            "cache.max_staleness",
            duration("cache.max_staleness", &c.max_staleness)?,
        )?,
        negative_ttl: duration("cache.negative_ttl", &c.negative_ttl)?,
    })
}

fn headers(h: &file::HeadersSection) -> Result<HeadersConfig, ConfigError> {
    let mut user_columns = Vec::new();
    for (name, column) in &h.user_columns {
        let key = format!("headers.user_columns.\"{name}\"");
        user_columns.push((header_name(&key, name)?, identifier(&key, column)?));
    }
    for prefix in &h.strip_prefixes {
        if prefix.is_empty()
            || prefix
                .bytes()
                .any(|b| !(b.is_ascii_alphanumeric() || b == b'-'))
        {
            return Err(ConfigError::new(
                "headers.strip_prefixes",
                format!("`{prefix}` must be a non-empty header name prefix such as x-auth-"),
            ));
        }
    }
    Ok(HeadersConfig {
        user_id: header_name("headers.user_id", &h.user_id)?,
        user_email: header_name("headers.user_email", &h.user_email)?,
        user_name: header_name("headers.user_name", &h.user_name)?,
        user_role: header_name("headers.user_role", &h.user_role)?,
        session_id: header_name("headers.session_id", &h.session_id)?,
        strip_prefixes: h
            .strip_prefixes
            .iter()
            .map(|p| p.to_ascii_lowercase())
            .collect(),
        user_columns,
    })
}

fn proxy(p: &file::ProxySection) -> Result<ProxyConfig, ConfigError> {
    let trusted_proxies = p
        .trusted_proxies
        .iter()
        .map(|s| {
            s.parse::<IpNet>()
                .or_else(|_| s.parse::<std::net::IpAddr>().map(IpNet::from))
                .map_err(|_| {
                    ConfigError::new(
                        "proxy.trusted_proxies",
                        format!("`{s}` is not an IP address or CIDR such as 10.0.0.0/8"),
                    )
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let login_ok = p.login_url.starts_with('/')
        || p.login_url.starts_with("http://")
        || p.login_url.starts_with("https://");
    if !login_ok {
        return Err(ConfigError::new(
            "proxy.login_url",
            format!(
                "`{}` must be a path such as /login or an http(s):// URL",
                p.login_url
            ),
        ));
    }
    if p.login_redirect_param.is_empty() {
        return Err(ConfigError::new(
            "proxy.login_redirect_param",
            "must not be empty",
        ));
    }
    Ok(ProxyConfig {
        upstream: upstream("proxy.upstream", &p.upstream)?,
        trusted_proxies,
        strip_auth_cookies: p.strip_auth_cookies,
        login_url: p.login_url.clone(),
        login_redirect_param: p.login_redirect_param.clone(),
        connect_timeout: nonzero(
            "proxy.connect_timeout",
            duration("proxy.connect_timeout", &p.connect_timeout)?,
        )?,
        read_timeout: nonzero(
            "proxy.read_timeout",
            duration("proxy.read_timeout", &p.read_timeout)?,
        )?,
    })
}

/// A host without its port: `a.example:443` -> `a.example`, `[::1]:8080` -> `[::1]`.
pub fn strip_port(host: &str) -> &str {
    match host.rfind(':') {
        Some(i)
            if !host[i..].contains(']') && (host.starts_with('[') || !host[..i].contains(':')) =>
        {
            &host[..i]
        }
        _ => host,
    }
}

fn route(i: usize, r: &file::RouteSection, default: &Upstream) -> Result<RouteConfig, ConfigError> {
    let key = |k: &str| format!("routes[{i}].{k}");
    if !r.prefix.starts_with('/') {
        return Err(ConfigError::new(
            key("prefix"),
            format!("`{}` must start with `/`", r.prefix),
        ));
    }
    let policy = match r.policy.as_deref().unwrap_or("required") {
        "required" => Policy::Required,
        "optional" => Policy::Optional,
        "public" => Policy::Public,
        other => {
            return Err(ConfigError::new(
                key("policy"),
                format!("`{other}` is not one of required, optional, public"),
            ))
        }
    };
    let unauthenticated = match r.unauthenticated.as_deref().unwrap_or("auto") {
        "auto" => Unauthenticated::Auto,
        "status" => Unauthenticated::Status,
        "redirect" => Unauthenticated::Redirect,
        other => {
            return Err(ConfigError::new(
                key("unauthenticated"),
                format!("`{other}` is not one of auto, status, redirect"),
            ))
        }
    };
    let host = match &r.host {
        Some(h) if h.is_empty() || h.contains('/') => {
            return Err(ConfigError::new(
                key("host"),
                format!("`{h}` must be a host name such as app.example.com"),
            ))
        }
        Some(h) => Some(strip_port(h).to_ascii_lowercase()),
        None => None,
    };
    let fresh_age = match &r.fresh_age {
        Some(d) => Some(duration(&key("fresh_age"), d)?),
        None => None,
    };
    if r.policy.as_deref() == Some("public")
        && (fresh_age.is_some() || !r.roles.is_empty() || r.bind_ip)
    {
        return Err(ConfigError::new(
            key("policy"),
            "a public route never looks at the session, so fresh_age, roles and bind_ip cannot apply; use required",
        ));
    }
    if r.roles
        .iter()
        .any(|role| role.trim().is_empty() || role.contains(','))
    {
        return Err(ConfigError::new(
            key("roles"),
            "each role must be a non-empty name without commas",
        ));
    }
    Ok(RouteConfig {
        prefix: r.prefix.clone(),
        host,
        upstream: match &r.upstream {
            Some(u) => upstream(&key("upstream"), u)?,
            None => default.clone(),
        },
        policy,
        unauthenticated,
        fresh_age,
        roles: r.roles.clone(),
        bind_ip: r.bind_ip,
    })
}

#[cfg(test)]
mod tests;
