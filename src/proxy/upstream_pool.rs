//! Each configured upstream as Pingora sees it: its servers' peers (address, timeouts, and for
//! `https://` SNI, trusted CAs and client certificate) built once at start-up, and, for an
//! upstream of several servers or of host names, a `pingora-load-balancing` balancer that
//! re-resolves the names every `resolve_interval` and runs the active health check, as a
//! background service. A request clones its server's template (a few `Arc`s).
//!
//! An upstream of exactly one IP address and no health check skips the balancer: there is
//! nothing to choose.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use async_trait::async_trait;
use pingora::lb::discovery::ServiceDiscovery;
use pingora::lb::health_check::HttpHealthCheck;
use pingora::lb::selection::{BackendIter, BackendSelection, Consistent, RoundRobin};
use pingora::lb::{Backend, Backends, LoadBalancer};
use pingora::protocols::l4::socket::SocketAddr as L4Addr;
use pingora::server::Server;
use pingora::services::background::background_service;
use pingora::upstreams::peer::HttpPeer;
use pingora::utils::tls::{parse_x509, CertKey, WrappedX509};

use crate::config::{Balance, Config, Upstream, UpstreamServer, UpstreamTls};
use crate::reply::UpstreamFailure;
use crate::resolve::Resolver;
use crate::upstream_health::Ejections;

/// Bounds the balancer's search for an acceptable server.
const MAX_ITERATIONS: usize = 256;

/// Every upstream of a config, by the address of its shared `Arc<Upstream>` (routes without
/// an `upstream` share `proxy.upstream`'s).
pub(crate) struct UpstreamPools {
    /// Keyed by `Arc::as_ptr` as an integer: an identity, never dereferenced. A B-tree: for the
    /// few upstreams of a config, a lookup costs a few comparisons, not a SipHash per request.
    by_upstream: BTreeMap<usize, UpstreamPool>,
}

/// One upstream's servers.
pub(crate) struct UpstreamPool {
    upstream: Arc<Upstream>,
    /// One per configured server, in config order (placeholder address).
    templates: Vec<HttpPeer>,
    choice: Choice,
}

enum Choice {
    /// One IP address, no health check.
    Single(SocketAddr),
    Balanced {
        balancer: Balancer,
        ejections: Ejections,
        servers: ServerIndex,
    },
}

enum Balancer {
    RoundRobin(Arc<LoadBalancer<RoundRobin>>),
    ClientIpHash(Arc<LoadBalancer<Consistent>>),
}

/// Which configured server each discovered address belongs to (an index into `servers`),
/// written by discovery. Kept beside the balancer rather than in `Backend::ext`, which every
/// selection would clone (an allocation per request).
type ServerIndex = Arc<RwLock<HashMap<SocketAddr, usize>>>;

/// A server chosen for one attempt.
pub(crate) struct Chosen {
    pub(crate) peer: HttpPeer,
    pub(crate) addr: SocketAddr,
    /// Index into the upstream's `servers`.
    pub(crate) server: usize,
}

impl UpstreamPools {
    /// Builds every upstream's pool, resolves host names once (a name that does not resolve is
    /// logged; its requests get 502 `upstream_unresolved` until it does), and adds the
    /// balancers' re-resolution and health checks to `server` as background services.
    pub(crate) fn new(config: &Config, server: &mut Server) -> Self {
        let resolver = config
            .proxy
            .resolver
            .map_or(Resolver::System, Resolver::Server);
        let mut system_roots = None;
        let by_upstream = config
            .upstreams()
            .into_iter()
            .map(|upstream| {
                let templates: Vec<HttpPeer> = upstream
                    .servers
                    .iter()
                    .map(|s| template(upstream, s, config, &mut system_roots))
                    .collect();
                let choice = choice(upstream, &templates, resolver, server);
                let pool = UpstreamPool {
                    upstream: Arc::clone(upstream),
                    templates,
                    choice,
                };
                (key(upstream), pool)
            })
            .collect();
        Self { by_upstream }
    }

    /// The pool of `upstream`, which must come from the config these pools were built from.
    pub(crate) fn pool(&self, upstream: &Arc<Upstream>) -> Option<&UpstreamPool> {
        self.by_upstream.get(&key(upstream))
    }
}

fn key(upstream: &Arc<Upstream>) -> usize {
    Arc::as_ptr(upstream) as usize
}

impl UpstreamPool {
    /// A server for the next attempt: healthy, not yet `tried` by this request, and not ejected
    /// (each preference dropped when no server meets it). `client_ip` keys `client_ip_hash`.
    pub(crate) fn choose(
        &self,
        client_ip: Option<IpAddr>,
        tried: &[SocketAddr],
    ) -> Result<Chosen, NoServer> {
        let balancer = match &self.choice {
            Choice::Single(addr) => {
                // Also on a retry: a pooled connection the server had closed is retried on a
                // new one (connection failures are never retried here: `retries` is 0).
                let mut peer = self.templates[0].clone();
                peer._address = L4Addr::Inet(*addr);
                return Ok(Chosen {
                    peer,
                    addr: *addr,
                    server: 0,
                });
            }
            Choice::Balanced {
                balancer,
                ejections,
                servers,
            } => (balancer, ejections, servers),
        };
        let (balancer, ejections, servers) = balancer;
        let now = Instant::now();
        let octets;
        let ip_key: &[u8] = match (balancer, client_ip) {
            (Balancer::ClientIpHash(_), Some(IpAddr::V4(ip))) => {
                octets = ip.to_ipv6_mapped().octets();
                &octets
            }
            (Balancer::ClientIpHash(_), Some(IpAddr::V6(ip))) => {
                octets = ip.octets();
                &octets
            }
            _ => &[],
        };
        let untried = |b: &Backend| !tried.contains(&inet(b));
        let chosen = balancer
            .select(ip_key, &|b, healthy| {
                healthy && untried(b) && !ejections.is_ejected(inet(b), now)
            })
            // Every healthy server was ejected for a refused connection: try them anyway
            // rather than fail every request until the ejections end.
            .or_else(|| balancer.select(ip_key, &|b, healthy| healthy && untried(b)))
            // Every healthy server was tried: a pooled connection the server had closed is
            // retried on a new one (connection failures stop at `retries`, in the glue).
            .or_else(|| balancer.select(ip_key, &|_, healthy| healthy));
        let Some(backend) = chosen else {
            return Err(if balancer.is_empty() {
                NoServer::Unresolved
            } else {
                NoServer::Unhealthy
            });
        };
        let addr = inet(&backend);
        let server = match self.upstream.servers.len() {
            1 => 0,
            _ => servers
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .get(&addr)
                .copied()
                .unwrap_or(0),
        };
        let mut peer = self.templates[server].clone();
        peer._address = L4Addr::Inet(addr);
        Ok(Chosen { peer, addr, server })
    }

    /// `addr` refused a connection: leave it out for a while.
    pub(crate) fn connect_failed(&self, addr: SocketAddr) {
        if let Choice::Balanced { ejections, .. } = &self.choice {
            ejections.eject(addr, Instant::now());
        }
    }

    /// How often a request whose connection failed may try another server (never, with one).
    pub(crate) fn retries(&self) -> usize {
        match self.choice {
            Choice::Single(_) => 0,
            Choice::Balanced { .. } => self.upstream.group.retries,
        }
    }
}

/// Why no server could be chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NoServer {
    /// No address is known: the names have not resolved.
    Unresolved,
    /// Every server fails its active health check.
    Unhealthy,
}

impl NoServer {
    /// What the client is told.
    pub(crate) fn failure(self) -> UpstreamFailure {
        match self {
            NoServer::Unresolved => UpstreamFailure::Unresolved,
            NoServer::Unhealthy => UpstreamFailure::NoHealthyServer,
        }
    }
}

/// A backend's IP address (discovery only ever makes IP ones).
fn inet(backend: &Backend) -> SocketAddr {
    inet_of(&backend.addr)
}

/// An IP socket address from Pingora's (Unix sockets never occur here).
pub(crate) fn inet_of(addr: &L4Addr) -> SocketAddr {
    match addr {
        L4Addr::Inet(addr) => *addr,
        L4Addr::Unix(_) => SocketAddr::from(([0, 0, 0, 0], 0)),
    }
}

impl Balancer {
    fn select(&self, key: &[u8], accept: &dyn Fn(&Backend, bool) -> bool) -> Option<Backend> {
        match self {
            Balancer::RoundRobin(lb) => lb.select_with(key, MAX_ITERATIONS, accept),
            Balancer::ClientIpHash(lb) => lb.select_with(key, MAX_ITERATIONS, accept),
        }
    }

    fn is_empty(&self) -> bool {
        match self {
            Balancer::RoundRobin(lb) => lb.backends().get_backend().is_empty(),
            Balancer::ClientIpHash(lb) => lb.backends().get_backend().is_empty(),
        }
    }
}

fn choice(
    upstream: &Arc<Upstream>,
    templates: &[HttpPeer],
    resolver: Resolver,
    server: &mut Server,
) -> Choice {
    let group = &upstream.group;
    if let ([one], None) = (&upstream.servers[..], &group.health_check) {
        if let Some(ip) = one.ip() {
            return Choice::Single(SocketAddr::new(ip, one.port));
        }
    }
    let servers = ServerIndex::default();
    let balancer = match group.balance {
        Balance::RoundRobin => {
            Balancer::RoundRobin(balancer(upstream, templates, resolver, &servers, server))
        }
        Balance::ClientIpHash => {
            Balancer::ClientIpHash(balancer(upstream, templates, resolver, &servers, server))
        }
    };
    Choice::Balanced {
        balancer,
        ejections: Ejections::new(group.eject_for),
        servers,
    }
}

/// A balancer over `upstream`'s servers, resolved once now and kept fresh (and health checked)
/// by a background service added to `server`.
fn balancer<S>(
    upstream: &Arc<Upstream>,
    templates: &[HttpPeer],
    resolver: Resolver,
    servers: &ServerIndex,
    server: &mut Server,
) -> Arc<LoadBalancer<S>>
where
    S: BackendSelection + Send + Sync + 'static,
    S::Iter: BackendIter,
{
    let group = &upstream.group;
    let discovery = NameDiscovery {
        url: upstream.url.clone(),
        servers: upstream.servers.clone(),
        resolver,
        last_known: Mutex::new(vec![Vec::new(); upstream.servers.len()]),
        index: Arc::clone(servers),
    };
    let mut backends = Backends::new(Box::new(discovery));
    if let Some(check) = &group.health_check {
        let mut hc = HttpHealthCheck::new(&upstream.servers[0].authority, upstream.tls.is_some());
        let mut peer = templates[0].clone();
        peer.options.connection_timeout = Some(check.timeout);
        peer.options.read_timeout = Some(check.timeout);
        hc.peer_template = peer;
        hc.req.set_uri(
            check
                .path
                .parse()
                .expect("health_check.path was checked to be a path"),
        );
        hc.consecutive_success = check.healthy_after;
        hc.consecutive_failure = check.unhealthy_after;
        backends.set_health_check(Box::new(hc));
    }
    let mut lb = LoadBalancer::<S>::from_backends(backends);
    let names = upstream.servers.iter().any(|s| s.ip().is_none());
    lb.update_frequency = names.then_some(group.resolve_interval);
    lb.health_check_frequency = group.health_check.as_ref().map(|c| c.interval);
    lb.parallel_health_check = true;
    // Resolve now, so the first requests find servers.
    if let Err(error) = crate::startup::block_on(lb.update()) {
        tracing::warn!(upstream = %upstream.url, %error, "upstream servers could not be found");
    }
    let service = background_service(&format!("upstream {}", upstream.url), lb);
    let lb = service.task();
    server.add_service(service);
    lb
}

/// Finds an upstream's server addresses: IP addresses as they are, host names through the
/// resolver. A name that stops resolving keeps its last known addresses.
struct NameDiscovery {
    url: String,
    servers: Vec<UpstreamServer>,
    resolver: Resolver,
    last_known: Mutex<Vec<Vec<SocketAddr>>>,
    index: ServerIndex,
}

#[async_trait]
impl ServiceDiscovery for NameDiscovery {
    async fn discover(&self) -> pingora::Result<(BTreeSet<Backend>, HashMap<u64, bool>)> {
        let mut found = Vec::with_capacity(self.servers.len());
        for server in &self.servers {
            found.push(self.resolver.resolve(&server.host, server.port).await);
        }
        let mut last_known = self.last_known.lock().unwrap_or_else(|e| e.into_inner());
        let mut backends = BTreeSet::new();
        let mut index = HashMap::new();
        for (i, result) in found.into_iter().enumerate() {
            match result {
                Ok(addrs) => last_known[i] = addrs,
                Err(error) => tracing::warn!(
                    upstream = %self.url,
                    host = %self.servers[i].host,
                    %error,
                    kept = last_known[i].len(),
                    "upstream host name did not resolve; keeping its last known addresses"
                ),
            }
            for addr in &last_known[i] {
                index.entry(*addr).or_insert(i);
                backends.insert(Backend {
                    addr: L4Addr::Inet(*addr),
                    weight: 1,
                    ext: Default::default(),
                });
            }
        }
        *self.index.write().unwrap_or_else(|e| e.into_inner()) = index;
        Ok((backends, HashMap::new()))
    }
}

/// The peer for `server` of `upstream`, with a placeholder address.
fn template(
    upstream: &Upstream,
    server: &UpstreamServer,
    config: &Config,
    system_roots: &mut Option<Vec<Vec<u8>>>,
) -> HttpPeer {
    // SECURITY: Pingora skips certificate verification when SNI is empty, so an https://
    // upstream always gets a server name (`server_name`, or the server's host; an IP address
    // is verified against the certificate's IP addresses, and rustls sends no SNI for it).
    let sni = match &upstream.tls {
        Some(tls) => tls
            .server_name
            .clone()
            .unwrap_or_else(|| server.host.clone()),
        None => String::new(),
    };
    let placeholder = SocketAddr::from(([0, 0, 0, 0], server.port));
    let mut peer = HttpPeer::new(placeholder, upstream.tls.is_some(), sni);
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
