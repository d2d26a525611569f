//! `[admin]` and `[geo]`: the sessions admin API and dashboard, and the IP geolocation it shows.

use super::*;

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

pub(super) fn admin(
    a: &file::AdminSection,
    env: &dyn EnvSource,
) -> Result<Option<AdminConfig>, ConfigError> {
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

pub(super) fn geo(g: &file::GeoSection, env: &dyn EnvSource) -> Result<GeoConfig, ConfigError> {
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
