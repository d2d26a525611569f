//! `[forward_auth]`: the decision endpoint for a proxy a team already runs (nginx
//! `auth_request`, Traefik ForwardAuth, Caddy `forward_auth`, Envoy `ext_authz`).

use super::*;

/// The forward-auth endpoint.
#[derive(Debug, Clone)]
pub struct ForwardAuthConfig {
    /// Its path on the proxy listener (and on `listen`); Envoy appends the original path to it.
    pub path: String,
    /// A listener of its own, besides the proxy listener.
    pub listen: Option<SocketAddr>,
    /// Peers allowed to ask.
    pub callers: Vec<IpNet>,
    /// `GATEHOUSE_FORWARD_AUTH_SECRET`: a caller presenting it in `X-Forward-Auth-Secret` may
    /// ask from anywhere.
    pub secret: Option<Secret>,
}

pub(super) fn forward_auth(
    f: &file::ForwardAuthSection,
    env: &dyn EnvSource,
) -> Result<Option<ForwardAuthConfig>, ConfigError> {
    if !f.enabled {
        return Ok(None);
    }
    if !f.path.starts_with('/') || f.path.len() < 2 || f.path.ends_with('/') {
        return Err(ConfigError::new(
            "forward_auth.path",
            format!(
                "`{}` must be a path such as /_gatehouse/auth (no trailing `/`)",
                f.path
            ),
        ));
    }
    let callers = ip_nets("forward_auth.callers", &f.callers)?;
    let secret = env.var("GATEHOUSE_FORWARD_AUTH_SECRET").map(Secret);
    if secret.as_ref().is_some_and(|s| s.expose().len() < 16) {
        return Err(ConfigError::new(
            "GATEHOUSE_FORWARD_AUTH_SECRET",
            "must be at least 16 characters",
        ));
    }
    if callers.is_empty() && secret.is_none() {
        return Err(ConfigError::new(
            "forward_auth.callers",
            "name the proxies that may ask (IP addresses or CIDRs), or set \
             GATEHOUSE_FORWARD_AUTH_SECRET: an open decision endpoint would tell anyone who a \
             cookie belongs to",
        ));
    }
    let listen = match &f.listen {
        Some(a) => Some(a.parse().map_err(|_| {
            ConfigError::new(
                "forward_auth.listen",
                format!("`{a}` is not an address; write ip:port"),
            )
        })?),
        None => None,
    };
    Ok(Some(ForwardAuthConfig {
        path: f.path.clone(),
        listen,
        callers,
        secret,
    }))
}
