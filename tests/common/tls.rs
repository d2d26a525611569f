//! Test certificates (`tests/tls/make-certs.sh`) and a raw TLS client that trusts their CA.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use tokio_rustls::rustls;

/// A fresh set of test certificates in a temporary directory.
pub fn make_certs() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let status = std::process::Command::new("bash")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/tls/make-certs.sh"
        ))
        .arg(dir.path())
        .status()
        .unwrap();
    assert!(status.success(), "make-certs.sh failed");
    dir
}

/// A TLS connection over `tcp` for `name`, trusting the test CA in `certs`, offering no ALPN
/// (HTTP/1.1).
pub async fn connect_over(
    certs: &Path,
    tcp: tokio::net::TcpStream,
    name: &str,
) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls::pki_types::CertificateDer::from_pem_file(certs.join("ca.pem")).unwrap())
        .unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name.to_string().try_into().unwrap(), tcp)
        .await
        .unwrap()
}

/// [`connect_over`] a new connection to `addr`.
pub async fn connect(
    certs: &Path,
    addr: SocketAddr,
    name: &str,
) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    connect_over(
        certs,
        tokio::net::TcpStream::connect(addr).await.unwrap(),
        name,
    )
    .await
}
