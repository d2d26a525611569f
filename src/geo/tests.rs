//! Tests for `geo`: labelling, the HTTP providers against a real local server, and the MaxMind
//! provider against the small databases in `tests/fixtures/geo/`.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use super::*;
use crate::config::{parse_toml, Config, MapEnv, Secret};

type Answer = Arc<dyn Fn(&str) -> (u16, String) + Send + Sync>;

/// A fake provider on 127.0.0.1: answers each request with `answer(path_and_query)` after
/// `delay`, and records every request's path and query.
struct FakeServer {
    addr: SocketAddr,
    scheme: &'static str,
    seen: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl FakeServer {
    async fn start(
        delay: Duration,
        answer: impl Fn(&str) -> (u16, String) + Send + Sync + 'static,
    ) -> Self {
        Self::start_with(delay, answer, None).await
    }

    /// The same over HTTPS, with the certificate for 127.0.0.1 that `tests/fixtures/tls/`'s test
    /// CA signed.
    async fn start_tls(answer: impl Fn(&str) -> (u16, String) + Send + Sync + 'static) -> Self {
        use tokio_rustls::rustls::pki_types::pem::PemObject;
        use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
        use tokio_rustls::rustls::{crypto, ServerConfig};
        let cert = CertificateDer::from_pem_file(tls_fixture("localhost.pem")).unwrap();
        let key = PrivateKeyDer::from_pem_file(tls_fixture("localhost.key")).unwrap();
        let config =
            ServerConfig::builder_with_provider(Arc::new(crypto::aws_lc_rs::default_provider()))
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_no_client_auth()
                .with_single_cert(vec![cert], key)
                .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        Self::start_with(Duration::ZERO, answer, Some(acceptor)).await
    }

    async fn start_with(
        delay: Duration,
        answer: impl Fn(&str) -> (u16, String) + Send + Sync + 'static,
        tls: Option<tokio_rustls::TlsAcceptor>,
    ) -> Self {
        let answer: Answer = Arc::new(answer);
        let scheme = if tls.is_some() { "https" } else { "http" };
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let log = log.clone();
                let answer = answer.clone();
                let tls = tls.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                        let log = log.clone();
                        let answer = answer.clone();
                        async move {
                            let target = req
                                .uri()
                                .path_and_query()
                                .map(|p| p.as_str().to_string())
                                .unwrap_or_default();
                            log.lock().unwrap().push(target.clone());
                            tokio::time::sleep(delay).await;
                            let (status, body) = answer(&target);
                            let response = Response::builder()
                                .status(status)
                                .header("content-type", "application/json")
                                .body(Full::new(Bytes::from(body)))
                                .unwrap();
                            Ok::<_, Infallible>(response)
                        }
                    });
                    let http = hyper::server::conn::http1::Builder::new();
                    let _ = match tls {
                        None => http.serve_connection(TokioIo::new(stream), service).await,
                        Some(tls) => match tls.accept(stream).await {
                            Ok(stream) => {
                                http.serve_connection(TokioIo::new(stream), service).await
                            }
                            Err(_) => return,
                        },
                    };
                });
            }
        });
        Self {
            addr,
            scheme,
            seen,
            task,
        }
    }

    fn url(&self) -> String {
        format!("{}://{}", self.scheme, self.addr)
    }

    fn count(&self) -> usize {
        self.seen.lock().unwrap().len()
    }

    fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn config(provider: GeoProvider) -> GeoConfig {
    GeoConfig {
        provider,
        ca_file: None,
        timeout: Duration::from_secs(2),
        cache_ttl: Duration::from_secs(3600),
        cache_max: 1000,
    }
}

fn ipinfo(server: &FakeServer, lookup: bool, token: Option<&str>) -> GeoConfig {
    config(GeoProvider::Ipinfo {
        lookup,
        token: token.map(secret),
        base_url: server.url(),
    })
}

fn ipapi(server: &FakeServer) -> GeoConfig {
    config(GeoProvider::IpApi {
        base_url: server.url(),
    })
}

/// A [`Secret`] made the only way outside `config`: by loading a configuration.
fn secret(value: &str) -> Secret {
    let file = parse_toml("[geo]\nprovider = \"ipinfo\"\n").unwrap();
    let env = MapEnv::from_pairs(&[
        ("BETTER_AUTH_SECRET", "test-secret-test-secret-test-secret"),
        ("GATEHOUSE_GEO_TOKEN", value),
    ]);
    match Config::from_file(file, &env).unwrap().geo.provider {
        GeoProvider::Ipinfo {
            token: Some(token), ..
        } => token,
        other => panic!("{other:?}"),
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/geo/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn mmdb(name: &str) -> Geo {
    Geo::new(&config(GeoProvider::Mmdb {
        path: fixture(name),
    }))
    .unwrap()
}

const LITE_US: &str = r#"{"ip":"8.8.8.8","asn":"AS15169","as_name":"Google LLC","as_domain":"google.com","country_code":"US","country":"United States","continent_code":"NA","continent":"North America"}"#;

const LOOKUP_FLAT: &str = r#"{"ip":"8.8.8.8","hostname":"dns.google","city":"Mountain View","region":"California","country":"US","loc":"37.4056,-122.0775","org":"AS15169 Google LLC","postal":"94043","timezone":"America/Los_Angeles"}"#;

const LOOKUP_NESTED: &str = r#"{"ip":"8.8.8.8","hostname":"dns.google","geo":{"city":"Mountain View","region":"California","region_code":"CA","country":"United States","country_code":"US","continent":"North America","continent_code":"NA","latitude":37.4056,"longitude":-122.0775,"timezone":"America/Los_Angeles","postal_code":"94043"},"as":{"asn":"AS15169","name":"Google LLC","domain":"google.com","type":"hosting"},"is_anycast":true}"#;

const IPAPI_OK: &str = r#"{"status":"success","country":"United Kingdom","countryCode":"GB","regionName":"England","city":"London"}"#;

const IPAPI_FAIL: &str = r#"{"status":"fail","message":"reserved range"}"#;

// ---- flag_emoji, labels, parsing ----

#[test]
fn flag_emoji_from_two_letters() {
    assert_eq!(flag_emoji("US").as_deref(), Some("🇺🇸"));
    assert_eq!(flag_emoji("gb").as_deref(), Some("🇬🇧"));
    assert_eq!(flag_emoji("Se").as_deref(), Some("🇸🇪"));
    assert_eq!(flag_emoji("US").unwrap().chars().count(), 2);
    for bad in ["", "U", "USA", "U1", "1U", "  ", "ÜS", "é"] {
        assert_eq!(flag_emoji(bad), None, "{bad:?}");
    }
}

#[test]
fn location_serializes_camel_case_and_lowercase_kind() {
    let location = Place {
        city: Some("London".into()),
        region: Some("England".into()),
        country: Some("United Kingdom".into()),
        country_code: Some("gb".into()),
    }
    .into_location(ip("81.2.69.1"));
    let json = serde_json::to_value(&location).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "ip": "81.2.69.1",
            "kind": "public",
            "city": "London",
            "region": "England",
            "country": "United Kingdom",
            "countryCode": "GB",
            "flag": "🇬🇧",
        })
    );
    let unknown = serde_json::to_value(Location::bare(ip("::1"), LocationKind::Loopback)).unwrap();
    assert_eq!(unknown["kind"], "loopback");
    assert_eq!(unknown["city"], serde_json::Value::Null);
}

#[test]
fn an_empty_place_is_unknown() {
    let place = Place {
        city: Some("  ".into()),
        ..Place::default()
    };
    assert_eq!(
        place.into_location(ip("8.8.8.8")).kind,
        LocationKind::Unknown
    );
}

#[tokio::test]
async fn private_and_loopback_are_labelled_without_a_request() {
    let server = FakeServer::start(Duration::ZERO, |_| (200, LITE_US.into())).await;
    let geo = Geo::new(&ipinfo(&server, false, Some("t"))).unwrap();
    let cases = [
        ("10.1.2.3", LocationKind::Private),
        ("172.16.0.1", LocationKind::Private),
        ("172.31.255.255", LocationKind::Private),
        ("192.168.1.1", LocationKind::Private),
        ("100.64.0.1", LocationKind::Private),
        ("100.127.255.254", LocationKind::Private),
        ("169.254.10.20", LocationKind::Private),
        ("fd12:3456::1", LocationKind::Private),
        ("fc00::1", LocationKind::Private),
        ("fe80::1", LocationKind::Private),
        ("127.0.0.1", LocationKind::Loopback),
        ("127.8.9.10", LocationKind::Loopback),
        ("::1", LocationKind::Loopback),
        ("0.0.0.0", LocationKind::Unknown),
        ("::", LocationKind::Unknown),
        ("224.0.0.1", LocationKind::Unknown),
        ("255.255.255.255", LocationKind::Unknown),
        ("192.0.2.1", LocationKind::Unknown),
        ("2001:db8::1", LocationKind::Unknown),
        ("ff02::1", LocationKind::Unknown),
    ];
    for (addr, kind) in cases {
        let location = geo.locate(ip(addr)).await;
        assert_eq!(location.kind, kind, "{addr}");
        assert_eq!(location.ip, ip(addr).to_string());
        assert_eq!(location.country_code, None);
        assert_eq!(location.flag, None);
        // Known without a lookup, so `cached` has it too.
        assert_eq!(geo.cached(ip(addr)), Some(location));
    }
    assert_eq!(server.count(), 0, "{:?}", server.seen());
    // Just outside the private ranges: looked up.
    for addr in ["172.32.0.1", "100.128.0.1", "11.0.0.1"] {
        assert_eq!(
            geo.locate(ip(addr)).await.kind,
            LocationKind::Public,
            "{addr}"
        );
    }
    assert_eq!(server.count(), 3);
}

#[tokio::test]
async fn ipv4_mapped_is_its_ipv4() {
    let server = FakeServer::start(Duration::ZERO, |_| (200, LITE_US.into())).await;
    let geo = Geo::new(&ipinfo(&server, false, None)).unwrap();

    let private = geo.locate(ip("::ffff:10.0.0.1")).await;
    assert_eq!(private.kind, LocationKind::Private);
    assert_eq!(private.ip, "10.0.0.1");
    assert_eq!(
        geo.locate(ip("::ffff:127.0.0.1")).await.kind,
        LocationKind::Loopback
    );
    assert_eq!(server.count(), 0);

    let mapped = geo.locate(ip("::ffff:8.8.8.8")).await;
    assert_eq!(mapped.ip, "8.8.8.8");
    assert_eq!(mapped.kind, LocationKind::Public);
    assert_eq!(server.seen(), ["/lite/8.8.8.8"]);
    // Same cache entry as the plain IPv4 address.
    assert_eq!(geo.locate(ip("8.8.8.8")).await, mapped);
    assert_eq!(geo.cached(ip("::ffff:8.8.8.8")), Some(mapped));
    assert_eq!(server.count(), 1);
}

#[tokio::test]
async fn locate_str_parses_or_refuses() {
    let geo = Geo::new(&config(GeoProvider::None)).unwrap();
    assert_eq!(
        geo.locate_str(" 127.0.0.1 ").await.unwrap().kind,
        LocationKind::Loopback
    );
    assert_eq!(
        geo.locate_str("[::1]").await.unwrap().kind,
        LocationKind::Loopback
    );
    assert_eq!(
        geo.locate_str("::ffff:192.168.0.1").await.unwrap().ip,
        "192.168.0.1"
    );
    for bad in [
        "",
        "   ",
        "not-an-ip",
        "1.2.3",
        "1.2.3.4.5",
        "256.1.1.1",
        "[::1",
        "::g",
    ] {
        let err = geo.locate_str(bad).await.unwrap_err();
        assert_eq!(err.input, bad);
        assert!(err.to_string().contains("is not an IP address"));
    }
    let long = "x".repeat(500);
    assert_eq!(geo.locate_str(&long).await.unwrap_err().input.len(), 64);
}

#[tokio::test]
async fn no_provider_is_unknown_for_public_addresses() {
    let geo = Geo::new(&config(GeoProvider::None)).unwrap();
    let location = geo.locate(ip("8.8.8.8")).await;
    assert_eq!(
        location,
        Location::bare(ip("8.8.8.8"), LocationKind::Unknown)
    );
    assert_eq!(geo.cached(ip("8.8.8.8")), Some(location));
    assert_eq!(geo.locate(ip("10.0.0.1")).await.kind, LocationKind::Private);
}

// ---- ipinfo ----

fn tls_fixture(name: &str) -> String {
    format!("{}/tests/fixtures/tls/{name}", env!("CARGO_MANIFEST_DIR"))
}

#[tokio::test]
async fn https_providers_are_verified_against_the_roots() {
    let server = FakeServer::start_tls(|_| (200, LITE_US.into())).await;
    assert!(server.url().starts_with("https://"));

    let trusting = GeoConfig {
        ca_file: Some(tls_fixture("test-ca.pem")),
        ..ipinfo(&server, false, Some("tok"))
    };
    let geo = Geo::new(&trusting).unwrap();
    let location = geo.locate(ip("8.8.8.8")).await;
    assert_eq!(location.country_code.as_deref(), Some("US"), "{location:?}");
    assert_eq!(server.seen(), ["/lite/8.8.8.8?token=tok"]);

    // Without the test CA the certificate is not trusted: no request is made, the token is
    // never sent, and the location is unknown.
    let geo = Geo::new(&ipinfo(&server, false, Some("tok2"))).unwrap();
    assert_eq!(geo.locate(ip("8.8.4.4")).await.kind, LocationKind::Unknown);
    assert_eq!(
        server.count(),
        1,
        "the TLS handshake failed before any request"
    );
}

#[test]
fn an_unusable_ca_file_is_an_error_naming_it() {
    let config = GeoConfig {
        ca_file: Some("/nonexistent/ca.pem".into()),
        ..config(GeoProvider::IpApi {
            base_url: "https://pro.ip-api.com".into(),
        })
    };
    let Err(error) = Geo::new(&config) else {
        panic!("a missing ca_file was accepted");
    };
    assert!(error.to_string().contains("/nonexistent/ca.pem"), "{error}");
}

#[tokio::test]
async fn ipinfo_lite_maps_country_and_caches() {
    let server = FakeServer::start(Duration::ZERO, |_| (200, LITE_US.into())).await;
    let geo = Geo::new(&ipinfo(&server, false, Some("s3cr&t"))).unwrap();
    assert_eq!(geo.cached(ip("8.8.8.8")), None);

    let location = geo.locate(ip("8.8.8.8")).await;
    assert_eq!(
        location,
        Location {
            ip: "8.8.8.8".into(),
            kind: LocationKind::Public,
            city: None,
            region: None,
            country: Some("United States".into()),
            country_code: Some("US".into()),
            flag: Some("🇺🇸".into()),
        }
    );
    // The token is form-encoded into the query.
    assert_eq!(server.seen(), ["/lite/8.8.8.8?token=s3cr%26t"]);

    assert_eq!(geo.locate(ip("8.8.8.8")).await, location);
    assert_eq!(geo.cached(ip("8.8.8.8")), Some(location));
    assert_eq!(
        server.count(),
        1,
        "the second locate is answered from the cache"
    );
}

#[tokio::test]
async fn ipinfo_lookup_flat_shape_without_token() {
    let server = FakeServer::start(Duration::ZERO, |_| (200, LOOKUP_FLAT.into())).await;
    let geo = Geo::new(&ipinfo(&server, true, None)).unwrap();
    let location = geo.locate(ip("8.8.8.8")).await;
    assert_eq!(
        location,
        Location {
            ip: "8.8.8.8".into(),
            kind: LocationKind::Public,
            city: Some("Mountain View".into()),
            region: Some("California".into()),
            country: None,
            country_code: Some("US".into()),
            flag: Some("🇺🇸".into()),
        }
    );
    assert_eq!(server.seen(), ["/lookup/8.8.8.8"], "no token, no query");
    geo.locate(ip("8.8.8.8")).await;
    assert_eq!(server.count(), 1);
}

#[tokio::test]
async fn ipinfo_lookup_nested_shape_and_ipv6_path() {
    let server = FakeServer::start(Duration::ZERO, |_| (200, LOOKUP_NESTED.into())).await;
    let geo = Geo::new(&ipinfo(&server, true, Some("abc123"))).unwrap();
    let location = geo.locate(ip("2001:4860:4860::8888")).await;
    assert_eq!(location.ip, "2001:4860:4860::8888");
    assert_eq!(location.kind, LocationKind::Public);
    assert_eq!(location.city.as_deref(), Some("Mountain View"));
    assert_eq!(location.region.as_deref(), Some("California"));
    assert_eq!(location.country.as_deref(), Some("United States"));
    assert_eq!(location.country_code.as_deref(), Some("US"));
    assert_eq!(location.flag.as_deref(), Some("🇺🇸"));
    assert_eq!(server.seen(), ["/lookup/2001:4860:4860::8888?token=abc123"]);
}

#[tokio::test]
async fn ipinfo_under_a_base_path() {
    let server = FakeServer::start(Duration::ZERO, |_| (200, LITE_US.into())).await;
    let geo = Geo::new(&config(GeoProvider::Ipinfo {
        lookup: false,
        token: None,
        base_url: format!("{}/geo/v1", server.url()),
    }))
    .unwrap();
    assert_eq!(geo.locate(ip("8.8.8.8")).await.kind, LocationKind::Public);
    assert_eq!(server.seen(), ["/geo/v1/lite/8.8.8.8"]);
}

#[tokio::test]
async fn ipinfo_bogon_and_empty_answers_are_unknown() {
    let server = FakeServer::start(Duration::ZERO, |path| {
        if path.contains("8.8.4.4") {
            (200, r#"{"ip":"8.8.4.4"}"#.into())
        } else {
            (200, r#"{"ip":"8.8.8.8","bogon":true}"#.into())
        }
    })
    .await;
    let geo = Geo::new(&ipinfo(&server, true, None)).unwrap();
    assert_eq!(geo.locate(ip("8.8.8.8")).await.kind, LocationKind::Unknown);
    assert_eq!(geo.locate(ip("8.8.4.4")).await.kind, LocationKind::Unknown);
}

#[tokio::test]
async fn errors_and_bad_answers_are_unknown() {
    let server = FakeServer::start(Duration::ZERO, |path| {
        if path.contains("/1.1.1.1") {
            (500, r#"{"error":"boom"}"#.into())
        } else if path.contains("/1.0.0.1") {
            (403, r#"{"error":{"title":"Unknown token"}}"#.into())
        } else if path.contains("/9.9.9.9") {
            (200, "<html>not json</html>".into())
        } else if path.contains("/8.8.4.4") {
            (302, String::new())
        } else {
            (200, "x".repeat(100 * 1024))
        }
    })
    .await;
    let geo = Geo::new(&ipinfo(&server, false, Some("t"))).unwrap();
    for addr in ["1.1.1.1", "1.0.0.1", "9.9.9.9", "8.8.4.4", "4.4.4.4"] {
        let location = geo.locate(ip(addr)).await;
        assert_eq!(
            location,
            Location::bare(ip(addr), LocationKind::Unknown),
            "{addr}"
        );
    }
    // Unknown answers are cached too (briefly).
    assert_eq!(server.count(), 5);
    geo.locate(ip("1.1.1.1")).await;
    assert_eq!(server.count(), 5);
    assert_eq!(
        geo.cached(ip("1.1.1.1")).map(|l| l.kind),
        Some(LocationKind::Unknown)
    );
}

#[tokio::test]
async fn a_refused_connection_is_unknown() {
    // Bind, learn the port, close: nothing listens there.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let geo = Geo::new(&config(GeoProvider::IpApi {
        base_url: format!("http://{addr}"),
    }))
    .unwrap();
    assert_eq!(geo.locate(ip("8.8.8.8")).await.kind, LocationKind::Unknown);
}

#[tokio::test]
async fn a_slow_provider_is_unknown_within_the_timeout() {
    let server = FakeServer::start(Duration::from_secs(3), |_| (200, LITE_US.into())).await;
    let mut cfg = ipinfo(&server, false, None);
    cfg.timeout = Duration::from_millis(200);
    let geo = Geo::new(&cfg).unwrap();
    let started = Instant::now();
    let location = geo.locate(ip("8.8.8.8")).await;
    let took = started.elapsed();
    assert_eq!(location.kind, LocationKind::Unknown);
    assert!(took >= Duration::from_millis(150), "{took:?}");
    assert!(took < Duration::from_millis(1500), "{took:?}");
    assert_eq!(server.count(), 1);
}

#[tokio::test]
async fn an_outage_heals_once_the_unknown_answer_expires() {
    let healthy = Arc::new(AtomicBool::new(false));
    let up = healthy.clone();
    let server = FakeServer::start(Duration::ZERO, move |_| {
        if up.load(Ordering::SeqCst) {
            (200, LITE_US.into())
        } else {
            (503, String::new())
        }
    })
    .await;
    let mut cfg = ipinfo(&server, false, None);
    // Unknown answers live min(cache_ttl, 60 s): 300 ms here.
    cfg.cache_ttl = Duration::from_millis(300);
    let geo = Geo::new(&cfg).unwrap();
    assert_eq!(geo.locate(ip("8.8.8.8")).await.kind, LocationKind::Unknown);
    healthy.store(true, Ordering::SeqCst);
    assert_eq!(geo.locate(ip("8.8.8.8")).await.kind, LocationKind::Unknown);
    assert_eq!(server.count(), 1);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(geo.cached(ip("8.8.8.8")), None);
    assert_eq!(geo.locate(ip("8.8.8.8")).await.kind, LocationKind::Public);
    assert_eq!(server.count(), 2);
}

#[tokio::test]
async fn unknown_answers_expire_sooner_than_locations() {
    let server = FakeServer::start(Duration::ZERO, |path| {
        if path.contains("/1.1.1.1") {
            (500, String::new())
        } else {
            (200, LITE_US.into())
        }
    })
    .await;
    let mut cfg = ipinfo(&server, false, None);
    cfg.cache_ttl = Duration::from_secs(3600);
    let geo = Geo::new(&cfg).unwrap();
    geo.locate(ip("1.1.1.1")).await;
    geo.locate(ip("8.8.8.8")).await;
    let expiry = SlotExpiry {
        ttl: cfg.cache_ttl,
        unknown_ttl: cfg.cache_ttl.min(UNKNOWN_TTL),
    };
    let slot = |addr: &str| geo.inner.cache.get(&ip(addr)).unwrap();
    assert_eq!(expiry.of(&slot("1.1.1.1")), Duration::from_secs(60));
    assert_eq!(expiry.of(&slot("8.8.8.8")), Duration::from_secs(3600));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_locates_share_one_request() {
    let server = FakeServer::start(Duration::from_millis(200), |_| (200, LITE_US.into())).await;
    let geo = Geo::new(&ipinfo(&server, false, Some("t"))).unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let geo = geo.clone();
        tasks.spawn(async move { geo.locate(ip("8.8.8.8")).await });
    }
    let mut answers = Vec::new();
    while let Some(answer) = tasks.join_next().await {
        answers.push(answer.unwrap());
    }
    assert_eq!(answers.len(), 20);
    assert!(answers
        .iter()
        .all(|a| a.kind == LocationKind::Public && a.country_code.as_deref() == Some("US")));
    assert_eq!(server.count(), 1, "{:?}", server.seen());
}

#[tokio::test]
async fn a_cancelled_lookup_is_taken_over() {
    let server = FakeServer::start(Duration::from_millis(300), |_| (200, LITE_US.into())).await;
    let geo = Geo::new(&ipinfo(&server, false, None)).unwrap();
    // The first caller gives up before the answer comes.
    let gave_up = tokio::time::timeout(Duration::from_millis(50), geo.locate(ip("8.8.8.8"))).await;
    assert!(gave_up.is_err());
    assert_eq!(geo.cached(ip("8.8.8.8")), None);
    assert_eq!(geo.locate(ip("8.8.8.8")).await.kind, LocationKind::Public);
    assert_eq!(
        geo.cached(ip("8.8.8.8")).map(|l| l.kind),
        Some(LocationKind::Public)
    );
}

// ---- ip-api ----

#[tokio::test]
async fn ipapi_success_maps_everything() {
    let server = FakeServer::start(Duration::ZERO, |_| (200, IPAPI_OK.into())).await;
    let geo = Geo::new(&ipapi(&server)).unwrap();
    let location = geo.locate(ip("81.2.69.160")).await;
    assert_eq!(
        location,
        Location {
            ip: "81.2.69.160".into(),
            kind: LocationKind::Public,
            city: Some("London".into()),
            region: Some("England".into()),
            country: Some("United Kingdom".into()),
            country_code: Some("GB".into()),
            flag: Some("🇬🇧".into()),
        }
    );
    assert_eq!(
        server.seen(),
        ["/json/81.2.69.160?fields=status,message,country,countryCode,regionName,city"]
    );
    geo.locate(ip("81.2.69.160")).await;
    assert_eq!(server.count(), 1);
}

#[tokio::test]
async fn ipapi_fail_is_unknown() {
    let server = FakeServer::start(Duration::ZERO, |path| {
        if path.contains("/8.8.8.8") {
            (200, IPAPI_FAIL.into())
        } else {
            (200, r#"{"country":"Nowhere"}"#.into())
        }
    })
    .await;
    let geo = Geo::new(&ipapi(&server)).unwrap();
    assert_eq!(geo.locate(ip("8.8.8.8")).await.kind, LocationKind::Unknown);
    // No "status":"success": not trusted.
    assert_eq!(geo.locate(ip("8.8.4.4")).await.kind, LocationKind::Unknown);
}

#[tokio::test]
async fn ipapi_500_is_unknown() {
    let server = FakeServer::start(Duration::ZERO, |_| (500, "oops".into())).await;
    let geo = Geo::new(&ipapi(&server)).unwrap();
    assert_eq!(geo.locate(ip("8.8.8.8")).await.kind, LocationKind::Unknown);
}

#[test]
fn unusable_base_urls_are_refused() {
    for url in ["not a url", "ftp://example.test", "mailto:x@example.test"] {
        let err = Geo::new(&config(GeoProvider::IpApi {
            base_url: url.to_string(),
        }))
        .unwrap_err();
        assert!(matches!(err, GeoError::BaseUrl { .. }), "{url}: {err}");
        assert!(err.to_string().contains(url), "{err}");
    }
}

#[test]
fn debug_shows_no_token() {
    let geo = Geo::new(&config(GeoProvider::Ipinfo {
        lookup: true,
        token: Some(secret("very-secret")),
        base_url: "http://127.0.0.1:9".into(),
    }))
    .unwrap();
    let shown = format!("{geo:?}");
    assert!(shown.contains("ipinfo-lookup"), "{shown}");
    assert!(!shown.contains("very-secret"), "{shown}");
}

// ---- mmdb ----

#[tokio::test]
async fn mmdb_city_records() {
    let geo = mmdb("test-city.mmdb");

    let london = geo.locate(ip("81.2.69.160")).await;
    assert_eq!(
        london,
        Location {
            ip: "81.2.69.160".into(),
            kind: LocationKind::Public,
            city: Some("London".into()),
            region: None,
            country: Some("United Kingdom".into()),
            country_code: Some("GB".into()),
            flag: Some("🇬🇧".into()),
        }
    );

    let boxford = geo.locate(ip("2.125.160.216")).await;
    assert_eq!(boxford.city.as_deref(), Some("Boxford"));
    assert_eq!(
        boxford.region.as_deref(),
        Some("England"),
        "the first subdivision"
    );
    assert_eq!(boxford.country_code.as_deref(), Some("GB"));

    let linkoping = geo.locate(ip("89.160.20.128")).await;
    assert_eq!(linkoping.city.as_deref(), Some("Linköping"));
    assert_eq!(linkoping.region.as_deref(), Some("Östergötland County"));
    assert_eq!(linkoping.country.as_deref(), Some("Sweden"));
    assert_eq!(linkoping.flag.as_deref(), Some("🇸🇪"));

    let v6 = geo.locate(ip("2001:470:1:2::abcd")).await;
    assert_eq!(v6.city.as_deref(), Some("Linköping"));

    let mapped = geo.locate(ip("::ffff:81.2.69.1")).await;
    assert_eq!(mapped.ip, "81.2.69.1");
    assert_eq!(mapped.city.as_deref(), Some("London"));
}

#[tokio::test]
async fn mmdb_country_only_record() {
    let geo = mmdb("test-city.mmdb");
    let bhutan = geo.locate(ip("67.43.156.7")).await;
    assert_eq!(
        bhutan,
        Location {
            ip: "67.43.156.7".into(),
            kind: LocationKind::Public,
            city: None,
            region: None,
            country: Some("Bhutan".into()),
            country_code: Some("BT".into()),
            flag: Some("🇧🇹".into()),
        }
    );
}

#[tokio::test]
async fn mmdb_country_database() {
    let geo = mmdb("test-country.mmdb");
    let sweden = geo.locate(ip("89.160.20.1")).await;
    assert_eq!(sweden.kind, LocationKind::Public);
    assert_eq!(sweden.city, None);
    assert_eq!(sweden.country.as_deref(), Some("Sweden"));
    assert_eq!(sweden.country_code.as_deref(), Some("SE"));
    assert_eq!(geo.locate(ip("8.8.8.8")).await.kind, LocationKind::Unknown);
    // An IPv6 address in an IPv4-only database: unknown, not a panic.
    assert_eq!(
        geo.locate(ip("2001:470:1:2::1")).await.kind,
        LocationKind::Unknown
    );
}

#[tokio::test]
async fn mmdb_address_outside_the_database_is_unknown() {
    let geo = mmdb("test-city.mmdb");
    for addr in ["8.8.8.8", "81.2.70.1", "2606:4700::1111"] {
        assert_eq!(
            geo.locate(ip(addr)).await,
            Location::bare(ip(addr), LocationKind::Unknown),
            "{addr}"
        );
    }
}

#[test]
fn mmdb_missing_file_names_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nope.mmdb").display().to_string();
    let err = Geo::new(&config(GeoProvider::Mmdb { path: path.clone() })).unwrap_err();
    assert!(matches!(err, GeoError::Mmdb { .. }));
    assert!(err.to_string().contains(&path), "{err}");
}

#[test]
fn mmdb_garbage_file_names_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("garbage.mmdb");
    std::fs::write(&path, b"this is not a MaxMind database").unwrap();
    let path = path.display().to_string();
    let err = Geo::new(&config(GeoProvider::Mmdb { path: path.clone() })).unwrap_err();
    assert!(err.to_string().contains(&path), "{err}");
}

#[test]
fn fixtures_stay_small() {
    for name in ["test-city.mmdb", "test-country.mmdb"] {
        let size = std::fs::metadata(fixture(name)).unwrap().len();
        assert!(size < 10 * 1024, "{name} is {size} bytes");
    }
}
