//! The Pingora peer for each configured upstream, built once at start-up: address, timeouts,
//! and for `https://` upstreams SNI, the trusted CAs and the client certificate. A request
//! clones its upstream's template (a few `Arc`s) instead of parsing certificates again.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;

use pingora::upstreams::peer::HttpPeer;
use pingora::utils::tls::{parse_x509, CertKey, WrappedX509};

use crate::config::{Config, Upstream, UpstreamTls};

/// Every upstream of a config, by the address of its shared `Arc<Upstream>`: routes without an
/// `upstream` share `proxy.upstream`'s, so each distinct upstream has one entry.
pub(crate) struct UpstreamPeers {
    /// Keyed by `Arc::as_ptr` as an integer: an identity, never dereferenced.
    by_upstream: HashMap<usize, HttpPeer>,
}

impl UpstreamPeers {
    pub(crate) fn new(config: &Config) -> Self {
        let upstreams = std::iter::once(&config.proxy.upstream)
            .chain(std::iter::once(&config.better_auth.upstream))
            .chain(config.routes.iter().map(|r| &r.upstream));
        let mut system_roots = None;
        let by_upstream = upstreams
            .map(|u| (key(u), template(u, config, &mut system_roots)))
            .collect();
        Self { by_upstream }
    }

    /// A peer for `upstream`, which must come from the config these peers were built from.
    pub(crate) fn peer(&self, upstream: &Arc<Upstream>) -> Option<HttpPeer> {
        self.by_upstream.get(&key(upstream)).cloned()
    }
}

fn key(upstream: &Arc<Upstream>) -> usize {
    Arc::as_ptr(upstream) as usize
}

fn template(
    upstream: &Upstream,
    config: &Config,
    system_roots: &mut Option<Vec<Vec<u8>>>,
) -> HttpPeer {
    // SECURITY: Pingora skips certificate verification when SNI is empty, so an https://
    // upstream always gets a server name (its host, or `server_name`; an IP address is verified
    // against the certificate's IP addresses, and rustls sends no SNI for it).
    let sni = match &upstream.tls {
        Some(tls) => tls.server_name.clone(),
        None => String::new(),
    };
    let mut peer = HttpPeer::new(upstream.addr, upstream.tls.is_some(), sni);
    peer.options.connection_timeout = Some(config.proxy.connect_timeout);
    peer.options.read_timeout = Some(config.proxy.read_timeout);
    if let Some(tls) = &upstream.tls {
        apply_tls(&mut peer, tls, system_roots);
    }
    peer
}

fn apply_tls(peer: &mut HttpPeer, tls: &UpstreamTls, system_roots: &mut Option<Vec<Vec<u8>>>) {
    if !tls.extra_ca.is_empty() {
        // Pingora's per-peer CA list replaces the system roots; the config adds to them.
        let roots = system_roots.get_or_insert_with(load_system_roots);
        let trusted: Vec<WrappedX509> = roots
            .iter()
            .chain(&tls.extra_ca)
            .map(|der| WrappedX509::new(der.clone(), parse_x509))
            .collect();
        peer.options.ca = Some(Arc::from(trusted.into_boxed_slice()));
    }
    if let Some(identity) = &tls.client {
        peer.client_cert_key = Some(Arc::new(CertKey::new(
            identity.chain.clone(),
            identity.key.clone(),
        )));
    }
    // SECURITY: Pingora's connection pool does not tell peers apart by their trusted CAs, so a
    // connection verified against one route's CA could serve another route that trusts less.
    // The group key keeps each trust configuration's connections apart.
    let mut hash = DefaultHasher::new();
    tls.extra_ca.hash(&mut hash);
    peer.group_key = hash.finish();
}

/// The system's trusted roots (DER), as Pingora's own connector loads them.
fn load_system_roots() -> Vec<Vec<u8>> {
    match pingora::tls::load_native_certs() {
        Ok(certs) => certs.into_iter().map(|c| c.as_ref().to_vec()).collect(),
        Err(error) => {
            tracing::warn!(%error, "the system's CA certificates could not be loaded; only upstream_tls.ca_file is trusted");
            Vec::new()
        }
    }
}
