//! Gatehouse as an edge, on real sockets: CORS (preflights on protected routes reach the
//! upstream without a session check, since browsers never send credentials on them, unless the
//! route says otherwise; Gatehouse's own session endpoints answer their preflights and allow
//! trusted origins, with credentials), a warning when an undeclared proxy stands in front, and
//! the W3C trace context carried to the upstream.

#![allow(clippy::unwrap_used)]

mod common;

use common::db::Kind;
use common::{client, random_token, session_cookie};
use opentelemetry_proto::tonic::trace::v1::Span;

const CONFIG: &str = r#"
[better_auth]
trusted_origins = ["https://app.example.com"]

[[routes]]
prefix = "/strict"
forward_preflights = false
"#;

const TRUSTED: &str = "https://app.example.com";

fn preflight(url: String, origin: &str) -> reqwest::RequestBuilder {
    client()
        .request(reqwest::Method::OPTIONS, url)
        .header("origin", origin)
        .header("access-control-request-method", "GET")
        .header("access-control-request-headers", "content-type, x-app")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preflights_reach_the_upstream_without_a_session_check() {
    let (_db, upstream, gateway) = common::stack(Kind::Sqlite, CONFIG, &[]).await.unwrap();
    let response = preflight(gateway.url("/orders"), TRUSTED)
        .header("x-auth-user-id", "forged")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "the upstream's answer, not a 401");
    let seen = upstream.last();
    assert_eq!(
        (seen.method.as_str(), seen.path.as_str()),
        ("OPTIONS", "/orders")
    );
    assert_eq!(
        seen.header("x-auth-user-id"),
        None,
        "no identity, forged or real"
    );

    // An OPTIONS that is not a preflight, and a preflight on a route that keeps the check.
    let before = upstream.count();
    let plain = client()
        .request(reqwest::Method::OPTIONS, gateway.url("/orders"))
        .send()
        .await
        .unwrap();
    assert_eq!(plain.status(), 401);
    let strict = preflight(gateway.url("/strict/x"), TRUSTED)
        .send()
        .await
        .unwrap();
    assert_eq!(strict.status(), 401);
    assert_eq!(upstream.count(), before, "neither reached the upstream");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_endpoints_allow_trusted_origins_with_credentials() {
    let (db, upstream, gateway) = common::stack(Kind::Sqlite, CONFIG, &[]).await.unwrap();
    let url = gateway.url("/api/auth/get-session");
    let allowed = preflight(url.clone(), TRUSTED).send().await.unwrap();
    assert_eq!(allowed.status(), 204);
    let h = allowed.headers();
    assert_eq!(h["access-control-allow-origin"], TRUSTED);
    assert_eq!(h["access-control-allow-credentials"], "true");
    assert_eq!(h["access-control-allow-methods"], "GET");
    assert_eq!(h["access-control-allow-headers"], "content-type, x-app");
    let refused = preflight(url.clone(), "https://evil.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 204);
    assert!(refused
        .headers()
        .get("access-control-allow-origin")
        .is_none());
    assert!(refused
        .headers()
        .get("access-control-allow-credentials")
        .is_none());
    assert_eq!(upstream.count(), 0, "Gatehouse answered both");

    // The credentialed request itself.
    let token = random_token();
    db.seed(&token, 3600).await;
    let answer = client()
        .get(&url)
        .header("origin", TRUSTED)
        .header("cookie", session_cookie(&token))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.headers()["access-control-allow-origin"], TRUSTED);
    assert_eq!(answer.headers()["access-control-allow-credentials"], "true");
    assert!(answer.text().await.unwrap().contains("\"session\""));
    let untrusted = client()
        .get(&url)
        .header("origin", "https://evil.example.com")
        .header("cookie", session_cookie(&token))
        .send()
        .await
        .unwrap();
    assert!(untrusted
        .headers()
        .get("access-control-allow-origin")
        .is_none());
}

/// Requests that arrive through an undeclared proxy (X-Forwarded-For from a loopback peer, no
/// `proxy.trusted_proxies`) get one warning in the log, naming the setting to fix; with the
/// proxy declared, none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undeclared_proxy_in_front_is_warned_about_once() {
    const WARNING: &str = "proxy.trusted_proxies is empty";
    let (_db, _upstream, gateway) = common::stack(Kind::Sqlite, "", &[]).await.unwrap();
    for _ in 0..3 {
        let r = client()
            .get(gateway.url("/public-nothing"))
            .header("x-forwarded-for", "198.51.100.7")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
    }
    let found = common::eventually(std::time::Duration::from_secs(5), || {
        gateway.log().contains(WARNING)
    })
    .await;
    assert!(found, "{}", gateway.log());
    assert_eq!(gateway.log().matches(WARNING).count(), 1, "once");

    let declared = "[proxy]\ntrusted_proxies = [\"127.0.0.1/32\"]\n";
    let (_db, _upstream, gateway) = common::stack(Kind::Sqlite, declared, &[]).await.unwrap();
    let r = client()
        .get(gateway.url("/x"))
        .header("x-forwarded-for", "198.51.100.7")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert!(!gateway.log().contains(WARNING));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_w3c_trace_continues_to_the_upstream() {
    let (_db, upstream, gateway) = common::stack(
        Kind::Sqlite,
        "[[routes]]\nprefix = \"/public\"\npolicy = \"public\"\n",
        &[],
    )
    .await
    .unwrap();
    let incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    client()
        .get(gateway.url("/public/a"))
        .header("traceparent", incoming)
        .header("tracestate", "vendor=opaque")
        .send()
        .await
        .unwrap();
    let seen = upstream.last();
    let sent = seen.header("traceparent").unwrap();
    let parts: Vec<&str> = sent.split('-').collect();
    assert_eq!(parts[0], "00");
    assert_eq!(
        parts[1], "4bf92f3577b34da6a3ce929d0e0e4736",
        "the same trace"
    );
    assert_ne!(
        parts[2], "00f067aa0ba902b7",
        "Gatehouse's span is the parent"
    );
    assert_eq!(parts[3], "01", "the caller's sampling decision");
    assert_eq!(seen.header("tracestate"), Some("vendor=opaque"));
    // The access line is written just after the response.
    assert!(
        common::eventually(std::time::Duration::from_secs(5), || gateway
            .log()
            .contains("trace_id=\"4bf92f3577b34da6a3ce929d0e0e4736\""))
        .await,
        "{}",
        gateway.log()
    );

    // None, or a malformed one: a new trace, and no tracestate without its traceparent.
    client()
        .get(gateway.url("/public/b"))
        .header("traceparent", "00-zz-yy-01")
        .header("tracestate", "vendor=opaque")
        .send()
        .await
        .unwrap();
    let seen = upstream.last();
    let sent = seen.header("traceparent").unwrap();
    assert_eq!(sent.len(), 55, "{sent}");
    assert!(sent.starts_with("00-") && sent.ends_with("-00"), "{sent}");
    assert_eq!(seen.header("tracestate"), None);
}

/// An OTLP/HTTP receiver: every span POSTed to it, decoded from protobuf.
async fn otlp_receiver() -> (
    std::net::SocketAddr,
    std::sync::Arc<std::sync::Mutex<Vec<Span>>>,
) {
    use http_body_util::BodyExt;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use prost::Message;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let received = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = received.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let log = log.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(
                    move |req: hyper::Request<hyper::body::Incoming>| {
                        let log = log.clone();
                        async move {
                            let protobuf =
                                req.headers()["content-type"] == "application/x-protobuf";
                            let body = req.into_body().collect().await.unwrap().to_bytes();
                            if let (true, Ok(export)) =
                                (protobuf, ExportTraceServiceRequest::decode(body))
                            {
                                let spans = export
                                    .resource_spans
                                    .into_iter()
                                    .flat_map(|r| r.scope_spans)
                                    .flat_map(|s| s.spans);
                                log.lock().unwrap().extend(spans);
                            }
                            Ok::<_, std::convert::Infallible>(hyper::Response::new(
                                http_body_util::Full::new(bytes::Bytes::new()),
                            ))
                        }
                    },
                );
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (addr, received)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gatehouse_s_spans_reach_an_otlp_endpoint_in_the_caller_s_trace() {
    use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
    let (otlp, received) = otlp_receiver().await;
    let config = format!(
        "[tracing]\notlp_endpoint = \"http://{otlp}/v1/traces\"\nexport_interval = \"100ms\"\n"
    );
    let (db, upstream, gateway) = common::stack(Kind::Sqlite, &config, &[]).await.unwrap();
    let token = random_token();
    db.seed(&token, 5 * 86_400).await;
    let response = client()
        .get(gateway.url("/orders"))
        .header("cookie", session_cookie(&token))
        .header(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let sent_upstream = upstream.last().header("traceparent").unwrap().to_string();
    let upstream_parent = sent_upstream.split('-').nth(2).unwrap().to_string();

    assert!(
        common::eventually(std::time::Duration::from_secs(5), || {
            received.lock().unwrap().len() >= 3
        })
        .await,
        "no spans arrived:\n{}",
        gateway.log()
    );
    let spans = received.lock().unwrap().clone();
    let named = |name: &str| {
        spans
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("no {name} span in {spans:?}"))
            .clone()
    };
    let request = named("gatehouse.request");
    let authenticate = named("gatehouse.authenticate");
    let upstream_call = named("gatehouse.upstream");
    for span in [&request, &authenticate, &upstream_call] {
        assert_eq!(hex(&span.trace_id), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert!(span.end_time_unix_nano >= span.start_time_unix_nano);
    }
    assert_eq!(
        hex(&request.parent_span_id),
        "00f067aa0ba902b7",
        "the caller's span"
    );
    assert_eq!(authenticate.parent_span_id, request.span_id);
    assert_eq!(upstream_call.parent_span_id, request.span_id);
    assert_eq!(
        hex(&upstream_call.span_id),
        upstream_parent,
        "the upstream's parent is Gatehouse's upstream span"
    );
    let attribute = |span: &Span, key: &str| {
        span.attributes
            .iter()
            .find(|a| a.key == key)
            .and_then(|a| a.value.clone())
            .and_then(|v| v.value)
    };
    assert_eq!(
        attribute(&authenticate, "gatehouse.session.source"),
        Some(Any::StringValue("database".into()))
    );
    assert_eq!(
        attribute(&authenticate, "gatehouse.session.refreshed"),
        Some(Any::BoolValue(true)),
        "expiring in 5 of 7 days: refreshed"
    );
    assert_eq!(
        attribute(&request, "http.response.status_code"),
        Some(Any::IntValue(200))
    );
}
