//! Upstreams: `upstream` (one URL or several), `upstream_tls`, `upstream_host` and
//! `upstream_group` in `[proxy]` and `[[routes]]`, and `proxy.resolver`.
//!
//! Host names are not resolved here: the gateway resolves them when it starts and again every
//! `resolve_interval`, so a name that does not resolve yet is a warning (`check`) and a 502
//! `upstream_unresolved` until it does, never a refusal to start.

use std::net::IpAddr;
use std::time::SystemTime;

use super::*;
use crate::tls::{self, CertificateFiles, ClientIdentity};

/// An upstream: one or more servers with the same scheme, load balanced as `group` says. A
/// server named by a host name stands for every address the name resolves to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upstream {
    /// As written in the config (URLs joined by `, `), for logs.
    pub url: String,
    pub servers: Vec<UpstreamServer>,
    /// `Some` for `https://`.
    pub tls: Option<UpstreamTls>,
    pub host_header: UpstreamHost,
    pub group: UpstreamGroup,
}

/// One server of an upstream, as its URL names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamServer {
    /// Host name or IP address, without brackets.
    pub host: String,
    pub port: u16,
    /// `host[:port]` as the URL writes it: the `Host` sent when `host_header` is `Upstream`.
    pub authority: String,
}

impl UpstreamServer {
    /// The address, when the URL names an IP address rather than a host name.
    pub fn ip(&self) -> Option<IpAddr> {
        self.host.parse().ok()
    }
}

/// How an `https://` upstream is reached: Pingora's verification against the system roots
/// plus `extra_ca`, presenting `client` if set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamTls {
    /// Sent as SNI and required in the certificate instead of each server's host
    /// (`upstream_tls.server_name`, for servers reached by IP address).
    pub server_name: Option<String>,
    /// CA certificates (DER) trusted in addition to the system's.
    pub extra_ca: Vec<Vec<u8>>,
    pub client: Option<ClientIdentity>,
}

/// The `Host` header an upstream receives.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum UpstreamHost {
    /// The client's own `Host`.
    #[default]
    Client,
    /// The chosen server's URL `host[:port]`.
    Upstream,
}

/// How requests are spread over an upstream's servers, and how failing ones are avoided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamGroup {
    pub balance: Balance,
    /// How often host names are resolved again.
    pub resolve_interval: Duration,
    pub health_check: Option<HealthCheck>,
    /// How many times a request whose connection failed is sent to another server (nothing of
    /// it has reached any server then, so any method is safe to retry).
    pub retries: usize,
    /// How long a server that refused a connection is left out (passive ejection).
    pub eject_for: Duration,
}

impl Default for UpstreamGroup {
    fn default() -> Self {
        Self {
            balance: Balance::RoundRobin,
            resolve_interval: Duration::from_secs(30),
            health_check: None,
            retries: 2,
            eject_for: Duration::from_secs(10),
        }
    }
}

/// The load-balancing method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Balance {
    RoundRobin,
    /// The same client IP goes to the same server while the set of servers stays (Ketama).
    ClientIpHash,
}

/// An active HTTP health check: `GET path` every `interval`; 2xx within `timeout` passes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthCheck {
    pub path: String,
    pub interval: Duration,
    pub timeout: Duration,
    /// Passes in a row that bring a server back.
    pub healthy_after: usize,
    /// Failures in a row that take a server out.
    pub unhealthy_after: usize,
}

/// The sections describing one upstream, wherever they sit.
pub(super) struct UpstreamSections<'a> {
    pub(super) urls: &'a file::UpstreamUrls,
    pub(super) tls: Option<&'a file::UpstreamTlsSection>,
    pub(super) host: Option<&'a str>,
    pub(super) group: Option<&'a file::UpstreamGroupSection>,
}

/// The upstream described by `s`; `key` names it in errors (`proxy.upstream`,
/// `routes[2].upstream`); the other sections are `<key>_tls`, `<key>_host`, `<key>_group`.
pub(super) fn upstream(key: &str, s: &UpstreamSections<'_>) -> Result<Upstream, ConfigError> {
    let urls: Vec<&str> = match s.urls {
        file::UpstreamUrls::One(url) => vec![url.as_str()],
        file::UpstreamUrls::Several(urls) => urls.iter().map(String::as_str).collect(),
    };
    if urls.is_empty() {
        return Err(ConfigError::new(key, "list at least one server URL"));
    }
    let mut servers = Vec::with_capacity(urls.len());
    let mut https = None;
    for url in &urls {
        let (is_https, server) = server(key, url)?;
        if *https.get_or_insert(is_https) != is_https {
            return Err(ConfigError::new(
                key,
                "mix of http:// and https:// servers; an upstream's servers share one scheme",
            ));
        }
        servers.push(server);
    }
    let mut upstream = Upstream {
        url: urls.join(", "),
        servers,
        tls: (https == Some(true)).then(|| UpstreamTls {
            server_name: None,
            extra_ca: Vec::new(),
            client: None,
        }),
        host_header: host_header(key, s.host)?,
        group: match s.group {
            Some(g) => group(&format!("{key}_group"), g)?,
            None => UpstreamGroup::default(),
        },
    };
    if let Some(section) = s.tls {
        upstream_tls(&mut upstream, &format!("{key}_tls"), section)?;
    }
    Ok(upstream)
}

/// One `http://host[:port]` or `https://...` URL: (is https, the server).
fn server(key: &str, url: &str) -> Result<(bool, UpstreamServer), ConfigError> {
    let uri: http::Uri = url.parse().map_err(|_| {
        ConfigError::new(
            key,
            format!("`{url}` is not a URL such as http://127.0.0.1:3000"),
        )
    })?;
    let (https, default_port) = match uri.scheme_str() {
        Some("http") => (false, 80),
        Some("https") => (true, 443),
        _ => {
            return Err(ConfigError::new(
                key,
                format!("`{url}` must start with http:// or https://"),
            ))
        }
    };
    if uri.path() != "/" && !uri.path().is_empty() {
        return Err(ConfigError::new(
            key,
            format!("`{url}` must not have a path; requests keep their own"),
        ));
    }
    let authority = uri
        .authority()
        .filter(|a| !a.host().is_empty() && !a.as_str().contains('@'))
        .ok_or_else(|| ConfigError::new(key, format!("`{url}` has no host")))?;
    Ok((
        https,
        UpstreamServer {
            host: authority
                .host()
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_string(),
            port: uri.port_u16().unwrap_or(default_port),
            authority: authority.as_str().to_string(),
        },
    ))
}

fn host_header(key: &str, host: Option<&str>) -> Result<UpstreamHost, ConfigError> {
    match host {
        None | Some("client") => Ok(UpstreamHost::Client),
        Some("upstream") => Ok(UpstreamHost::Upstream),
        Some(other) => Err(ConfigError::new(
            format!("{key}_host"),
            format!("`{other}` is not one of client, upstream"),
        )),
    }
}

fn upstream_tls(
    upstream: &mut Upstream,
    key: &str,
    section: &file::UpstreamTlsSection,
) -> Result<(), ConfigError> {
    let Some(tls) = upstream.tls.as_mut() else {
        return Err(ConfigError::new(
            key,
            format!(
                "`{}` is plain http://; TLS options need an https:// upstream",
                upstream.url
            ),
        ));
    };
    if let Some(name) = &section.server_name {
        if name.is_empty() || name.contains(['/', ':', ' ']) {
            return Err(ConfigError::new(
                format!("{key}.server_name"),
                format!("`{name}` must be a host name such as app.internal"),
            ));
        }
        tls.server_name = Some(name.clone());
    }
    if let Some(ca) = &section.ca_file {
        tls.extra_ca = tls::certificates_in(ca.as_ref())
            .map_err(|e| ConfigError::new(format!("{key}.ca_file"), e.to_string()))?
            .into_iter()
            .map(|c| c.as_ref().to_vec())
            .collect();
    }
    tls.client = match (&section.client_cert, &section.client_key) {
        (Some(cert), Some(key_file)) => Some(
            tls::load_client_identity(
                &CertificateFiles {
                    cert: cert.into(),
                    key: key_file.into(),
                },
                SystemTime::now(),
            )
            .map_err(|e| ConfigError::new(format!("{key}.client_cert"), e.to_string()))?,
        ),
        (None, None) => None,
        _ => {
            return Err(ConfigError::new(
                key,
                "set both client_cert and client_key, or neither",
            ))
        }
    };
    Ok(())
}

fn group(key: &str, g: &file::UpstreamGroupSection) -> Result<UpstreamGroup, ConfigError> {
    let defaults = UpstreamGroup::default();
    let balance = match g.balance.as_deref() {
        None | Some("round_robin") => Balance::RoundRobin,
        Some("client_ip_hash") => Balance::ClientIpHash,
        Some(other) => {
            return Err(ConfigError::new(
                format!("{key}.balance"),
                format!("`{other}` is not one of round_robin, client_ip_hash"),
            ))
        }
    };
    let positive = |name: &str, value: &Option<file::DurationValue>, default: Duration| {
        let key = format!("{key}.{name}");
        match value {
            Some(v) => nonzero(&key, duration(&key, v)?),
            None => Ok(default),
        }
    };
    let health_check = match &g.health_check {
        Some(h) => {
            if !h.path.starts_with('/') {
                return Err(ConfigError::new(
                    format!("{key}.health_check.path"),
                    format!("`{}` must start with `/`", h.path),
                ));
            }
            let at_least_one = |name: &str, v: Option<usize>, default: usize| match v {
                Some(0) => Err(ConfigError::new(
                    format!("{key}.health_check.{name}"),
                    "must be at least 1",
                )),
                Some(n) => Ok(n),
                None => Ok(default),
            };
            Some(HealthCheck {
                path: h.path.clone(),
                interval: positive("health_check.interval", &h.interval, Duration::from_secs(5))?,
                timeout: positive("health_check.timeout", &h.timeout, Duration::from_secs(1))?,
                healthy_after: at_least_one("healthy_after", h.healthy_after, 2)?,
                unhealthy_after: at_least_one("unhealthy_after", h.unhealthy_after, 2)?,
            })
        }
        None => None,
    };
    Ok(UpstreamGroup {
        balance,
        resolve_interval: positive(
            "resolve_interval",
            &g.resolve_interval,
            defaults.resolve_interval,
        )?,
        health_check,
        retries: g.retries.unwrap_or(defaults.retries),
        eject_for: positive("eject_for", &g.eject_for, defaults.eject_for)?,
    })
}

impl Config {
    /// Every distinct upstream: the default, Better Auth's, each route's own (routes without
    /// one share the default's `Arc`).
    pub fn upstreams(&self) -> Vec<&Arc<Upstream>> {
        let mut all: Vec<&Arc<Upstream>> = Vec::new();
        let candidates = [&self.proxy.upstream, &self.better_auth.upstream]
            .into_iter()
            .chain(self.routes.iter().map(|r| &r.upstream));
        for u in candidates {
            if !all.iter().any(|seen| Arc::ptr_eq(seen, u)) {
                all.push(u);
            }
        }
        all
    }
}
