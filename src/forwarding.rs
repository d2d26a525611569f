//! What the upstream receives: client-sent identity headers removed, ours added, and
//! `X-Forwarded-*` set, computed as a list of edits that the Pingora glue applies.

use std::borrow::Cow;
use std::net::IpAddr;

use http::{header, HeaderMap, HeaderName, HeaderValue};

use crate::auth::cookie::cookie_pairs;
use crate::config::{Config, Upstream, UpstreamHost};
use crate::decision::{ClientAddr, ForwardPlan};
use crate::text::ip_text;

/// Header changes for the upstream request: removals first, then insertions (which replace).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct HeaderEdits {
    pub(crate) remove: Vec<HeaderName>,
    pub(crate) insert: Vec<(HeaderName, HeaderValue)>,
}

impl HeaderEdits {
    /// Applies the edits to `headers`: removals, then insertions that replace.
    pub(crate) fn apply(self, headers: &mut HeaderMap) -> Result<(), http::header::MaxSizeReached> {
        for name in &self.remove {
            headers.remove(name);
        }
        // One growth of the map instead of one per few inserts.
        headers.try_reserve(self.insert.len())?;
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

/// Headers that make some frameworks serve another path than the request's: always removed,
/// since Gatehouse decided on the request's own path.
const PATH_OVERRIDES: [HeaderName; 2] = [
    HeaderName::from_static("x-original-url"),
    HeaderName::from_static("x-rewrite-url"),
];

/// `name` as CGI-style servers read it: `x_auth_user_id` and `x-auth-user-id` are both
/// `HTTP_X_AUTH_USER_ID` there. Header names are already lowercase.
fn cgi_spelling(name: &HeaderName) -> Cow<'_, str> {
    let s = name.as_str();
    if s.contains('_') {
        Cow::Owned(s.replace('_', "-"))
    } else {
        Cow::Borrowed(s)
    }
}

/// Whether `name` (in its CGI spelling) is an identity header a client must never set: one of
/// the configured names or under a configured prefix.
fn is_identity_name(name: &str, config: &Config) -> bool {
    let h = &config.headers;
    h.identity_names().any(|n| n.as_str() == name)
        || h.strip_prefixes
            .iter()
            .any(|p| name.starts_with(p.as_str()))
}

/// Whether a client header `name` must be removed before forwarding: an identity header or a
/// path override in any spelling, or, from an untrusted peer, one of `proxy.untrusted_headers`.
///
/// SECURITY: compared in CGI spelling, so `X_Auth_User_Role` cannot reach a WSGI app as
/// `HTTP_X_AUTH_USER_ROLE`.
pub(crate) fn must_strip(name: &HeaderName, trusted_peer: bool, config: &Config) -> bool {
    let spelt = cgi_spelling(name);
    let spelt_differently = matches!(spelt, Cow::Owned(_));
    let name = spelt.as_ref();
    is_identity_name(name, config)
        || PATH_OVERRIDES.iter().any(|n| n.as_str() == name)
        // `x_forwarded_for` would stand beside the X-Forwarded-For set below.
        || (spelt_differently
            && [&X_FORWARDED_FOR, &X_FORWARDED_PROTO, &X_FORWARDED_HOST, &FORWARDED]
                .iter()
                .any(|n| n.as_str() == name))
        || (!trusted_peer
            && config
                .proxy
                .untrusted_headers
                .iter()
                .any(|n| n.as_str() == name))
}

/// Who sent a request with `headers` over a connection from `peer`.
/// `tls`: the connection to Gatehouse itself is TLS (the client used https, whatever a proxy
/// says).
pub(crate) fn client_addr(
    headers: &HeaderMap,
    peer: Option<IpAddr>,
    tls: bool,
    config: &Config,
) -> ClientAddr {
    ClientAddr {
        peer,
        trusted_peer: peer.is_some_and(|ip| is_trusted_proxy(ip, config)),
        ip: peer.map(|p| client_ip(headers, p, config)),
        scheme: if tls {
            "https"
        } else {
            request_scheme(headers, peer, config)
        },
    }
}

/// Whether a request looks like it came through a proxy Gatehouse was not told about: no
/// `proxy.trusted_proxies`, a loopback or private peer, and an `X-Forwarded-For` header.
pub(crate) fn proxied_but_untrusted(
    headers: &HeaderMap,
    peer: Option<IpAddr>,
    config: &Config,
) -> bool {
    let local = |ip: IpAddr| match ip {
        IpAddr::V4(v4) => v4.is_loopback() || v4.is_private(),
        IpAddr::V6(v6) => v6.is_loopback() || v6.is_unique_local(),
    };
    config.proxy.trusted_proxies.is_empty()
        && peer.is_some_and(local)
        && headers.contains_key(&X_FORWARDED_FOR)
}

/// Whether `ip` is one of the configured trusted proxies.
fn is_trusted_proxy(ip: IpAddr, config: &Config) -> bool {
    config
        .proxy
        .trusted_proxies
        .iter()
        .any(|net| net.contains(&ip))
}

/// The client's address: the peer, or, when the peer is a trusted proxy, the right-most
/// `X-Forwarded-For` entry that is not itself a trusted proxy.
fn client_ip(headers: &HeaderMap, peer: IpAddr, config: &Config) -> IpAddr {
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

/// The scheme a client used on a plain connection: `https` only when a trusted proxy says so
/// in `X-Forwarded-Proto`.
fn request_scheme(headers: &HeaderMap, peer: Option<IpAddr>, config: &Config) -> &'static str {
    let said_https = headers
        .get(X_FORWARDED_PROTO)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https"));
    if said_https && peer.is_some_and(|ip| is_trusted_proxy(ip, config)) {
        "https"
    } else {
        "http"
    }
}

/// The edits that turn the client's request headers into the upstream's.
///
/// SECURITY: runs on every forwarded request, public routes included, so a client can never
/// pass its own identity headers through.
pub(crate) fn upstream_edits(
    headers: &HeaderMap,
    plan: &ForwardPlan,
    client: &ClientAddr,
    config: &Config,
) -> HeaderEdits {
    let identity = plan
        .session
        .as_ref()
        .map_or(0, |s| s.headers().size_hint().1.unwrap_or(0));
    let mut edits = HeaderEdits {
        remove: Vec::new(),
        // Identity, `X-Forwarded-*`, `Cookie` and the glue's request ID: one allocation.
        insert: Vec::with_capacity(identity + 5),
    };
    for name in headers.keys() {
        if must_strip(name, client.trusted_peer, config) && !edits.remove.contains(name) {
            edits.remove.push(name.clone());
        }
    }
    if let Some(s) = &plan.session {
        edits
            .insert
            .extend(s.headers().map(|(name, value)| (name.clone(), value)));
    }
    forwarded_for(headers, client, &mut edits);
    if plan.strip_auth_cookies {
        strip_auth_cookies(headers, config, &mut edits);
    }
    edits
}

/// The `Host` to send to `server` of `upstream` instead of the client's, when the upstream wants
/// its own (`upstream_host = "upstream"`); the client's stays readable in `X-Forwarded-Host`.
pub(crate) fn upstream_host(upstream: &Upstream, server: usize) -> Option<HeaderValue> {
    if upstream.host_header != UpstreamHost::Upstream {
        return None;
    }
    let server = upstream.servers.get(server)?;
    HeaderValue::from_str(&server.authority).ok()
}

fn forwarded_for(headers: &HeaderMap, client: &ClientAddr, edits: &mut HeaderEdits) {
    let trusted = client.trusted_peer;
    let existing = |name: &HeaderName| headers.get(name).filter(|_| trusted).cloned();
    if !trusted {
        edits.remove.push(FORWARDED);
    }
    if let Some(peer) = client.peer {
        let prior: Vec<&str> = headers
            .get_all(X_FORWARDED_FOR)
            .iter()
            .filter(|_| trusted)
            .filter_map(|v| v.to_str().ok())
            .collect();
        let chain = if prior.is_empty() {
            ip_text(peer)
        } else {
            format!("{}, {peer}", prior.join(", "))
        };
        if let Ok(v) = HeaderValue::from_str(&chain) {
            edits.insert.push((X_FORWARDED_FOR, v));
        }
    } else {
        edits.remove.push(X_FORWARDED_FOR);
    }
    let proto = existing(&X_FORWARDED_PROTO).unwrap_or(HeaderValue::from_static(client.scheme));
    edits.insert.push((X_FORWARDED_PROTO, proto));
    match existing(&X_FORWARDED_HOST).or_else(|| headers.get(header::HOST).cloned()) {
        Some(host) => edits.insert.push((X_FORWARDED_HOST, host)),
        None => edits.remove.push(X_FORWARDED_HOST),
    }
}

fn strip_auth_cookies(headers: &HeaderMap, config: &Config, edits: &mut HeaderEdits) {
    let names = &config.better_auth.cookies;
    let multi_session = format!("{}_multi-", names.session_token).to_ascii_lowercase();
    let is_auth_cookie = |name: &str| {
        name == names.session_token
            || name == names.dont_remember
            || name == names.session_data
            || name
                .strip_prefix(names.session_data.as_str())
                .is_some_and(|rest| rest.starts_with('.'))
            || name.to_ascii_lowercase().starts_with(&multi_session)
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
