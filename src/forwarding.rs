//! What the upstream receives: client-sent identity headers removed, ours added, and
//! `X-Forwarded-*` set, computed as a list of edits that the Pingora glue applies.

use std::net::IpAddr;

use http::{header, HeaderMap, HeaderName, HeaderValue};

use crate::app::ForwardPlan;
use crate::auth::cookie::cookie_pairs;
use crate::config::Config;

/// Header changes for the upstream request: removals first, then insertions (which replace).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct HeaderEdits {
    pub remove: Vec<HeaderName>,
    pub insert: Vec<(HeaderName, HeaderValue)>,
}

impl HeaderEdits {
    /// Applies the edits to `headers`: removals, then insertions that replace.
    pub fn apply(self, headers: &mut HeaderMap) -> Result<(), http::header::MaxSizeReached> {
        for name in &self.remove {
            headers.remove(name);
        }
        for (name, value) in self.insert {
            headers.try_insert(name, value)?;
        }
        Ok(())
    }
}

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
const FORWARDED: HeaderName = HeaderName::from_static("forwarded");

/// Whether `name` is an identity header a client must never set: one of the configured names or
/// under a configured prefix.
pub fn is_identity_header(name: &HeaderName, config: &Config) -> bool {
    let h = &config.headers;
    let s = name.as_str();
    [
        &h.user_id,
        &h.user_email,
        &h.user_name,
        &h.user_role,
        &h.session_id,
    ]
    .contains(&name)
        || h.user_columns.iter().any(|(n, _)| n == name)
        || h.strip_prefixes.iter().any(|p| s.starts_with(p.as_str()))
}

/// Whether `ip` is one of the configured trusted proxies.
pub fn is_trusted_proxy(ip: IpAddr, config: &Config) -> bool {
    config
        .proxy
        .trusted_proxies
        .iter()
        .any(|net| net.contains(&ip))
}

/// The client's address: the peer, or, when the peer is a trusted proxy, the right-most
/// `X-Forwarded-For` entry that is not itself a trusted proxy.
pub fn client_ip(headers: &HeaderMap, peer: IpAddr, config: &Config) -> IpAddr {
    if !is_trusted_proxy(peer, config) {
        return peer;
    }
    let chain: Vec<IpAddr> = headers
        .get_all(X_FORWARDED_FOR)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    chain
        .into_iter()
        .rev()
        .find(|ip| !is_trusted_proxy(*ip, config))
        .unwrap_or(peer)
}

/// The edits that turn the client's request headers into the upstream's.
///
/// SECURITY: runs on every forwarded request, public routes included, so a client can never
/// pass its own identity headers through.
pub fn upstream_edits(
    headers: &HeaderMap,
    plan: &ForwardPlan,
    peer: Option<IpAddr>,
    config: &Config,
) -> HeaderEdits {
    let identity = plan.session.as_ref().map_or(0, |s| s.headers.len());
    let mut edits = HeaderEdits {
        remove: Vec::new(),
        // Identity, `X-Forwarded-*`, `Cookie` and the glue's request ID: one allocation.
        insert: Vec::with_capacity(identity + 5),
    };
    for name in headers.keys() {
        if is_identity_header(name, config) && !edits.remove.contains(name) {
            edits.remove.push(name.clone());
        }
    }
    if let Some(s) = &plan.session {
        edits.insert.extend(s.headers.iter().cloned());
    }
    forwarded_for(headers, peer, config, &mut edits);
    if plan.strip_auth_cookies {
        strip_auth_cookies(headers, config, &mut edits);
    }
    edits
}

fn forwarded_for(
    headers: &HeaderMap,
    peer: Option<IpAddr>,
    config: &Config,
    edits: &mut HeaderEdits,
) {
    let trusted = peer.is_some_and(|ip| is_trusted_proxy(ip, config));
    let existing = |name: &HeaderName| headers.get(name).filter(|_| trusted).cloned();
    if !trusted {
        edits.remove.push(FORWARDED);
    }
    if let Some(peer) = peer {
        let prior: Vec<&str> = headers
            .get_all(X_FORWARDED_FOR)
            .iter()
            .filter(|_| trusted)
            .filter_map(|v| v.to_str().ok())
            .collect();
        let chain = if prior.is_empty() {
            peer.to_string()
        } else {
            format!("{}, {peer}", prior.join(", "))
        };
        if let Ok(v) = HeaderValue::from_str(&chain) {
            edits.insert.push((X_FORWARDED_FOR, v));
        }
    } else {
        edits.remove.push(X_FORWARDED_FOR);
    }
    let proto = existing(&X_FORWARDED_PROTO).unwrap_or(HeaderValue::from_static("http"));
    edits.insert.push((X_FORWARDED_PROTO, proto));
    match existing(&X_FORWARDED_HOST).or_else(|| headers.get(header::HOST).cloned()) {
        Some(host) => edits.insert.push((X_FORWARDED_HOST, host)),
        None => edits.remove.push(X_FORWARDED_HOST),
    }
}

fn strip_auth_cookies(headers: &HeaderMap, config: &Config, edits: &mut HeaderEdits) {
    let names = &config.better_auth.cookies;
    let is_auth_cookie = |name: &str| {
        name == names.session_token
            || name == names.dont_remember
            || name == names.session_data
            || name
                .strip_prefix(names.session_data.as_str())
                .is_some_and(|rest| rest.starts_with('.'))
    };
    let kept: Vec<String> = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(cookie_pairs)
        .filter(|(name, _)| !is_auth_cookie(name))
        .map(|(name, value)| format!("{name}={value}"))
        .collect();
    edits.remove.push(header::COOKIE);
    if !kept.is_empty() {
        if let Ok(v) = HeaderValue::from_str(&kept.join("; ")) {
            edits.insert.push((header::COOKIE, v));
        }
    }
}

#[cfg(test)]
mod tests;
