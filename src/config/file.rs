//! The raw shapes of the TOML config file: what serde reads, with defaults and nothing else.
//!
//! Unknown keys are rejected everywhere. Validation and parsing into real types happen in
//! [`super::Config::from_file`].

use std::collections::BTreeMap;

use serde::Deserialize;

/// The whole config file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConfigFile {
    pub server: ServerSection,
    pub better_auth: BetterAuthSection,
    pub database: DatabaseSection,
    pub cache: CacheSection,
    pub headers: HeadersSection,
    pub proxy: ProxySection,
    pub sessions: SessionsSection,
    pub rate_limit: RateLimitSection,
    pub metrics: MetricsSection,
    pub log: LogSection,
    pub admin: AdminSection,
    pub geo: GeoSection,
    pub forward_auth: ForwardAuthSection,
    pub identity_assertion: IdentityAssertionSection,
    pub tracing: TracingSection,
    pub routes: Vec<RouteSection>,
}

/// `[tracing]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TracingSection {
    pub otlp_endpoint: Option<String>,
    pub service_name: String,
    pub export_interval: DurationValue,
    pub queue: usize,
}

impl Default for TracingSection {
    fn default() -> Self {
        Self {
            otlp_endpoint: None,
            service_name: "gatehouse".into(),
            export_interval: DurationValue::Text("1s".into()),
            queue: 4096,
        }
    }
}

/// `[identity_assertion]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IdentityAssertionSection {
    pub enabled: bool,
    pub header: String,
    pub algorithm: String,
    pub issuer: String,
    pub lifetime: DurationValue,
    pub key_file: Option<String>,
    pub key_dir: Option<String>,
    pub rotate_every: DurationValue,
    pub serve_jwks_on_proxy: bool,
}

impl Default for IdentityAssertionSection {
    fn default() -> Self {
        Self {
            enabled: false,
            header: "x-auth-assertion".into(),
            algorithm: "EdDSA".into(),
            issuer: "gatehouse".into(),
            lifetime: DurationValue::Text("5m".into()),
            key_file: None,
            key_dir: None,
            rotate_every: DurationValue::Text("24h".into()),
            serve_jwks_on_proxy: false,
        }
    }
}

/// `[forward_auth]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ForwardAuthSection {
    pub enabled: bool,
    pub path: String,
    pub listen: Option<String>,
    pub callers: Vec<String>,
}

impl Default for ForwardAuthSection {
    fn default() -> Self {
        Self {
            enabled: false,
            path: "/_gatehouse/forward-auth".into(),
            listen: None,
            callers: Vec::new(),
        }
    }
}

/// A duration written as whole seconds (`86400`, as Better Auth's options are) or as text with a
/// unit (`"30s"`, `"500ms"`, `"7d"`).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum DurationValue {
    Seconds(u64),
    Text(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSection {
    pub listen: String,
    pub threads: usize,
    pub grace_period: DurationValue,
    pub graceful_shutdown_timeout: DurationValue,
    pub header_timeout: DurationValue,
    pub pid_file: Option<String>,
    pub upgrade_sock: Option<String>,
    /// Terminate TLS on `listen` (and speak HTTP/2 by ALPN).
    pub tls: Option<TlsSection>,
    /// Accept HTTP/2 without TLS (prior knowledge) on a plain `listen`.
    pub h2c: bool,
    /// Every connection to `listen` starts with a PROXY protocol header (v1 or v2).
    pub proxy_protocol: bool,
}

/// `[server.tls]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSection {
    /// `[[server.tls.certificates]]`: chosen by SNI; the first one for unknown names.
    pub certificates: Vec<CertificateSection>,
    /// Offer HTTP/2 by ALPN (default true).
    pub http2: Option<bool>,
    /// How often the certificate files are checked for changes (default 10 s); SIGHUP checks now.
    pub reload_interval: Option<DurationValue>,
    /// `Strict-Transport-Security` on every answer over TLS, e.g. `"max-age=31536000"`.
    pub hsts: Option<String>,
    /// A plain-HTTP address that answers every request with a redirect to HTTPS.
    pub redirect_http_from: Option<String>,
}

/// One `[[server.tls.certificates]]` (or `[routes.upstream_tls]` client identity) pair.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertificateSection {
    pub cert: String,
    pub key: String,
}

/// An upstream: one URL, or several servers.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum UpstreamUrls {
    One(String),
    Several(Vec<String>),
}

/// `[proxy.upstream_group]` / `routes.upstream_group`: balancing and server health.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UpstreamGroupSection {
    /// `round_robin` (default) or `client_ip_hash`.
    pub balance: Option<String>,
    pub resolve_interval: Option<DurationValue>,
    pub health_check: Option<HealthCheckSection>,
    pub retries: Option<usize>,
    pub eject_for: Option<DurationValue>,
}

/// `upstream_group.health_check`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthCheckSection {
    pub path: String,
    pub interval: Option<DurationValue>,
    pub timeout: Option<DurationValue>,
    pub healthy_after: Option<usize>,
    pub unhealthy_after: Option<usize>,
}

/// `[proxy.upstream_tls]` / `[routes.upstream_tls]`: how an `https://` upstream is reached.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UpstreamTlsSection {
    /// The name sent as SNI and checked in the certificate (default: the URL's host).
    pub server_name: Option<String>,
    /// A PEM file of CA certificates trusted in addition to the system's.
    pub ca_file: Option<String>,
    /// A client certificate chain and key to present (mTLS).
    pub client_cert: Option<String>,
    pub client_key: Option<String>,
}

impl Default for ServerSection {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            // One worker thread per core, as nginx's `worker_processes auto`.
            threads: std::thread::available_parallelism().map_or(1, usize::from),
            grace_period: DurationValue::Seconds(5),
            graceful_shutdown_timeout: DurationValue::Seconds(5),
            header_timeout: DurationValue::Seconds(10),
            pid_file: None,
            upgrade_sock: None,
            tls: None,
            h2c: false,
            proxy_protocol: false,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BetterAuthSection {
    pub secret: Option<String>,
    /// Better Auth's key rotation, as `BETTER_AUTH_SECRETS`: `"2:new,1:old"`, current first.
    pub secrets: Option<String>,
    pub url: Option<String>,
    pub base_path: String,
    pub upstream: Option<String>,
    pub cookie_prefix: String,
    pub use_secure_cookies: Option<bool>,
    pub expires_in: DurationValue,
    pub update_age: DurationValue,
    pub cookies: CookieNamesSection,
    pub cross_sub_domain_cookies: CrossSubDomainCookiesSection,
    pub default_cookie_attributes: CookieAttributesSection,
    pub cookie_attributes: PerCookieAttributesSection,
    pub cookie_cache: CookieCacheSection,
    pub trusted_origins: Vec<String>,
    pub user: ModelSection,
    pub session: ModelSection,
    pub plugins: PluginsSection,
    pub get_session: String,
    pub account: AccountSection,
}

impl Default for BetterAuthSection {
    fn default() -> Self {
        Self {
            secret: None,
            secrets: None,
            url: None,
            base_path: "/api/auth".into(),
            upstream: None,
            cookie_prefix: "better-auth".into(),
            use_secure_cookies: None,
            expires_in: DurationValue::Seconds(604_800),
            update_age: DurationValue::Seconds(86_400),
            cookies: CookieNamesSection::default(),
            cross_sub_domain_cookies: CrossSubDomainCookiesSection::default(),
            default_cookie_attributes: CookieAttributesSection::default(),
            cookie_attributes: PerCookieAttributesSection::default(),
            cookie_cache: CookieCacheSection::default(),
            trusted_origins: Vec::new(),
            user: ModelSection::default(),
            session: ModelSection::default(),
            plugins: PluginsSection::default(),
            get_session: "gatehouse".into(),
            account: AccountSection::default(),
        }
    }
}

/// Better Auth's `session.cookieCache`, plus how long Gatehouse trusts one at most.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CookieCacheSection {
    pub enabled: bool,
    pub strategy: String,
    pub max_age: DurationValue,
    pub version: String,
    pub max_trust: DurationValue,
}

impl Default for CookieCacheSection {
    fn default() -> Self {
        Self {
            enabled: false,
            strategy: "compact".into(),
            max_age: DurationValue::Seconds(300),
            version: "1".into(),
            max_trust: DurationValue::Seconds(300),
        }
    }
}

/// Per-cookie name overrides, as Better Auth's `advanced.cookies.<name>.name`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CookieNamesSection {
    pub session_token: Option<String>,
    pub session_data: Option<String>,
    pub dont_remember: Option<String>,
    pub account_data: Option<String>,
    pub oauth_state: Option<String>,
}

/// Better Auth's `user` or `session` options that Gatehouse must know.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelSection {
    /// Better Auth's `additionalFields`, by field name.
    pub additional_fields: BTreeMap<String, FieldSection>,
}

/// One of Better Auth's `additionalFields`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldSection {
    #[serde(rename = "type")]
    pub field_type: String,
    #[serde(default = "returned_by_default")]
    pub returned: bool,
    /// Better Auth's `fieldName`: the column, when it differs from the field's name.
    #[serde(default)]
    pub field_name: Option<String>,
}

fn returned_by_default() -> bool {
    true
}

/// The Better Auth plugins whose data Gatehouse carries.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PluginsSection {
    /// `organization()`: the session's `activeOrganizationId`.
    pub organization: bool,
    /// `organization({ teams: { enabled: true } })`: the session's `activeTeamId` too.
    pub organization_teams: bool,
    /// `multiSession()`.
    pub multi_session: bool,
}

/// Better Auth's `advanced.crossSubDomainCookies`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CrossSubDomainCookiesSection {
    pub enabled: bool,
    /// Defaults to the host of `better_auth.url`.
    pub domain: Option<String>,
}

/// Cookie attributes, as Better Auth's `advanced.defaultCookieAttributes` and
/// `advanced.cookies.<cookie>.attributes`; unset keys keep what comes before.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CookieAttributesSection {
    pub domain: Option<String>,
    pub path: Option<String>,
    pub secure: Option<bool>,
    pub http_only: Option<bool>,
    pub same_site: Option<String>,
    pub partitioned: Option<bool>,
}

/// Per-cookie attributes, as Better Auth's `advanced.cookies.<cookie>.attributes`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PerCookieAttributesSection {
    pub session_token: CookieAttributesSection,
    pub session_data: CookieAttributesSection,
    pub dont_remember: CookieAttributesSection,
    pub account_data: CookieAttributesSection,
    pub oauth_state: CookieAttributesSection,
}

/// Better Auth's `account` options that decide which cookies sign-out expires.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AccountSection {
    /// `account.storeAccountCookie`: the `account_data` cookie exists (and is expired).
    pub store_account_cookie: bool,
    /// `account.storeStateStrategy`: `database` or `cookie` (then `oauth_state` is expired).
    pub store_state_strategy: String,
}

impl Default for AccountSection {
    fn default() -> Self {
        Self {
            store_account_cookie: false,
            store_state_strategy: "database".into(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseSection {
    pub url: Option<String>,
    pub max_connections: u32,
    pub acquire_timeout: DurationValue,
    pub schema: SchemaSection,
}

impl Default for DatabaseSection {
    fn default() -> Self {
        Self {
            url: None,
            max_connections: 10,
            acquire_timeout: DurationValue::Text("2s".into()),
            schema: SchemaSection::default(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SchemaSection {
    pub naming: String,
    pub user_table: String,
    pub session_table: String,
    pub account_table: String,
    /// The organization plugin's `member` table (read when better_auth.plugins.organization).
    pub member_table: String,
    pub admin_plugin: bool,
    pub sqlite_dates: String,
    pub columns: BTreeMap<String, String>,
}

impl Default for SchemaSection {
    fn default() -> Self {
        Self {
            naming: "camelCase".into(),
            user_table: "user".into(),
            session_table: "session".into(),
            account_table: "account".into(),
            member_table: "member".into(),
            admin_plugin: true,
            sqlite_dates: "iso".into(),
            columns: BTreeMap::new(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CacheSection {
    pub max_entries: u64,
    pub max_staleness: DurationValue,
    pub negative_ttl: DurationValue,
}

impl Default for CacheSection {
    fn default() -> Self {
        Self {
            max_entries: 100_000,
            max_staleness: DurationValue::Seconds(30),
            negative_ttl: DurationValue::Seconds(5),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HeadersSection {
    pub user_id: String,
    pub user_email: String,
    pub user_name: String,
    pub user_role: String,
    pub session_id: String,
    pub impersonated_by: String,
    pub strip_prefixes: Vec<String>,
    pub user_columns: BTreeMap<String, String>,
    /// Header name -> `user.<field>` or `session.<field>` (an additional or plugin field).
    pub fields: BTreeMap<String, String>,
}

impl Default for HeadersSection {
    fn default() -> Self {
        Self {
            user_id: "x-auth-user-id".into(),
            user_email: "x-auth-user-email".into(),
            user_name: "x-auth-user-name".into(),
            user_role: "x-auth-user-role".into(),
            session_id: "x-auth-session-id".into(),
            impersonated_by: "x-auth-impersonated-by".into(),
            strip_prefixes: vec!["x-auth-".into()],
            user_columns: BTreeMap::new(),
            fields: BTreeMap::new(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProxySection {
    pub upstream: UpstreamUrls,
    pub upstream_group: Option<UpstreamGroupSection>,
    /// A DNS server for upstream host names (`ip:port`).
    pub resolver: Option<String>,
    pub upstream_tls: Option<UpstreamTlsSection>,
    /// The `Host` sent upstream: `client` (the client's, default) or `upstream` (the upstream
    /// URL's own, which PaaS routers and virtual hosts need).
    pub upstream_host: Option<String>,
    pub trusted_proxies: Vec<String>,
    pub untrusted_headers: Vec<String>,
    pub strip_auth_cookies: bool,
    pub login_url: String,
    pub login_redirect_param: String,
    pub connect_timeout: DurationValue,
    pub read_timeout: DurationValue,
}

impl Default for ProxySection {
    fn default() -> Self {
        Self {
            upstream: UpstreamUrls::One("http://127.0.0.1:3000".into()),
            upstream_group: None,
            resolver: None,
            upstream_tls: None,
            upstream_host: None,
            trusted_proxies: Vec::new(),
            untrusted_headers: [
                "x-real-ip",
                "x-client-ip",
                "true-client-ip",
                "cf-connecting-ip",
                "fastly-client-ip",
                "x-cluster-client-ip",
                "x-forwarded",
                "forwarded-for",
                "x-forwarded-port",
                "x-forwarded-prefix",
                "x-forwarded-server",
                "x-forwarded-scheme",
                "x-forwarded-ssl",
                "x-url-scheme",
                "front-end-https",
                "x-original-host",
            ]
            .map(String::from)
            .to_vec(),
            strip_auth_cookies: false,
            login_url: "/login".into(),
            login_redirect_param: "callbackURL".into(),
            connect_timeout: DurationValue::Seconds(2),
            read_timeout: DurationValue::Seconds(60),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteSection {
    pub prefix: String,
    pub host: Option<String>,
    pub upstream: Option<UpstreamUrls>,
    #[serde(default)]
    pub upstream_group: Option<UpstreamGroupSection>,
    /// Send the signed identity assertion upstream, with this `aud`.
    #[serde(default)]
    pub assertion_audience: Option<String>,
    #[serde(default)]
    pub upstream_tls: Option<UpstreamTlsSection>,
    #[serde(default)]
    pub upstream_host: Option<String>,
    #[serde(default)]
    pub policy: Option<String>,
    #[serde(default)]
    pub unauthenticated: Option<String>,
    /// The session must have been created within this long (Better Auth's `freshAge`).
    #[serde(default)]
    pub fresh_age: Option<DurationValue>,
    /// The user's role must include one of these.
    #[serde(default)]
    pub roles: Vec<String>,
    /// The session's `ipAddress` must be the client's address.
    #[serde(default)]
    pub bind_ip: bool,
    /// Refuse sessions an admin is impersonating (the admin plugin's `impersonatedBy`).
    #[serde(default)]
    pub refuse_impersonated: bool,
    /// The session must have an active organization (organization plugin).
    #[serde(default)]
    pub require_active_organization: bool,
    /// The user's member role in the active organization must include one of these.
    #[serde(default)]
    pub organization_roles: Vec<String>,
    /// Whether CORS preflights (`OPTIONS` with `Origin` and `Access-Control-Request-Method`)
    /// go to the upstream without a session check (default true).
    #[serde(default)]
    pub forward_preflights: Option<bool>,
    /// Whether the prefix matches only in its own letter case.
    #[serde(default)]
    pub case_sensitive: Option<bool>,
}

/// How Gatehouse treats sessions beyond what Better Auth decides.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SessionsSection {
    pub reject_banned: bool,
    pub disable_refresh: bool,
    pub cleanup_interval: DurationValue,
    pub fresh_age: DurationValue,
    /// `user.<field>` or `session.<field>` -> a value that rejects the session on every request.
    pub reject_when: BTreeMap<String, toml::Value>,
}

impl Default for SessionsSection {
    fn default() -> Self {
        Self {
            reject_banned: true,
            disable_refresh: false,
            cleanup_interval: DurationValue::Text("1h".into()),
            fresh_age: DurationValue::Seconds(86_400),
            reject_when: BTreeMap::new(),
        }
    }
}

/// The operations listener: Prometheus metrics and health checks.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsSection {
    pub enabled: bool,
    pub listen: String,
    pub gauge_interval: DurationValue,
}

impl Default for MetricsSection {
    fn default() -> Self {
        Self {
            enabled: true,
            listen: "127.0.0.1:9090".into(),
            gauge_interval: DurationValue::Seconds(30),
        }
    }
}

/// The sessions admin API and dashboard.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminSection {
    pub enabled: bool,
    pub mount: String,
    pub listen: Option<String>,
    pub roles: Vec<String>,
    pub allow_seeding: bool,
}

impl Default for AdminSection {
    fn default() -> Self {
        Self {
            enabled: true,
            mount: "/_gatehouse".into(),
            listen: None,
            roles: vec!["admin".into()],
            allow_seeding: false,
        }
    }
}

/// IP geolocation for the admin API.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GeoSection {
    pub provider: String,
    pub ipinfo_endpoint: String,
    pub token: Option<String>,
    pub base_url: Option<String>,
    pub ca_file: Option<String>,
    pub mmdb_path: Option<String>,
    pub timeout: DurationValue,
    pub cache_ttl: DurationValue,
    pub cache_max: u64,
}

impl Default for GeoSection {
    fn default() -> Self {
        Self {
            provider: "none".into(),
            ipinfo_endpoint: "lite".into(),
            token: None,
            base_url: None,
            ca_file: None,
            mmdb_path: None,
            timeout: DurationValue::Seconds(2),
            cache_ttl: DurationValue::Text("24h".into()),
            cache_max: 10_000,
        }
    }
}

/// Logging.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSection {
    pub format: String,
    pub level: String,
    /// `fields` (default) or `combined` (nginx's combined format) for access lines.
    pub access_format: String,
}

impl Default for LogSection {
    fn default() -> Self {
        Self {
            format: "human".into(),
            level: "info".into(),
            access_format: "fields".into(),
        }
    }
}

/// Per-client-IP limits on the routes Gatehouse serves itself.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitSection {
    pub enabled: bool,
    pub max: u32,
    pub window: DurationValue,
    /// Overrides by endpoint name (`get-session`, `sign-out`, ...).
    pub endpoints: BTreeMap<String, RateLimitRule>,
    /// Better Auth's `rateLimit.customRules`: by path under the base path (`*` wildcards), a
    /// rule or `false` (not limited).
    pub custom_rules: BTreeMap<String, CustomRule>,
}

impl Default for RateLimitSection {
    fn default() -> Self {
        Self {
            enabled: true,
            // Better Auth's `rateLimit` defaults.
            max: 100,
            window: DurationValue::Seconds(10),
            endpoints: BTreeMap::new(),
            custom_rules: BTreeMap::new(),
        }
    }
}

/// One of Better Auth's `rateLimit.customRules`: a rule, or `false`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum CustomRule {
    Rule(RateLimitRule),
    Switch(bool),
}

/// One rate limit: at most `max` requests per `window`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitRule {
    pub max: u32,
    pub window: DurationValue,
}
