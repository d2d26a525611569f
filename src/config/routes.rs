//! `[server]`, `[proxy]`, `[headers]` and `[[routes]]`: the listener, the upstreams, the identity
//! headers and the routes with their policies.

use super::*;

/// The listener and process settings handed to Pingora.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    pub threads: usize,
    pub grace_period: Duration,
    pub graceful_shutdown_timeout: Duration,
    /// The longest a request head may take from its first byte to its blank line.
    pub header_timeout: Duration,
    pub pid_file: Option<String>,
    pub upgrade_sock: Option<String>,
    /// TLS (and HTTP/2 by ALPN) on `listen`.
    pub tls: Option<ListenerTls>,
    /// HTTP/2 with prior knowledge on a plain `listen`.
    pub h2c: bool,
    /// Connections start with a PROXY protocol header whose client address replaces the peer's.
    pub proxy_protocol: bool,
}

/// Identity header names injected upstream and stripped from clients.
#[derive(Debug, Clone)]
pub struct HeadersConfig {
    pub user_id: HeaderName,
    pub user_email: HeaderName,
    pub user_name: HeaderName,
    pub user_role: HeaderName,
    pub session_id: HeaderName,
    /// Sent with the admin's user id when the session is an impersonation.
    pub impersonated_by: HeaderName,
    /// Any client header starting with one of these is removed before forwarding.
    pub strip_prefixes: Vec<String>,
    /// Extra headers filled from `user` columns.
    pub user_columns: Vec<(HeaderName, String)>,
    /// Extra headers filled from additional or plugin fields (`[headers.fields]`).
    pub fields: Vec<(HeaderName, FieldRef)>,
    /// `identity_assertion.header`, when the assertion is on.
    pub assertion: Option<HeaderName>,
}

impl HeadersConfig {
    /// Every header name Gatehouse sets from a session: the fixed ones, `user_columns`' and
    /// `fields`'. Clients may never send any of them (nor anything under `strip_prefixes`).
    pub fn identity_names(&self) -> impl Iterator<Item = &HeaderName> {
        [
            &self.user_id,
            &self.user_email,
            &self.user_name,
            &self.user_role,
            &self.session_id,
            &self.impersonated_by,
        ]
        .into_iter()
        .chain(self.user_columns.iter().map(|(n, _)| n))
        .chain(self.fields.iter().map(|(n, _)| n))
        .chain(self.assertion.as_ref())
    }
}

/// Proxy behaviour shared by all routes.
#[derive(Debug, Clone)]
pub struct ProxyConfig {
    pub upstream: Arc<Upstream>,
    /// A DNS server (`ip:port`) for upstream host names instead of the system's resolver.
    pub resolver: Option<SocketAddr>,
    pub trusted_proxies: Vec<IpNet>,
    /// Headers removed unless the peer is a trusted proxy (lowercase, `-` for `_`).
    pub untrusted_headers: Vec<HeaderName>,
    pub strip_auth_cookies: bool,
    pub login_url: String,
    pub login_redirect_param: String,
    pub connect_timeout: Duration,
    pub read_timeout: Duration,
}

/// One `[[routes]]` entry.
#[derive(Debug, Clone)]
pub struct RouteConfig {
    pub prefix: String,
    /// Lowercase host without port; `None` matches any host.
    pub host: Option<String>,
    pub upstream: Arc<Upstream>,
    pub policy: Policy,
    pub unauthenticated: Unauthenticated,
    /// Reject sessions created longer ago than this (403 `SESSION_NOT_FRESH`).
    pub fresh_age: Option<Duration>,
    /// Reject users without one of these roles (403).
    pub roles: Vec<String>,
    /// Reject sessions used from another IP address than they were created from (403).
    pub bind_ip: bool,
    /// Reject sessions an admin is impersonating (403 `impersonated_session`).
    pub refuse_impersonated: bool,
    /// Reject sessions without an active organization (403 `no_active_organization`).
    pub require_active_organization: bool,
    /// Reject users whose member role in the active organization has none of these (403).
    pub organization_roles: Vec<String>,
    /// CORS preflights go to the upstream without a session check: browsers never send
    /// credentials on them, so checking would only break cross-origin callers.
    pub forward_preflights: bool,
    /// Send the signed identity assertion with this `aud` (`assertion_audience`).
    pub assertion_audience: Option<Arc<str>>,
    /// Match the prefix in its own letter case only. By default only routes that restrict
    /// access (`required`) match in any case: `/ADMIN` cannot dodge an `/admin` route on an
    /// upstream that ignores case, and `/STATIC` cannot claim a `public` `/static` route on one
    /// that does not.
    pub case_sensitive: bool,
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

pub(super) fn server(s: &file::ServerSection) -> Result<ServerConfig, ConfigError> {
    let listen = s.listen.parse().map_err(|_| {
        ConfigError::new(
            "server.listen",
            format!("`{}` is not an address; write ip:port, e.g. 127.0.0.1:8080 (or set GATEHOUSE_LISTEN)", s.listen),
        )
    })?;
    if s.threads == 0 {
        return Err(ConfigError::new("server.threads", "must be at least 1"));
    }
    let header_timeout = duration("server.header_timeout", &s.header_timeout)?;
    if header_timeout.is_zero() {
        return Err(ConfigError::new(
            "server.header_timeout",
            "must be more than 0; a client on a slow link needs a few seconds for its headers",
        ));
    }
    Ok(ServerConfig {
        listen,
        header_timeout,
        threads: s.threads,
        grace_period: duration("server.grace_period", &s.grace_period)?,
        graceful_shutdown_timeout: duration(
            "server.graceful_shutdown_timeout",
            &s.graceful_shutdown_timeout,
        )?,
        pid_file: s.pid_file.clone(),
        upgrade_sock: s.upgrade_sock.clone(),
        tls: match &s.tls {
            Some(t) => Some(listener_tls(t, SystemTime::now())?),
            None => None,
        },
        h2c: s.h2c,
        proxy_protocol: s.proxy_protocol,
    })
}

pub(super) fn headers(
    h: &file::HeadersSection,
    additional: &AdditionalFields,
) -> Result<HeadersConfig, ConfigError> {
    let mut fields = Vec::new();
    for (name, field) in &h.fields {
        let key = format!("headers.fields.\"{name}\"");
        let Some((at, declared)) = additional.find(field) else {
            return Err(ConfigError::new(
                key,
                format!(
                    "`{field}` is not a declared field; write user.<name> or session.<name> of \
                         a field in better_auth.user/session.additional_fields or a plugin's"
                ),
            ));
        };
        if !declared.returned {
            return Err(ConfigError::new(
                key,
                format!("`{field}` has returned = false: Better Auth never shows it, so Gatehouse \
                         does not send it either (use headers.user_columns to send a column on purpose)"),
            ));
        }
        fields.push((header_name(&key, name)?, at));
    }
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
        impersonated_by: header_name("headers.impersonated_by", &h.impersonated_by)?,
        strip_prefixes: h
            .strip_prefixes
            .iter()
            .map(|p| p.to_ascii_lowercase())
            .collect(),
        user_columns,
        fields,
        // Set once [identity_assertion] is read.
        assertion: None,
    })
}

pub(super) fn proxy(p: &file::ProxySection) -> Result<ProxyConfig, ConfigError> {
    let trusted_proxies = ip_nets("proxy.trusted_proxies", &p.trusted_proxies)?;
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
    let untrusted_headers =
        p.untrusted_headers
            .iter()
            .map(|name| {
                HeaderName::from_bytes(name.to_ascii_lowercase().replace('_', "-").as_bytes())
                    .map_err(|_| {
                        ConfigError::new(
                            "proxy.untrusted_headers",
                            format!("`{name}` is not a header name"),
                        )
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
    Ok(ProxyConfig {
        upstream: Arc::new(upstream(
            "proxy.upstream",
            &UpstreamSections {
                urls: &p.upstream,
                tls: p.upstream_tls.as_ref(),
                host: p.upstream_host.as_deref(),
                group: p.upstream_group.as_ref(),
            },
        )?),
        resolver: match &p.resolver {
            Some(r) => Some(r.parse().map_err(|_| {
                ConfigError::new(
                    "proxy.resolver",
                    format!("`{r}` is not an address; write ip:port, e.g. 10.0.0.2:53"),
                )
            })?),
            None => None,
        },
        trusted_proxies,
        untrusted_headers,
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

pub(super) fn route(
    i: usize,
    r: &file::RouteSection,
    default: &Arc<Upstream>,
    organization: bool,
) -> Result<RouteConfig, ConfigError> {
    let key = |k: &str| format!("routes[{i}].{k}");
    if !r.prefix.starts_with('/') {
        return Err(ConfigError::new(
            key("prefix"),
            format!("`{}` must start with `/`", r.prefix),
        ));
    }
    // Requests are matched in canonical form (see `crate::canonical`), so a prefix in any other
    // form would never match.
    match crate::canonical::canonical_path(r.prefix.as_bytes()) {
        Some(canonical) if canonical == r.prefix.as_str() => {}
        Some(canonical) => {
            return Err(ConfigError::new(
                key("prefix"),
                format!("`{}` is not in canonical form; write `{canonical}`", r.prefix),
            ))
        }
        None => {
            return Err(ConfigError::new(
                key("prefix"),
                format!(
                    "`{}` can never match: requests with dot segments, `;`, `\\`, encoded `/` or `%25` are refused",
                    r.prefix
                ),
            ))
        }
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
    let has_rules = fresh_age.is_some()
        || !r.roles.is_empty()
        || r.bind_ip
        || r.refuse_impersonated
        || r.require_active_organization
        || !r.organization_roles.is_empty();
    if r.policy.as_deref() == Some("public") && has_rules {
        return Err(ConfigError::new(
            key("policy"),
            "a public route never looks at the session, so session rules (fresh_age, roles, \
             bind_ip, refuse_impersonated, require_active_organization, organization_roles) \
             cannot apply; use required",
        ));
    }
    if (r.require_active_organization || !r.organization_roles.is_empty()) && !organization {
        return Err(ConfigError::new(
            key("require_active_organization"),
            "organization rules need better_auth.plugins.organization = true",
        ));
    }
    if r.organization_roles
        .iter()
        .any(|role| role.trim().is_empty() || role.contains(','))
    {
        return Err(ConfigError::new(
            key("organization_roles"),
            "each role must be a non-empty name without commas",
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
            Some(urls) => Arc::new(upstream(
                &key("upstream"),
                &UpstreamSections {
                    urls,
                    tls: r.upstream_tls.as_ref(),
                    host: r.upstream_host.as_deref(),
                    group: r.upstream_group.as_ref(),
                },
            )?),
            None if r.upstream_tls.is_some()
                || r.upstream_host.is_some()
                || r.upstream_group.is_some() =>
            {
                return Err(ConfigError::new(
                    key("upstream"),
                    "upstream_tls, upstream_host and upstream_group describe this route's own \
                     upstream; set upstream too, or put them in [proxy] for the default upstream",
                ))
            }
            None => Arc::clone(default),
        },
        policy,
        unauthenticated,
        fresh_age,
        roles: r.roles.clone(),
        bind_ip: r.bind_ip,
        refuse_impersonated: r.refuse_impersonated,
        require_active_organization: r.require_active_organization,
        organization_roles: r.organization_roles.clone(),
        forward_preflights: r.forward_preflights.unwrap_or(true),
        assertion_audience: r.assertion_audience.as_deref().map(Arc::from),
        case_sensitive: r.case_sensitive.unwrap_or(policy != Policy::Required),
    })
}
