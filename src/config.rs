//! Gatehouse's configuration: a TOML file plus environment variables, validated into typed values.
//!
//! Loading has three stages: [`file::ConfigFile`] (serde shapes, unknown keys rejected), the
//! environment overrides (`BETTER_AUTH_SECRET`, `GATEHOUSE_LISTEN`, ...; env beats file), and
//! [`Config::from_file`], which parses every value into a real type and reports the first
//! problem as a [`ConfigError`] naming the key and how to fix it.
//!
//! Each group of sections has its typed values and their validation in one file:
//! `better_auth.rs` (Better Auth's settings, session rules), `cookies.rs` (cookie names and
//! attributes), `database.rs` (tables, cache),
//! `routes.rs` (listener, upstreams, headers, routes), `secrets.rs` (which secret signs), `rate_limit.rs`, `admin.rs` (sessions
//! admin, geolocation) and `operations.rs` (the operations listener, logs); `parse.rs` holds
//! the single-value parsers they share.

mod admin;
mod assertion;
mod better_auth;
mod cookies;
mod database;
pub mod env;
mod fields;
pub mod file;
mod forward_auth;
mod operations;
mod parse;
mod rate_limit;
mod routes;
mod secrets;
mod tls;
mod upstreams;

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use http::HeaderName;
use ipnet::IpNet;

pub use admin::{AdminConfig, GeoConfig, GeoProvider};
pub use assertion::{AssertionAlgorithm, AssertionConfig, AssertionKeys};
pub use better_auth::{
    origin_of, BetterAuthConfig, CookieCacheConfig, CookieCacheStrategy, GetSessionMode,
    SessionsConfig,
};
pub use cookies::{CookieAttributes, CookieConfig, SameSite};
pub use database::{
    CacheConfig, DatabaseConfig, DatabaseKind, SchemaConfig, SqliteDates, ACCOUNT_FIELDS,
    SESSION_FIELDS, USER_FIELDS,
};
pub use env::{EnvSource, MapEnv, ProcessEnv};
pub use fields::{AdditionalField, AdditionalFields, FieldRef, FieldTable, FieldType};
pub use forward_auth::ForwardAuthConfig;
pub use operations::{LogConfig, MetricsConfig, TracingConfig};
pub use rate_limit::{RateLimitConfig, RateRule, SERVED_ENDPOINTS};
pub use routes::{
    strip_port, HeadersConfig, Policy, ProxyConfig, RouteConfig, ServerConfig, Unauthenticated,
};
pub use tls::ListenerTls;
pub use upstreams::{
    Balance, HealthCheck, Upstream, UpstreamGroup, UpstreamHost, UpstreamServer, UpstreamTls,
};

// Each section's validation, called by `Config::from_file`.
use admin::{admin, geo};
use assertion::assertion;
use better_auth::{better_auth, sessions};
use cookies::{cookies, is_cookie_name_char};
use database::{cache, database};
use fields::additional_fields;
use file::ConfigFile;
use forward_auth::forward_auth;
use operations::{log, metrics, span_export};
use parse::{duration, header_name, identifier, ip_nets, nonzero};
use rate_limit::rate_limit;
use routes::{headers, proxy, route, server};
use secrets::secrets;
use tls::listener_tls;
use upstreams::{upstream, UpstreamSections};

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
    pub fn new(value: String) -> Self {
        Self(value)
    }

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
    /// `None` when the forward-auth endpoint is off.
    pub forward_auth: Option<ForwardAuthConfig>,
    /// `None` when no route sends the signed identity assertion.
    pub identity_assertion: Option<AssertionConfig>,
    /// `None` when Gatehouse's spans are not exported.
    pub tracing: Option<TracingConfig>,
    /// Routes in file order; the first matching route with the longest prefix wins.
    pub routes: Vec<RouteConfig>,
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
        let headers = headers(&file.headers, &better_auth.additional_fields)?;
        // Member roles are read only when a route checks them (the organization plugin on).
        let read_member_roles = file.better_auth.plugins.organization
            && file.routes.iter().any(|r| !r.organization_roles.is_empty());
        let database = database(
            &file.database,
            &headers,
            &better_auth.additional_fields,
            read_member_roles,
        )?;
        let cache = cache(&file.cache)?;
        let routes = file
            .routes
            .iter()
            .enumerate()
            .map(|(i, r)| route(i, r, &proxy.upstream, file.better_auth.plugins.organization))
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
        let sessions = sessions(&file.sessions, &better_auth.additional_fields)?;
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
        if server.proxy_protocol && proxy.trusted_proxies.is_empty() {
            return Err(ConfigError::new(
                "server.proxy_protocol",
                "a PROXY header sets the client's address, so only known senders may send one: \
                 list the load balancers in proxy.trusted_proxies",
            ));
        }
        let geo = geo(&file.geo, env)?;
        let forward_auth = forward_auth(&file.forward_auth, env)?;
        let identity_assertion = assertion(&file.identity_assertion)?;
        let tracing = span_export(&file.tracing)?;
        if let Some(i) = file
            .routes
            .iter()
            .position(|r| r.assertion_audience.is_some())
        {
            if identity_assertion.is_none() {
                return Err(ConfigError::new(
                    format!("routes[{i}].assertion_audience"),
                    "set [identity_assertion] enabled = true (and its keys) first",
                ));
            }
        }
        let mut headers = headers;
        headers.assertion = identity_assertion.as_ref().map(|a| a.header.clone());
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
            forward_auth,
            identity_assertion,
            tracing,
            routes,
        })
    }

    /// A one-line description for `gatehouse check` and the startup log (no secrets).
    pub fn summary(&self) -> String {
        format!(
            "listen {}{}, upstream {}, database {}, {} route(s), cookie {}",
            self.server.listen,
            match &self.server.tls {
                Some(t) if t.http2 => " (TLS, HTTP/2)",
                Some(_) => " (TLS)",
                None if self.server.h2c => " (h2c)",
                None => "",
            },
            self.proxy.upstream.url,
            DatabaseKind::of(self.database.url.expose()).map_or("unknown", DatabaseKind::as_str),
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
    // Better Auth's order: BETTER_AUTH_SECRET, else AUTH_SECRET.
    if let Some(v) = env
        .var("BETTER_AUTH_SECRET")
        .or_else(|| env.var("AUTH_SECRET"))
    {
        file.better_auth.secret = Some(v);
    }
    if let Some(v) = env.var("BETTER_AUTH_SECRETS") {
        file.better_auth.secrets = Some(v);
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
        file.proxy.upstream = file::UpstreamUrls::One(v);
    }
    if let Some(v) = env.var("GATEHOUSE_METRICS_LISTEN") {
        file.metrics.listen = v;
    }
    if let Some(v) = env.var("GATEHOUSE_ADMIN_LISTEN") {
        file.admin.listen = Some(v);
    }
}

#[cfg(test)]
mod tests;
