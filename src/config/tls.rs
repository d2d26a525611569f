//! `[server.tls]` and the upstream TLS options (`upstream_tls`, `upstream_host`): certificate
//! files are read and checked here, so a bad file is a config error naming its key.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::SystemTime;

use http::HeaderValue;

use super::*;
use crate::tls::{self, CertificateFiles, CertificateSet, ClientIdentity, ListenerCertificates};

/// TLS on the proxy listener.
#[derive(Debug, Clone)]
pub struct ListenerTls {
    /// The served certificates, replaceable at run time (`reload_interval`, SIGHUP).
    pub certificates: Arc<ListenerCertificates>,
    /// Offer HTTP/2 by ALPN.
    pub http2: bool,
    pub reload_interval: Duration,
    /// `Strict-Transport-Security`, on every answer over TLS.
    pub hsts: Option<HeaderValue>,
    /// A plain-HTTP listener answering every request with a redirect to HTTPS.
    pub redirect_http_from: Option<SocketAddr>,
}

/// How an `https://` upstream is reached: Pingora's verification against the system roots
/// plus `extra_ca`, presenting `client` if set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamTls {
    /// Sent as SNI and required in the upstream's certificate: the URL's host unless
    /// `upstream_tls.server_name` says otherwise (an upstream reached by IP address).
    pub server_name: String,
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
    /// The upstream URL's `host[:port]`.
    Upstream,
}

pub(super) fn listener_tls(
    t: &file::TlsSection,
    now: SystemTime,
) -> Result<ListenerTls, ConfigError> {
    if t.certificates.is_empty() {
        return Err(ConfigError::new(
            "server.tls.certificates",
            "list at least one { cert = \"fullchain.pem\", key = \"key.pem\" }",
        ));
    }
    let files: Vec<CertificateFiles> = t
        .certificates
        .iter()
        .map(|c| CertificateFiles {
            cert: c.cert.clone().into(),
            key: c.key.clone().into(),
        })
        .collect();
    for (i, f) in files.iter().enumerate() {
        tls::load_certificate(f, now).map_err(|e| {
            ConfigError::new(format!("server.tls.certificates[{i}]"), e.to_string())
        })?;
    }
    let set = CertificateSet::load(&files, now)
        .map_err(|e| ConfigError::new("server.tls.certificates", e.to_string()))?;
    let reload_interval = match &t.reload_interval {
        Some(d) => nonzero(
            "server.tls.reload_interval",
            duration("server.tls.reload_interval", d)?,
        )?,
        None => Duration::from_secs(10),
    };
    let hsts = match &t.hsts {
        Some(v) if v.trim_start().starts_with("max-age=") => Some(
            HeaderValue::from_str(v)
                .map_err(|_| ConfigError::new("server.tls.hsts", "not a header value"))?,
        ),
        Some(v) => {
            return Err(ConfigError::new(
                "server.tls.hsts",
                format!(
                    "`{v}` must start with max-age=, e.g. \"max-age=31536000; includeSubDomains\""
                ),
            ))
        }
        None => None,
    };
    let redirect_http_from = match &t.redirect_http_from {
        Some(a) => Some(a.parse().map_err(|_| {
            ConfigError::new(
                "server.tls.redirect_http_from",
                format!("`{a}` is not an address; write ip:port, e.g. 0.0.0.0:80"),
            )
        })?),
        None => None,
    };
    Ok(ListenerTls {
        certificates: Arc::new(ListenerCertificates::new(files, set)),
        http2: t.http2.unwrap_or(true),
        reload_interval,
        hsts,
        redirect_http_from,
    })
}

/// `upstream` with its TLS options and `Host` choice from `section`/`host` (under `key`).
pub(super) fn upstream_options(
    mut upstream: Upstream,
    key: &str,
    section: Option<&file::UpstreamTlsSection>,
    host: Option<&str>,
    now: SystemTime,
) -> Result<Upstream, ConfigError> {
    upstream.host_header = match host {
        None | Some("client") => UpstreamHost::Client,
        Some("upstream") => UpstreamHost::Upstream,
        Some(other) => {
            return Err(ConfigError::new(
                format!("{key}_host"),
                format!("`{other}` is not one of client, upstream"),
            ))
        }
    };
    let Some(section) = section else {
        return Ok(upstream);
    };
    let key = format!("{key}_tls");
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
        tls.server_name = name.clone();
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
                now,
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
    Ok(upstream)
}

impl ListenerTls {
    /// One line per served certificate that expires within `tls::EXPIRY_WARNING` of `now`.
    pub fn expiry_warnings(&self, now: SystemTime) -> Vec<String> {
        self.certificates
            .current()
            .certificates()
            .iter()
            .filter(|c| c.expires_soon(now))
            .map(|c| {
                format!(
                    "{} ({}) expires {} UTC: renew it; Gatehouse picks up the new file without a restart",
                    c.files.cert.display(),
                    c.names.join(", "),
                    c.expires()
                )
            })
            .collect()
    }
}
