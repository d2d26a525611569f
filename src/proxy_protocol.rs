//! The PROXY protocol (v1 and v2, as HAProxy specifies it) on a listener
//! (`server.proxy_protocol`): a load balancer in front sends the client's address ahead of the
//! connection's first byte, and that address replaces the TCP peer's. Parsing is `ppp`'s; this
//! module decides what a header means for Gatehouse.

use std::net::{IpAddr, SocketAddr};

use ppp::{v1, v2, HeaderResult, PartialResult};

/// The longest header read: a v1 line is at most 107 bytes; a v2 header with the TLVs load
/// balancers send (AWS, GCP, Azure) stays far below this.
pub const MAX_HEADER: usize = 4096;

/// What the bytes read so far at the start of a connection say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Header {
    /// Not enough bytes yet to tell.
    Incomplete,
    /// A complete header of `len` bytes. `client`: the client's address, or `None` for a
    /// header that carries none (v1 `UNKNOWN`, v2 `LOCAL`: the balancer's own health check),
    /// in which case the TCP peer stands.
    Complete {
        len: usize,
        client: Option<SocketAddr>,
    },
    /// Not a PROXY header: the connection is refused.
    Invalid(String),
}

/// Reads the header at the start of `bytes`.
pub fn parse(bytes: &[u8]) -> Header {
    let parsed = HeaderResult::parse(bytes);
    if parsed.is_incomplete() {
        return if bytes.len() >= MAX_HEADER {
            Header::Invalid(format!("no PROXY header within {MAX_HEADER} bytes"))
        } else {
            Header::Incomplete
        };
    }
    match parsed {
        HeaderResult::V1(Ok(h)) => Header::Complete {
            len: h.header.len(),
            client: match h.addresses {
                v1::Addresses::Tcp4(a) => {
                    Some((IpAddr::V4(a.source_address), a.source_port).into())
                }
                v1::Addresses::Tcp6(a) => {
                    Some((IpAddr::V6(a.source_address), a.source_port).into())
                }
                v1::Addresses::Unknown => None,
            },
        },
        HeaderResult::V2(Ok(h)) => Header::Complete {
            len: h.len(),
            client: match (h.command, h.addresses) {
                (v2::Command::Proxy, v2::Addresses::IPv4(a)) => {
                    Some((IpAddr::V4(a.source_address), a.source_port).into())
                }
                (v2::Command::Proxy, v2::Addresses::IPv6(a)) => {
                    Some((IpAddr::V6(a.source_address), a.source_port).into())
                }
                _ => None,
            },
        },
        HeaderResult::V1(Err(e)) => Header::Invalid(format!("bad PROXY v1 header: {e}")),
        HeaderResult::V2(Err(e)) => Header::Invalid(format!("bad PROXY v2 header: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V2_SIGNATURE: &[u8] = b"\r\n\r\n\0\r\nQUIT\n";

    fn v2(command: u8, family: u8, address: &[u8]) -> Vec<u8> {
        let mut h = V2_SIGNATURE.to_vec();
        h.push(0x20 | command);
        h.push(family);
        h.extend_from_slice(&(address.len() as u16).to_be_bytes());
        h.extend_from_slice(address);
        h
    }

    #[test]
    fn v1_headers_give_the_client_address_and_their_length() {
        let line = b"PROXY TCP4 203.0.113.7 10.0.0.1 51000 443\r\n";
        let mut bytes = line.to_vec();
        bytes.extend_from_slice(b"GET / HTTP/1.1\r\n");
        assert_eq!(
            parse(&bytes),
            Header::Complete {
                len: line.len(),
                client: Some("203.0.113.7:51000".parse().unwrap())
            }
        );
        assert_eq!(
            parse(b"PROXY TCP6 2001:db8::1 2001:db8::2 51000 443\r\n"),
            Header::Complete {
                len: 46,
                client: Some("[2001:db8::1]:51000".parse().unwrap())
            }
        );
        assert_eq!(
            parse(b"PROXY UNKNOWN\r\n"),
            Header::Complete {
                len: 15,
                client: None
            }
        );
        assert_eq!(parse(b"PROXY TCP4 203.0"), Header::Incomplete);
        assert_eq!(parse(b"PRO"), Header::Incomplete);
    }

    #[test]
    fn v2_headers_give_the_client_address_unless_local() {
        let mut address = vec![203, 0, 113, 7, 10, 0, 0, 1];
        address.extend_from_slice(&51000u16.to_be_bytes());
        address.extend_from_slice(&443u16.to_be_bytes());
        let header = v2(1, 0x11, &address);
        let mut bytes = header.clone();
        bytes.extend_from_slice(b"GET / HTTP/1.1\r\n");
        assert_eq!(
            parse(&bytes),
            Header::Complete {
                len: header.len(),
                client: Some("203.0.113.7:51000".parse().unwrap())
            }
        );
        let local = v2(0, 0x00, &[]);
        assert_eq!(
            parse(&local),
            Header::Complete {
                len: 16,
                client: None
            }
        );
        assert_eq!(parse(&header[..20]), Header::Incomplete);
    }

    #[test]
    fn anything_else_is_refused() {
        assert!(matches!(
            parse(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"),
            Header::Invalid(_)
        ));
        assert!(matches!(
            parse(b"PROXY TCP4 nonsense here x y\r\n"),
            Header::Invalid(_)
        ));
        let mut endless = b"PROXY TCP4 ".to_vec();
        endless.resize(MAX_HEADER, b'1');
        assert!(matches!(parse(&endless), Header::Invalid(_)));
    }
}
