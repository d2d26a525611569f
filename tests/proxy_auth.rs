//! The gateway on real sockets: a real `gatehouse` process, a real upstream and a real database.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::db::{Kind, TestDb};
use common::gateway::Gateway;
use common::upstream::Upstream;
use common::{client, random_token, session_cookie};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const ROUTES: &str = r#"
[cache]
max_staleness = "1s"
negative_ttl = "1s"

[[routes]]
prefix = "/public"
policy = "public"

[[routes]]
prefix = "/maybe"
policy = "optional"
"#;

async fn setup(kind: Kind, config: &str) -> Option<(TestDb, Upstream, Gateway)> {
    common::stack(kind, config, &[]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_valid_session_reaches_the_upstream_with_its_identity() {
    // No config file at all: defaults plus the environment contract.
    let (db, upstream, gateway) = setup(Kind::Sqlite, "").await.unwrap();
    let token = random_token();
    let (user_id, session_id) = db.seed(&token, 3600).await;
    let response = client()
        .get(gateway.url("/orders?page=2"))
        .header("cookie", format!("theme=dark; {}", session_cookie(&token)))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let seen = upstream.last();
    assert_eq!(seen.path, "/orders?page=2");
    assert_eq!(seen.header("x-auth-user-id"), Some(user_id.as_str()));
    assert_eq!(
        seen.header("x-auth-user-email"),
        Some(format!("{user_id}@example.com").as_str())
    );
    assert_eq!(
        seen.header("x-auth-user-name"),
        Some(format!("Name of {user_id}").as_str())
    );
    assert_eq!(seen.header("x-auth-user-role"), Some("user"));
    assert_eq!(seen.header("x-auth-session-id"), Some(session_id.as_str()));
    assert_eq!(seen.header("x-forwarded-for"), Some("127.0.0.1"));
    assert_eq!(seen.header("x-forwarded-proto"), Some("http"));
    assert_eq!(
        seen.header("x-forwarded-host"),
        Some(gateway.addr.to_string().as_str())
    );
    assert!(
        !gateway.log().contains(&token),
        "the token must never be logged"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_expired_and_unknown_sessions_never_reach_the_upstream() {
    let (db, upstream, gateway) = setup(Kind::Sqlite, ROUTES).await.unwrap();
    let expired = random_token();
    db.seed(&expired, -60).await;
    let valid = random_token();
    db.seed(&valid, 3600).await;
    let forged = format!(
        "better-auth.session_token={}",
        gatehouse::auth::cookie::SigningKey::new("some-other-secret-some-other-secret")
            .sign_cookie_value(&valid)
    );
    let cases = [
        ("no cookie", String::new()),
        ("forged signature", forged),
        (
            "unsigned token",
            format!("better-auth.session_token={valid}"),
        ),
        ("expired session", session_cookie(&expired)),
        ("unknown session", session_cookie(&random_token())),
        (
            "garbage",
            "better-auth.session_token=%ZZ%%;;==\"".to_string(),
        ),
    ];
    for (what, cookie) in cases {
        let mut request = client()
            .get(gateway.url("/private"))
            .header("accept", "application/json");
        if !cookie.is_empty() {
            request = request.header("cookie", cookie);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 401, "{what}");
        assert_eq!(response.headers()["content-type"], "application/json");
        assert_eq!(
            response.text().await.unwrap(),
            r#"{"error":"unauthenticated"}"#,
            "{what}"
        );
    }
    let browser = client()
        .get(gateway.url("/private/page?x=1"))
        .header("accept", "text/html")
        .header("sec-fetch-mode", "navigate")
        .send()
        .await
        .unwrap();
    assert_eq!(browser.status(), 302);
    assert_eq!(
        browser.headers()["location"],
        "/login?callbackURL=%2Fprivate%2Fpage%3Fx%3D1"
    );
    assert_eq!(
        upstream.count(),
        0,
        "the upstream never saw an unauthenticated request"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_session_stops_working_within_the_staleness_bound() {
    let (db, upstream, gateway) = setup(Kind::Sqlite, ROUTES).await.unwrap();
    let token = random_token();
    db.seed(&token, 3600).await;
    let get = || {
        client()
            .get(gateway.url("/private"))
            .header("cookie", session_cookie(&token))
            .send()
    };
    assert_eq!(get().await.unwrap().status(), 200);
    db.exec(&format!(
        "DELETE FROM \"session\" WHERE \"token\" = '{token}'"
    ))
    .await;
    tokio::time::sleep(Duration::from_millis(1300)).await;
    assert_eq!(get().await.unwrap().status(), 401);
    assert_eq!(upstream.count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spoofed_identity_headers_never_reach_the_upstream_on_any_route() {
    let (db, upstream, gateway) = setup(Kind::Sqlite, ROUTES).await.unwrap();
    let token = random_token();
    let (user_id, _) = db.seed(&token, 3600).await;
    let spoof = |r: reqwest::RequestBuilder| {
        r.header("x-auth-user-id", "admin")
            .header("X-Auth-User-Role", "admin")
            .header("x-auth-user-email", "root@example.com")
            .header("x-auth-anything-else", "1")
            .header("x-forwarded-for", "10.9.9.9")
    };
    let requests = [
        (
            "public route",
            spoof(client().get(gateway.url("/public/x"))),
        ),
        (
            "optional route without session",
            spoof(client().get(gateway.url("/maybe/x"))),
        ),
        (
            "Better Auth base path",
            spoof(client().post(gateway.url("/api/auth/sign-in/email"))),
        ),
        (
            "required route with session",
            spoof(
                client()
                    .get(gateway.url("/x"))
                    .header("cookie", session_cookie(&token)),
            ),
        ),
        (
            "optional route with session",
            spoof(
                client()
                    .get(gateway.url("/maybe/y"))
                    .header("cookie", session_cookie(&token)),
            ),
        ),
    ];
    for (what, request) in requests {
        assert_eq!(request.send().await.unwrap().status(), 200, "{what}");
        let seen = upstream.last();
        assert!(!seen.headers.contains_key("x-auth-anything-else"), "{what}");
        assert_ne!(
            seen.headers.get("x-auth-user-id"),
            Some(&vec!["admin".to_string()]),
            "{what}"
        );
        assert_ne!(seen.header("x-auth-user-role"), Some("admin"), "{what}");
        assert_eq!(
            seen.header("x-forwarded-for"),
            Some("127.0.0.1"),
            "{what}: untrusted XFF replaced"
        );
        if what.contains("with session") {
            assert_eq!(
                seen.header("x-auth-user-id"),
                Some(user_id.as_str()),
                "{what}"
            );
        } else {
            assert!(!seen.headers.contains_key("x-auth-user-id"), "{what}");
        }
    }
    assert_eq!(upstream.count(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identity_headers_configured_with_underscores_are_stripped_in_either_spelling() {
    // A WSGI or CGI upstream reads `x_user_email` and `x-user-email` both as
    // HTTP_X_USER_EMAIL, so a client may send neither, whichever spelling the config uses.
    let config = format!("{ROUTES}\n[headers]\nuser_email = \"x_user_email\"\n");
    let (db, upstream, gateway) = setup(Kind::Sqlite, &config).await.unwrap();
    let token = random_token();
    db.seed(&token, 3600).await;
    let sent = client()
        .get(gateway.url("/public/x"))
        .header("x_user_email", "root@example.com")
        .header("x-user-email", "root@example.com")
        .header("x_other", "kept")
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), 200);
    let seen = upstream.last();
    assert!(
        !seen.headers.contains_key("x_user_email"),
        "{:?}",
        seen.headers
    );
    assert!(
        !seen.headers.contains_key("x-user-email"),
        "{:?}",
        seen.headers
    );
    assert_eq!(seen.header("x_other"), Some("kept"));
    let with_session = client()
        .get(gateway.url("/x"))
        .header("cookie", session_cookie(&token))
        .header("x-user-email", "root@example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(with_session.status(), 200);
    let seen = upstream.last();
    assert!(
        !seen.headers.contains_key("x-user-email"),
        "{:?}",
        seen.headers
    );
    assert_ne!(seen.header("x_user_email"), Some("root@example.com"));
    assert!(seen.header("x_user_email").is_some_and(|e| e.contains('@')));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_a_4xx_and_the_gateway_keeps_serving() {
    let (db, upstream, gateway) = setup(Kind::Sqlite, ROUTES).await.unwrap();
    let token = random_token();
    db.seed(&token, 3600).await;
    let raw = |bytes: Vec<u8>| {
        let addr = gateway.addr;
        async move {
            let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
            stream.write_all(&bytes).await.unwrap();
            let mut buf = Vec::new();
            let _ =
                tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut buf)).await;
            String::from_utf8_lossy(&buf).into_owned()
        }
    };
    let status = |response: &str| response.split(' ').nth(1).unwrap_or("none").to_string();
    // A Cookie header that is not plain text could be read one way here and another by the
    // upstream: refused on every route, public ones included.
    let mut invalid_utf8 = b"GET /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\nCookie: better-auth.session_token=\xff\xfe\r\n\r\n".to_vec();
    let refused = raw(invalid_utf8.clone()).await;
    assert_eq!(status(&refused), "400");
    assert!(refused.contains("bad_cookie_header"), "{refused}");
    invalid_utf8.splice(4..6, b"/public/x".iter().copied());
    assert_eq!(status(&raw(invalid_utf8).await), "400");
    let traversal =
        b"GET /api/auth/../admin HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n".to_vec();
    assert_eq!(status(&raw(traversal).await), "400");
    let encoded =
        b"GET /public/%2e%2e/admin HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n".to_vec();
    assert_eq!(status(&raw(encoded).await), "400");
    let huge = format!(
        "GET /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\nCookie: {}\r\n\r\n",
        "a".repeat(200_000)
    );
    let answer = status(&raw(huge.into_bytes()).await);
    assert!(
        answer.starts_with('4') || answer == "none",
        "oversized headers: {answer}"
    );
    let not_http =
        raw(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n".to_vec()).await;
    assert!(
        not_http.is_empty() || status(&not_http).starts_with('4'),
        "{not_http}"
    );
    let ok = client()
        .get(gateway.url("/x"))
        .header("cookie", session_cookie(&token))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200, "still serving after bad input");
    assert!(upstream.seen().iter().all(|s| !s.path.contains("admin")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_down_gives_a_json_502() {
    let db = TestDb::migrated(Kind::Sqlite).await.unwrap();
    let dead = format!("http://127.0.0.1:{}", common::free_port());
    let gateway = Gateway::start(
        ROUTES,
        &[
            ("GATEHOUSE_UPSTREAM", &dead),
            ("GATEHOUSE_DATABASE_URL", &db.url),
        ],
    )
    .await;
    let response = client().get(gateway.url("/public/x")).send().await.unwrap();
    assert_eq!(response.status(), 502);
    assert_eq!(response.headers()["content-type"], "application/json");
    assert_eq!(
        response.text().await.unwrap(),
        r#"{"error":"upstream_unreachable"}"#
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_that_never_answers_gives_a_json_504() {
    let db = TestDb::migrated(Kind::Sqlite).await.unwrap();
    // Accepts connections and reads, but never answers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = silent.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = silent.accept().await {
            held.push(stream);
        }
    });
    let config = format!("{ROUTES}\n[proxy]\nread_timeout = 1\n");
    let gateway = Gateway::start(
        &config,
        &[
            ("GATEHOUSE_UPSTREAM", &format!("http://{addr}")),
            ("GATEHOUSE_DATABASE_URL", &db.url),
        ],
    )
    .await;
    let started = std::time::Instant::now();
    let response = client().get(gateway.url("/public/x")).send().await.unwrap();
    assert_eq!(response.status(), 504);
    assert_eq!(
        response.text().await.unwrap(),
        r#"{"error":"upstream_timeout"}"#
    );
    assert!(started.elapsed() < Duration::from_secs(10), "never a hang");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_upgrades_are_authenticated_then_proxied() {
    let (db, upstream, gateway) = setup(Kind::Sqlite, ROUTES).await.unwrap();
    let token = random_token();
    db.seed(&token, 3600).await;
    let handshake = |cookie: String| {
        format!(
            "GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{cookie}\r\n"
        )
    };
    let mut anonymous = tokio::net::TcpStream::connect(gateway.addr).await.unwrap();
    anonymous
        .write_all(handshake(String::new()).as_bytes())
        .await
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let n = anonymous.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 401"));
    assert_eq!(upstream.count(), 0);

    // NOTE: Pingora 0.9.1 sometimes closes an upgraded tunnel right after the 101 when the
    // upstream answers faster than Pingora consumes the request's empty body
    // (https://github.com/cloudflare/pingora/issues/946, fix pending in PR #947). Every attempt
    // must authenticate and upgrade; only the tunnel round trip gets more than one try.
    let mut last_error = String::new();
    for attempt in 1..=5 {
        let mut stream = tokio::net::TcpStream::connect(gateway.addr).await.unwrap();
        let request = handshake(format!("Cookie: {}\r\n", session_cookie(&token)));
        stream.write_all(request.as_bytes()).await.unwrap();
        let n = stream.read(&mut buf).await.unwrap();
        let head = String::from_utf8_lossy(&buf[..n]).to_string();
        assert!(head.starts_with("HTTP/1.1 101"), "{head}");
        assert_eq!(
            upstream.count(),
            attempt,
            "each upgrade reaches the upstream once"
        );
        assert!(upstream.last().header("x-auth-user-id").is_some());
        stream
            .write_all(b"ping over the upgraded connection")
            .await
            .unwrap();
        let mut echoed = vec![0u8; 33];
        match tokio::time::timeout(Duration::from_secs(5), stream.read_exact(&mut echoed)).await {
            Ok(Ok(_)) => {
                assert_eq!(&echoed, b"ping over the upgraded connection");
                return;
            }
            Ok(Err(e)) => last_error = format!("attempt {attempt}: {e}"),
            Err(_) => last_error = format!("attempt {attempt}: no echo within 5 s"),
        }
    }
    panic!(
        "the upgraded tunnel never carried data: {last_error}\ngateway log:\n{}",
        gateway.log()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_cookies_are_stripped_for_the_app_but_not_for_better_auth() {
    let config = "[proxy]\nstrip_auth_cookies = true\n";
    let (db, upstream, gateway) = setup(Kind::Sqlite, config).await.unwrap();
    let token = random_token();
    db.seed(&token, 3600).await;
    let cookie = format!("theme=dark; {}", session_cookie(&token));
    for path in ["/app", "/api/auth/ok"] {
        let response = client()
            .get(gateway.url(path))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
    }
    let seen = upstream.seen();
    assert_eq!(
        seen[0].header("cookie"),
        Some("theme=dark"),
        "the app never sees the session cookie"
    );
    assert_eq!(
        seen[1].header("cookie"),
        Some(cookie.as_str()),
        "Better Auth needs it"
    );
}

/// Sends `bytes` on one connection and reads until the gateway closes it (or `limit` passes).
async fn exchange(addr: std::net::SocketAddr, bytes: &[u8], limit: Duration) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(bytes).await.unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(limit, stream.read_to_end(&mut buf)).await;
    String::from_utf8_lossy(&buf).into_owned()
}

/// SECURITY: each pipelined request is answered, in order, and decided on its own: a public
/// request first does not carry a required or admin one after it to the upstream.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_requests_are_each_answered_and_decided() {
    let (db, upstream, gateway) = setup(Kind::Sqlite, ROUTES).await.unwrap();
    let token = random_token();
    db.seed(&token, 3600).await;
    let cookie = session_cookie(&token);
    let wire = format!(
        "GET /public/one HTTP/1.1\r\nHost: a\r\n\r\n\
         GET /x HTTP/1.1\r\nHost: a\r\n\r\n\
         GET /x/two HTTP/1.1\r\nHost: a\r\nCookie: {cookie}\r\n\r\n\
         GET /%61dmin HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
    );
    let answer = exchange(gateway.addr, wire.as_bytes(), Duration::from_secs(5)).await;
    let statuses: Vec<&str> = answer
        .match_indices("HTTP/1.1 ")
        .map(|(i, _)| &answer[i + 9..i + 12])
        .collect();
    assert_eq!(statuses, ["200", "401", "200", "401"], "{answer}");
    let paths: Vec<String> = upstream.seen().iter().map(|s| s.path.clone()).collect();
    assert_eq!(paths, ["/public/one", "/x/two"]);
    assert!(upstream.last().headers.contains_key("x-auth-user-id"));
}

/// SECURITY: a request head that trickles in (slowloris) is cut off at `server.header_timeout`
/// from its first byte, however often bytes arrive; a body is not timed by it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_request_head_is_cut_off_at_the_header_timeout() {
    let config = format!("[server]\nheader_timeout = \"1s\"\n{ROUTES}");
    let (_db, upstream, gateway) = setup(Kind::Sqlite, &config).await.unwrap();
    let mut stream = tokio::net::TcpStream::connect(gateway.addr).await.unwrap();
    let started = std::time::Instant::now();
    stream
        .write_all(b"GET /public/slow HTTP/1.1\r\nHost: a\r\n")
        .await
        .unwrap();
    let mut closed_after = None;
    for i in 0..40 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if stream
            .write_all(format!("X-Drip-{i}: x\r\n").as_bytes())
            .await
            .is_err()
        {
            closed_after = Some(started.elapsed());
            break;
        }
        let mut probe = [0u8; 1];
        if let Ok(Ok(0)) =
            tokio::time::timeout(Duration::from_millis(1), stream.peek(&mut probe)).await
        {
            closed_after = Some(started.elapsed());
            break;
        }
    }
    let closed_after = closed_after.expect("the connection outlived 4 s of trickling headers");
    assert!(
        closed_after >= Duration::from_millis(900) && closed_after < Duration::from_secs(3),
        "closed after {closed_after:?}"
    );
    assert_eq!(
        upstream.count(),
        0,
        "the trickled request never reached the upstream"
    );
    // A head sent at once, then a slow body, is served: only heads are timed.
    let mut stream = tokio::net::TcpStream::connect(gateway.addr).await.unwrap();
    stream
        .write_all(b"POST /public/upload HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nConnection: close\r\n\r\nab")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stream.write_all(b"cd").await.unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut buf)).await;
    let answer = String::from_utf8_lossy(&buf);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    // On a kept-alive connection, idle time before a head is not counted against it.
    let mut stream = tokio::net::TcpStream::connect(gateway.addr).await.unwrap();
    stream
        .write_all(b"GET /public/a HTTP/1.1\r\nHost: a\r\n\r\n")
        .await
        .unwrap();
    let mut first = [0u8; 12];
    stream.read_exact(&mut first).await.unwrap();
    assert_eq!(&first, b"HTTP/1.1 200");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stream
        .write_all(b"GET /public/b HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut buf)).await;
    let answer = String::from_utf8_lossy(&buf);
    assert_eq!(answer.matches("HTTP/1.1 200").count(), 1, "{answer}");
    assert_eq!(upstream.count(), 3);
}

/// The client's connection is Gatehouse's to keep or close: it gets Gatehouse's `Connection`
/// header, never the upstream's (here the upstream closes its own connection after answering).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_gets_the_gateways_connection_header_not_the_upstreams() {
    let (_db, upstream, gateway) = setup(Kind::Sqlite, ROUTES).await.unwrap();
    let mut stream = tokio::net::TcpStream::connect(gateway.addr).await.unwrap();
    stream
        .write_all(
            b"GET /public/closing HTTP/1.1\r\nHost: a\r\n\r\n\
              GET /public/closing HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
        )
        .await
        .unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut buf)).await;
    let answers = String::from_utf8_lossy(&buf).to_ascii_lowercase();
    let heads: Vec<&str> = answers
        .split("http/1.1 ")
        .skip(1)
        .map(|a| a.split("\r\n\r\n").next().unwrap())
        .collect();
    assert_eq!(heads.len(), 2, "{answers}");
    let connection = |head: &str| -> Vec<String> {
        head.lines()
            .filter_map(|l| l.strip_prefix("connection:"))
            .map(|v| v.trim().to_owned())
            .collect()
    };
    assert!(heads[0].starts_with("200"), "{answers}");
    assert_eq!(connection(heads[0]), ["keep-alive"], "{answers}");
    assert_eq!(connection(heads[1]), ["close"], "{answers}");
    assert_eq!(upstream.count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_lines_carry_who_and_where_but_never_the_token() {
    let (db, upstream, gateway) = setup(Kind::Sqlite, ROUTES).await.unwrap();
    let token = random_token();
    let (user_id, session_id) = db.seed(&token, 3600).await;
    let response = client()
        .post(gateway.url("/orders?secret=query"))
        .header("cookie", session_cookie(&token))
        .header("user-agent", "access-test/1.0")
        .body("twelve bytes")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body_len = response.bytes().await.unwrap().len();
    // The access line is written just after the response.
    let access_line = |log: &str| log.contains("gatehouse::access") && log.contains("/orders");
    assert!(common::eventually(Duration::from_secs(5), || access_line(&gateway.log())).await);
    let log = gateway.log();
    let line = log
        .lines()
        .find(|l| l.contains("gatehouse::access") && l.contains("/orders"))
        .expect("an access line");
    for field in [
        format!("user_id=\"{user_id}\""),
        format!("session_id=\"{session_id}\""),
        "user_agent=\"access-test/1.0\"".to_string(),
        "protocol=\"HTTP/1.1\"".to_string(),
        "bytes_in=12".to_string(),
        format!("bytes_out={body_len}"),
        format!("upstream={}", upstream.addr),
        "upstream_ms=".to_string(),
        "source=\"database\"".to_string(),
    ] {
        assert!(line.contains(&field), "{field} missing from: {line}");
    }
    assert!(!line.contains("secret=query"), "{line}");
    common::assert_log_is_clean(&log);

    // nginx's combined format, on request.
    let (db, _upstream, combined) = setup(Kind::Sqlite, "[log]\naccess_format = \"combined\"\n")
        .await
        .unwrap();
    let token = random_token();
    let (user_id, _) = db.seed(&token, 3600).await;
    client()
        .get(combined.url("/orders"))
        .header("cookie", session_cookie(&token))
        .header("user-agent", "access-test/1.0")
        .send()
        .await
        .unwrap();
    let combined_line = |log: &str| {
        log.lines().any(|l| {
            l.contains(&format!("127.0.0.1 - {user_id} ["))
                && l.contains("\"GET /orders HTTP/1.1\" 200 ")
                && l.ends_with("\"-\" \"access-test/1.0\"")
        })
    };
    assert!(
        common::eventually(Duration::from_secs(5), || combined_line(&combined.log())).await,
        "{}",
        combined.log()
    );
}
