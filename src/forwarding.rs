//! What the upstream receives: client-sent identity headers removed, ours added, and
//! `X-Forwarded-*` set, computed as a list of edits that the Pingora glue applies.

use std::borrow::Cow;
use std::collections::HashMap;
use std::net::IpAddr;

use http::{header, HeaderMap, HeaderName, HeaderValue};
use rustc_hash::FxBuildHasher;

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

/// The client headers never forwarded as sent, by name, built once from the configuration:
/// each request header then costs one hash lookup and the prefix checks instead of a comparison
/// with every configured name (about 30 by default).
///
/// SECURITY: names are compared in CGI spelling (`-` for `_`, lowercase), the configured ones
/// too: `x_auth_user_id` and `x-auth-user-id` are both `HTTP_X_AUTH_USER_ID` to a WSGI or CGI
/// app, so a client may send neither. The table is fixed at start, so a client's names only look
/// up and cannot make it slower (which is why a fast, unkeyed hash is safe here).
#[derive(Debug)]
pub(crate) struct StripList {
    names: HashMap<String, Strip, FxBuildHasher>,
    /// `headers.strip_prefixes`, lowercase, of letters, digits and `-`.
    prefixes: Vec<String>,
}

/// When a listed name is removed.
#[derive(Debug, Default, Clone, Copy)]
struct Strip {
    /// Always: an identity header, or a path override.
    always: bool,
    /// When sent spelt with `_`: `x_forwarded_for` would stand beside the X-Forwarded-For set
    /// below.
    respelt: bool,
    /// When the peer is not a trusted proxy: `proxy.untrusted_headers`, and `Forwarded`.
    from_untrusted: bool,
}

impl StripList {
    /// The list `config` asks for.
    pub(crate) fn new(config: &Config) -> Self {
        let mut names: HashMap<String, Strip, FxBuildHasher> = HashMap::default();
        let mut mark = |name: &HeaderName, how: fn(&mut Strip)| {
            how(names.entry(cgi_spelling(name.as_str())).or_default());
        };
        for name in config.headers.identity_names().chain(&PATH_OVERRIDES) {
            mark(name, |s| s.always = true);
        }
        for name in [
            &X_FORWARDED_FOR,
            &X_FORWARDED_PROTO,
            &X_FORWARDED_HOST,
            &FORWARDED,
        ] {
            mark(name, |s| s.respelt = true);
        }
        // `Forwarded` is only ever believed from a trusted proxy; Gatehouse does not write one.
        for name in config.proxy.untrusted_headers.iter().chain([&FORWARDED]) {
            mark(name, |s| s.from_untrusted = true);
        }
        Self {
            names,
            prefixes: config.headers.strip_prefixes.clone(),
        }
    }

    /// Whether a client header `name` must be removed before forwarding: an identity header or
    /// a path override in any spelling, a forwarding header spelt with `_`, or, from an
    /// untrusted peer, `Forwarded` or one of `proxy.untrusted_headers`.
    pub(crate) fn must_strip(&self, name: &HeaderName, trusted_peer: bool) -> bool {
        let name = name.as_str();
        let respelt = name.as_bytes().contains(&b'_');
        let spelt = if respelt {
            Cow::Owned(cgi_spelling(name))
        } else {
            Cow::Borrowed(name)
        };
        let listed = self.names.get(spelt.as_ref()).is_some_and(|strip| {
            strip.always || (respelt && strip.respelt) || (!trusted_peer && strip.from_untrusted)
        });
        listed || self.prefixes.iter().any(|p| spelt.starts_with(p.as_str()))
    }
}

/// `name` (lowercase, as header names are) as CGI-style servers read it, `-` for `_`.
fn cgi_spelling(name: &str) -> String {
    name.replace('_', "-")
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
    let said_https = || {
        headers
            .get(X_FORWARDED_PROTO)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https"))
    };
    if peer.is_some_and(|ip| is_trusted_proxy(ip, config)) && said_https() {
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
    strip: &StripList,
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
        if strip.must_strip(name, client.trusted_peer) && !edits.remove.contains(name) {
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
    // An untrusted peer's `X-Forwarded-*` are replaced without being looked at.
    let existing = |name: &HeaderName| trusted.then(|| headers.get(name).cloned()).flatten();
    if let Some(peer) = client.peer {
        let prior: Vec<&str> = if trusted {
            headers
                .get_all(X_FORWARDED_FOR)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .collect()
        } else {
            Vec::new()
        };
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
