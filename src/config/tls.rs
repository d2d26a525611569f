//! `[server.tls]`: the listener's certificate files are read and checked here, so a bad file is
//! a config error naming its key.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::SystemTime;

use http::HeaderValue;

use super::*;
use crate::tls::{self, CertificateFiles, CertificateSet, ListenerCertificates};

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
