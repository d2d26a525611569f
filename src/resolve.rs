//! Resolving upstream host names: through the system's resolver (getaddrinfo, so `/etc/hosts`
//! and the usual search domains apply), or through one configured DNS server
//! (`proxy.resolver`, with hickory-resolver).

use std::io;
use std::net::{IpAddr, SocketAddr};

use hickory_resolver::config::{NameServerConfigGroup, ResolverConfig, ResolverOpts};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::TokioResolver;

/// Where host names are looked up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolver {
    System,
    /// A DNS server at this address (UDP, TCP on truncation).
    Server(SocketAddr),
}

impl Resolver {
    /// Every address of `host` (an IP address stands for itself), with `port`.
    pub async fn resolve(&self, host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Ok(vec![SocketAddr::new(ip, port)]);
        }
        let addrs: Vec<SocketAddr> = match self {
            Resolver::System => tokio::net::lookup_host((host, port)).await?.collect(),
            Resolver::Server(server) => {
                // A resolver per lookup: it holds no sockets or tasks between lookups, so it
                // works on whichever runtime calls it (start-up's, then Pingora's), and the
                // re-resolution interval, not a cache, decides how fresh answers are.
                let config = ResolverConfig::from_parts(
                    None,
                    Vec::new(),
                    NameServerConfigGroup::from_ips_clear(&[server.ip()], server.port(), true),
                );
                let mut options = ResolverOpts::default();
                options.cache_size = 0;
                let resolver =
                    TokioResolver::builder_with_config(config, TokioConnectionProvider::default())
                        .with_options(options)
                        .build();
                let fqdn = format!("{}.", host.trim_end_matches('.'));
                resolver
                    .lookup_ip(fqdn.as_str())
                    .await
                    .map_err(|e| io::Error::other(e.to_string()))?
                    .iter()
                    .map(|ip| SocketAddr::new(ip, port))
                    .collect()
            }
        };
        if addrs.is_empty() {
            return Err(io::Error::other(format!("{host} has no addresses")));
        }
        Ok(addrs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_ip_address_needs_no_lookup_and_localhost_resolves() {
        let unreachable = Resolver::Server("127.0.0.1:9".parse().unwrap());
        assert_eq!(
            unreachable.resolve("10.1.2.3", 80).await.unwrap(),
            vec!["10.1.2.3:80".parse::<SocketAddr>().unwrap()]
        );
        assert_eq!(
            unreachable.resolve("::1", 443).await.unwrap(),
            vec!["[::1]:443".parse::<SocketAddr>().unwrap()]
        );
        let local = Resolver::System.resolve("localhost", 8080).await.unwrap();
        assert!(local
            .iter()
            .all(|a| a.ip().is_loopback() && a.port() == 8080));
        assert!(Resolver::System
            .resolve("no-such-host.invalid", 80)
            .await
            .is_err());
    }
}
