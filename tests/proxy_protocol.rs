//! The PROXY protocol on the listener (`server.proxy_protocol`), on real sockets: the client
//! address in a v1 or v2 header becomes the client's (the upstream sees it in
//! `X-Forwarded-For`), on plain and TLS listeners, for every request on the connection; a
//! connection without a header, or from a peer not in `proxy.trusted_proxies`, is dropped
//! unanswered; and the option cannot be turned on without naming the senders.

#![allow(clippy::unwrap_used)]

mod common;

use common::db::Kind;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const ROUTES: &str = r#"
[[routes]]
prefix = "/public"
policy = "public"
"#;

fn config(trusted: &str, extra: &str) -> String {
    format!("[server]\nproxy_protocol = true\n[proxy]\ntrusted_proxies = [\"{trusted}\"]\n{extra}{ROUTES}")
}

const TWO_REQUESTS: &[u8] = b"GET /public/one HTTP/1.1\r\nHost: app.test\r\n\r\n\
GET /public/two HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n";

/// Sends `bytes` on `stream` and reads until the server closes it.
async fn exchange<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    mut stream: S,
    bytes: &[u8],
) -> String {
    stream.write_all(bytes).await.unwrap();
    let mut out = Vec::new();
    let _ = stream.read_to_end(&mut out).await;
    String::from_utf8_lossy(&out).into_owned()
}

fn v2_header(client: [u8; 4], port: u16) -> Vec<u8> {
    let mut h = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
    h.extend_from_slice(&[0x21, 0x11, 0, 12]);
    h.extend_from_slice(&client);
    h.extend_from_slice(&[10, 0, 0, 1]);
    h.extend_from_slice(&port.to_be_bytes());
    h.extend_from_slice(&80u16.to_be_bytes());
    h
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_header_s_client_address_is_the_client_for_every_request_on_the_connection() {
    let (_db, upstream, gateway) = common::stack(Kind::Sqlite, &config("127.0.0.1", ""), &[])
        .await
        .unwrap();
    let mut v1 = b"PROXY TCP4 203.0.113.9 10.0.0.1 5555 80\r\n".to_vec();
    v1.extend_from_slice(TWO_REQUESTS);
    let answer = exchange(TcpStream::connect(gateway.addr).await.unwrap(), &v1).await;
    assert_eq!(answer.matches("HTTP/1.1 200").count(), 2, "{answer}");
    let seen = upstream.seen();
    assert_eq!(seen.len(), 2);
    for s in &seen {
        assert_eq!(s.header("x-forwarded-for"), Some("203.0.113.9"));
    }

    let mut v2 = v2_header([198, 51, 100, 4], 6000);
    v2.extend_from_slice(TWO_REQUESTS);
    let answer = exchange(TcpStream::connect(gateway.addr).await.unwrap(), &v2).await;
    assert_eq!(answer.matches("HTTP/1.1 200").count(), 2, "{answer}");
    assert_eq!(
        upstream.last().header("x-forwarded-for"),
        Some("198.51.100.4")
    );

    // No header: dropped without an answer, nothing forwarded.
    let before = upstream.count();
    let answer = exchange(
        TcpStream::connect(gateway.addr).await.unwrap(),
        TWO_REQUESTS,
    )
    .await;
    assert_eq!(answer, "");
    assert_eq!(upstream.count(), before);
    assert!(gateway
        .log()
        .contains("connection without a valid PROXY header dropped"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_outside_trusted_proxies_cannot_send_a_header() {
    let (_db, upstream, gateway) = common::stack(Kind::Sqlite, &config("10.9.9.9", ""), &[])
        .await
        .unwrap();
    let mut v1 = b"PROXY TCP4 203.0.113.9 10.0.0.1 5555 80\r\n".to_vec();
    v1.extend_from_slice(TWO_REQUESTS);
    let answer = exchange(TcpStream::connect(gateway.addr).await.unwrap(), &v1).await;
    assert_eq!(answer, "");
    assert_eq!(upstream.count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_header_comes_before_the_tls_handshake() {
    let certs = common::tls::make_certs();
    let p = |name: &str| certs.path().join(name).display().to_string();
    let tls = format!(
        "[server.tls]\ncertificates = [{{ cert = \"{}\", key = \"{}\" }}]\n",
        p("a.pem"),
        p("a.key")
    );
    // [server.tls] is a table of [server]: it goes in the server section.
    let config = config("127.0.0.1", "").replacen("[proxy]", &format!("{tls}[proxy]"), 1);
    let (_db, upstream, gateway) = common::stack(Kind::Sqlite, &config, &[]).await.unwrap();

    let mut tcp = TcpStream::connect(gateway.addr).await.unwrap();
    tcp.write_all(&v2_header([192, 0, 2, 77], 7000))
        .await
        .unwrap();
    let stream = common::tls::connect_over(certs.path(), tcp, "a.test").await;
    let answer = exchange(stream, TWO_REQUESTS).await;
    assert_eq!(answer.matches("HTTP/1.1 200").count(), 2, "{answer}");
    assert_eq!(
        upstream.last().header("x-forwarded-for"),
        Some("192.0.2.77")
    );
    assert_eq!(upstream.last().header("x-forwarded-proto"), Some("https"));
}

#[test]
fn proxy_protocol_needs_its_senders_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gatehouse.toml");
    std::fs::write(&path, "[server]\nproxy_protocol = true\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(["check", "--config"])
        .arg(&path)
        .env_clear()
        .env("BETTER_AUTH_SECRET", common::SECRET)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("server.proxy_protocol") && err.contains("trusted_proxies"),
        "{err}"
    );
}
