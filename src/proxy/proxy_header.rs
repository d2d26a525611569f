//! Reading the PROXY protocol header (`server.proxy_protocol`) off an accepted connection before
//! anything else, and making its client address the connection's peer address for everything
//! that follows (`Session::client_addr`, so the trusted-proxy walk, rate limits, `bind_ip`,
//! `X-Forwarded-For` and the logs). Parsing is `crate::proxy_protocol`'s.
//!
//! Plain listeners call [`read_header`] when a connection first reaches the app
//! (`HeadDeadlineApp`); TLS listeners through Pingora's pre-TLS hook ([`PreTlsProxyHeader`]),
//! since the header comes before the TLS handshake.

use std::net::IpAddr;
use std::os::unix::io::AsRawFd;
use std::time::Duration;

use async_trait::async_trait;
use ipnet::IpNet;
use pingora::listeners::PreTlsProcess;
use pingora::protocols::l4::socket::SocketAddr as L4Addr;
use pingora::protocols::l4::stream::Stream as L4Stream;
use pingora::protocols::GetSocketDigest;
use pingora::protocols::SocketDigest;
use pingora::{Error, ErrorType, Result};
use tokio::io::AsyncReadExt;

use crate::proxy_protocol::{self, Header};

/// Who may send the header, and how long it may take.
#[derive(Debug, Clone)]
pub(crate) struct ProxyHeaderPolicy {
    /// `proxy.trusted_proxies`: a connection from anyone else is refused.
    pub(crate) senders: Vec<IpNet>,
    /// `server.header_timeout`.
    pub(crate) timeout: Duration,
}

/// Reads the header at the start of `stream`, puts back what follows it, and records the
/// client's address as the peer's. `Err` (the connection is dropped) when the peer may not
/// send one, or what arrives is not a header in time.
pub(crate) async fn read_header(stream: &mut L4Stream, policy: &ProxyHeaderPolicy) -> Result<()> {
    let peer: Option<IpAddr> = stream
        .get_socket_digest()
        .and_then(|d| d.peer_addr().and_then(|a| a.as_inet()).map(|a| a.ip()));
    if !peer.is_some_and(|ip| policy.senders.iter().any(|net| net.contains(&ip))) {
        return Error::e_explain(
            ErrorType::ConnectProxyFailure,
            format!("PROXY header from {peer:?}, which is not in proxy.trusted_proxies"),
        );
    }
    let read = async {
        let mut bytes = Vec::with_capacity(128);
        let mut chunk = [0u8; 512];
        loop {
            let n = stream
                .read(&mut chunk)
                .await
                .map_err(|e| Error::because(ErrorType::ReadError, "reading the PROXY header", e))?;
            if n == 0 {
                return Error::e_explain(
                    ErrorType::ConnectionClosed,
                    "closed before a PROXY header",
                );
            }
            bytes.extend_from_slice(&chunk[..n]);
            match proxy_protocol::parse(&bytes) {
                Header::Incomplete => continue,
                Header::Invalid(why) => return Error::e_explain(ErrorType::InvalidHTTPHeader, why),
                Header::Complete { len, client } => {
                    stream.rewind(&bytes[len..]);
                    return Ok(client);
                }
            }
        }
    };
    let client = tokio::time::timeout(policy.timeout, read)
        .await
        .map_err(|_| Error::explain(ErrorType::ReadTimedout, "PROXY header too slow"))??;
    if let Some(client) = client {
        let digest = SocketDigest::from_raw_fd(stream.as_raw_fd());
        let _ = digest.peer_addr.set(Some(L4Addr::Inet(client)));
        stream.set_socket_digest(digest);
    }
    Ok(())
}

/// [`read_header`] before the TLS handshake.
pub(crate) struct PreTlsProxyHeader(pub(crate) ProxyHeaderPolicy);

#[async_trait]
impl PreTlsProcess for PreTlsProxyHeader {
    async fn process(&self, stream: &mut L4Stream) -> Result<()> {
        read_header(stream, &self.0).await
    }
}
