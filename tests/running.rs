//! Running Gatehouse: metrics move with traffic, health and readiness follow the database,
//! SIGTERM drains in-flight requests, a binary upgrade hands the listener over without dropping
//! a request, request IDs reach the upstream, and logs never hold a token.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::db::{Kind, TestDb};
use common::gateway::Gateway;
use common::relay::Relay;
use common::upstream::Upstream;
use common::{client, eventually, free_port, random_token, session_cookie};

/// Every sample of a Prometheus text exposition, by series (name with its labels as printed).
async fn scrape(gateway: &Gateway) -> HashMap<String, f64> {
    let text = gateway.metrics_text().await;
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| {
            l.rsplit_once(' ')
                .map(|(series, v)| (series.to_string(), v.parse().unwrap()))
        })
        .collect()
}

fn delta(before: &HashMap<String, f64>, after: &HashMap<String, f64>, series: &str) -> f64 {
    after.get(series).copied().unwrap_or(0.0) - before.get(series).copied().unwrap_or(0.0)
}

async fn setup(kind: Kind, config: &str) -> Option<(TestDb, Upstream, Gateway)> {
    common::stack(kind, config, &[]).await
}

const CONFIG: &str = r#"
[metrics]
gauge_interval = "200ms"
[rate_limit.endpoints.session]
max = 1
window = "60s"
[[routes]]
prefix = "/public"
policy = "public"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_metric_moves_with_its_traffic() {
    let (db, _upstream, gateway) = setup(Kind::Sqlite, CONFIG).await.unwrap();
    let (token, due, expired) = (random_token(), random_token(), random_token());
    db.seed(&token, 3600 * 24 * 7).await;
    db.seed(&due, 3600 * 24 * 5).await;
    db.seed(&expired, -10).await;
    let before = scrape(&gateway).await;
    let get = |path: &str, cookie: Option<&str>| {
        let mut r = client()
            .get(gateway.url(path))
            .header("accept", "application/json");
        if let Some(c) = cookie {
            r = r.header("cookie", session_cookie(c));
        }
        r.send()
    };
    assert_eq!(get("/public/x", None).await.unwrap().status(), 200);
    assert_eq!(get("/app", Some(&token)).await.unwrap().status(), 200);
    assert_eq!(get("/app", Some(&token)).await.unwrap().status(), 200);
    assert_eq!(get("/app", None).await.unwrap().status(), 401);
    assert_eq!(get("/app", Some(&expired)).await.unwrap().status(), 401);
    assert_eq!(get("/app", Some(&due)).await.unwrap().status(), 200);
    assert_eq!(get("/api/auth/session", None).await.unwrap().status(), 200);
    assert_eq!(get("/api/auth/session", None).await.unwrap().status(), 429);
    let sign_out = client()
        .post(gateway.url("/api/auth/sign-out"))
        .header("cookie", session_cookie(&token))
        .header("origin", format!("http://{}", gateway.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(sign_out.status(), 200);
    // The gauge is recounted every gauge_interval, or less often while a count is slow (as on a
    // loaded machine): wait for the count that follows the sign-out.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let mut after = scrape(&gateway).await;
    while after.get("gatehouse_active_sessions") != Some(&1.0)
        && std::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
        after = scrape(&gateway).await;
    }
    let d = |series: &str| delta(&before, &after, series);
    assert_eq!(
        d(r#"gatehouse_requests_total{outcome="public",route="/public"}"#),
        1.0
    );
    assert_eq!(
        d(r#"gatehouse_requests_total{outcome="authenticated",route="default"}"#),
        3.0
    );
    assert_eq!(
        d(r#"gatehouse_requests_total{outcome="unauthenticated",route="default"}"#),
        2.0
    );
    assert_eq!(
        d(r#"gatehouse_requests_total{outcome="served",route="session"}"#),
        1.0
    );
    assert_eq!(
        d(r#"gatehouse_requests_total{outcome="rate_limited",route="session"}"#),
        1.0
    );
    assert_eq!(
        d(r#"gatehouse_requests_total{outcome="served",route="sign-out"}"#),
        1.0
    );
    assert_eq!(
        d(r#"gatehouse_session_lookups_total{result="hit",source="database"}"#),
        3.0,
        "token, due, sign-out"
    );
    assert_eq!(
        d(r#"gatehouse_session_lookups_total{result="hit",source="memory"}"#),
        1.0
    );
    assert_eq!(
        d(r#"gatehouse_session_lookups_total{result="expired",source="database"}"#),
        1.0
    );
    assert_eq!(
        d(r#"gatehouse_session_refreshes_total{result="written"}"#),
        1.0
    );
    assert_eq!(d(r#"gatehouse_revocations_total{via="expired"}"#), 1.0);
    assert_eq!(d(r#"gatehouse_revocations_total{via="sign_out"}"#), 1.0);
    assert_eq!(
        d(r#"gatehouse_upstream_responses_total{status_class="2xx"}"#),
        4.0
    );
    assert_eq!(d("gatehouse_rate_limited_total"), 1.0);
    assert_eq!(
        d("gatehouse_auth_duration_seconds_count"),
        5.0,
        "one per session check on a proxied route"
    );
    assert!(d(r#"gatehouse_db_query_duration_seconds_count{op="find_session"}"#) >= 3.0);
    assert_eq!(
        d(r#"gatehouse_db_query_duration_seconds_count{op="refresh_session"}"#),
        1.0
    );
    assert_eq!(
        after.get("gatehouse_active_sessions"),
        Some(&1.0),
        "the due session; the others expired or signed out"
    );
    assert!(after.contains_key("gatehouse_cache_entries"));
    assert!(after
        .keys()
        .any(|k| k.starts_with("gatehouse_build_info{version=")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_follows_the_database() {
    let Some(db) = TestDb::migrated(Kind::Postgres).await else {
        return;
    };
    let after_at = db.url.split('@').nth(1).unwrap();
    let (server, database) = after_at.split_once('/').unwrap();
    let relay = Relay::start(server.parse::<SocketAddr>().unwrap()).await;
    let relayed = db.url.replace(
        &format!("{server}/{database}"),
        &format!("{}/{database}", relay.addr),
    );
    let upstream = Upstream::start().await;
    let config = "[database]\nacquire_timeout = \"500ms\"\n";
    let gateway = Gateway::start(
        config,
        &[
            ("GATEHOUSE_UPSTREAM", &upstream.url()),
            ("GATEHOUSE_DATABASE_URL", &relayed),
        ],
    )
    .await;
    let status = |path: &'static str| {
        let url = gateway.ops_url(path);
        async move { client().get(url).send().await.unwrap().status().as_u16() }
    };
    assert_eq!(status("/healthz").await, 200);
    assert_eq!(status("/readyz").await, 200);
    relay.cut();
    assert_eq!(status("/readyz").await, 503, "database gone");
    assert_eq!(status("/healthz").await, 200, "the process is still up");
    let _relay = relay.restore().await;
    assert_eq!(status("/readyz").await, 200, "database back");
    assert_eq!(status("/nope").await, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_ids_reach_the_upstream_and_come_back() {
    let (db, upstream, gateway) = setup(Kind::Sqlite, "").await.unwrap();
    let token = random_token();
    db.seed(&token, 3600).await;
    let sent = client()
        .get(gateway.url("/a"))
        .header("cookie", session_cookie(&token))
        .header("x-request-id", "trace-42")
        .send()
        .await
        .unwrap();
    assert_eq!(sent.headers()["x-request-id"], "trace-42");
    assert_eq!(upstream.last().header("x-request-id"), Some("trace-42"));
    let generated = client()
        .get(gateway.url("/b"))
        .header("cookie", session_cookie(&token))
        .send()
        .await
        .unwrap();
    let id = generated.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(id.len(), 32);
    assert_eq!(upstream.last().header("x-request-id"), Some(id.as_str()));
    let refused = client().get(gateway.url("/c")).send().await.unwrap();
    assert_eq!(refused.status(), 401);
    assert!(
        refused.headers().contains_key("x-request-id"),
        "answers from the gateway carry one too"
    );
    let log = gateway.log();
    let line = log
        .lines()
        .find(|l| l.contains("trace-42"))
        .expect("an access line per request");
    assert!(
        line.contains(r#"route="default""#)
            && line.contains(r#"outcome="authenticated""#)
            && line.contains("status=200"),
        "{line}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_in_flight_requests_then_exits() {
    let config = "[server]\ngrace_period = 3\ngraceful_shutdown_timeout = 1\n";
    let (db, upstream, mut gateway) = setup(Kind::Sqlite, config).await.unwrap();
    let token = random_token();
    db.seed(&token, 3600).await;
    let before = upstream.count();
    let slow = tokio::spawn(
        client()
            .get(gateway.url("/slow"))
            .header("cookie", session_cookie(&token))
            .send(),
    );
    // Signal only once the request is in flight: the upstream has it and answers in 1.5 s.
    assert!(
        eventually(Duration::from_secs(10), || upstream.count() > before).await,
        "the slow request reaches the upstream"
    );
    gateway.signal("TERM");
    let response = slow.await.unwrap().unwrap();
    assert_eq!(response.status(), 200, "the in-flight request completed");
    let status = gateway
        .wait_exit(Duration::from_secs(10))
        .await
        .expect("exits after the grace period");
    assert!(status.success(), "{status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_binary_upgrade_hands_the_listener_over_without_dropping_requests() {
    let db = TestDb::migrated(Kind::Sqlite).await.unwrap();
    let upstream = Upstream::start().await;
    let token = random_token();
    db.seed(&token, 3600).await;
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("upgrade.sock");
    // In-flight requests on the old process get 5 s to finish: on a loaded 2-core CI machine one
    // took longer than 1 s and was cut off.
    let config = format!(
        "[server]\ngrace_period = 1\ngraceful_shutdown_timeout = 5\nupgrade_sock = \"{}\"\n",
        sock.display()
    );
    let listen = format!("127.0.0.1:{}", free_port());
    let env = [
        ("GATEHOUSE_UPSTREAM", upstream.url()),
        ("GATEHOUSE_DATABASE_URL", db.url.clone()),
        ("GATEHOUSE_LISTEN", listen.clone()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut old = Gateway::start(&config, &env).await;

    // A fresh connection per request, so every request goes through the listener being handed
    // over; the loop runs until told to stop, so a slow machine only makes the test longer.
    let url = old.url("/during-upgrade");
    let cookie = session_cookie(&token);
    let served = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let traffic = tokio::spawn({
        let (served, stop) = (served.clone(), stop.clone());
        async move {
            let mut failed = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                match client().get(&url).header("cookie", &cookie).send().await {
                    Ok(r) if r.status() == 200 => _ = served.fetch_add(1, Ordering::Relaxed),
                    Ok(r) => failed.push(r.status().to_string()),
                    Err(e) => failed.push(e.to_string()),
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            failed
        }
    });
    let served_at_least = |n: usize| {
        let served = &served;
        move || served.load(Ordering::Relaxed) >= n
    };
    assert!(
        eventually(Duration::from_secs(10), served_at_least(10)).await,
        "the old process serves traffic"
    );
    let metrics = format!("127.0.0.1:{}", free_port());
    let mut env_new = env.clone();
    env_new.push(("GATEHOUSE_METRICS_LISTEN", &metrics));
    let _new = Gateway::start_with_args(&config, &env_new, &["serve", "--upgrade"]).await;
    // The old process hands its listener over on SIGQUIT through the upgrade socket, which the
    // new one listens on once it has started: wait for it rather than for a fixed time (a slow
    // machine took longer than 300 ms).
    assert!(
        eventually(Duration::from_secs(20), || sock.exists()).await,
        "the new process listens on the upgrade socket"
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    old.signal("QUIT");
    assert!(
        old.wait_exit(Duration::from_secs(20)).await.is_some(),
        "the old process hands over and exits"
    );
    let after_handover = served.load(Ordering::Relaxed) + 20;
    assert!(
        eventually(Duration::from_secs(20), served_at_least(after_handover)).await,
        "the new process serves traffic after the old one exited"
    );
    stop.store(true, Ordering::Relaxed);
    let failed = traffic.await.unwrap();
    assert!(
        failed.is_empty(),
        "{} requests failed during the upgrade: {failed:?}",
        failed.len()
    );
}

/// SECURITY: no log level prints a session token, a signed cookie value, the admin bearer token
/// or the secret: Gatehouse's own records carry none, and Pingora's (which print request and
/// response heads and bodies at `debug` and `trace`) are capped at `info`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_logs_of_every_path_hold_no_token_cookie_or_secret() {
    const ADMIN_TOKEN: &str = "admin-bearer-token-0123456789abcdef";
    let config =
        "[log]\nlevel = \"trace\"\n[[routes]]\nprefix = \"/public\"\npolicy = \"public\"\n";
    // RUST_LOG wins over `log.level`: both say trace (the test gateway sets RUST_LOG=info).
    let env = [
        ("GATEHOUSE_ADMIN_TOKEN", ADMIN_TOKEN),
        ("RUST_LOG", "trace"),
    ];
    let (db, upstream, gateway) = common::stack(Kind::Sqlite, config, &env).await.unwrap();
    let (token, due, expired) = (random_token(), random_token(), random_token());
    db.seed(&token, 3600).await;
    db.seed(&due, 3600 * 24 * 5).await;
    db.seed(&expired, -10).await;
    let origin = format!("http://{}", gateway.addr);
    let mut cookies = Vec::new();
    for t in [&token, &due, &expired, &random_token()] {
        cookies.push(session_cookie(t));
        for path in [
            "/x",
            "/public/x",
            "/api/auth/get-session",
            "/api/auth/list-sessions",
        ] {
            client()
                .get(gateway.url(path))
                .header("cookie", session_cookie(t))
                .send()
                .await
                .unwrap();
        }
    }
    client()
        .get(gateway.url("/x"))
        .header("cookie", format!("better-auth.session_token={token}.bad"))
        .send()
        .await
        .unwrap();
    // Through the base path to Better Auth: the answer body (here the upstream's echo, as Better
    // Auth's sign-in answer carries a new token) and its Set-Cookie must not be logged either.
    let sign_in = client()
        .post(gateway.url("/api/auth/sign-in/email"))
        .header("cookie", session_cookie(&token))
        .header("origin", &origin)
        .body(r#"{"email":"a@example.com","password":"secret-password-123"}"#)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        sign_in.contains(&token),
        "the echo carries the token: {sign_in}"
    );
    for path in ["sessions?limit=5", "stats"] {
        let answer = client()
            .get(gateway.url(&format!("/_gatehouse/api/{path}")))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200, "admin {path}");
    }
    client()
        .post(gateway.url("/api/auth/sign-out"))
        .header("cookie", session_cookie(&token))
        .header("origin", origin)
        .send()
        .await
        .unwrap();
    assert_eq!(
        upstream.count(),
        7,
        "two sessions on /x, four on /public/x, the sign-in"
    );
    let log = gateway.log();
    assert!(
        log.lines().count() > 20 && log.contains("DEBUG gatehouse"),
        "trace logging is on:\n{log}"
    );
    let signed_values: Vec<String> = cookies
        .iter()
        .map(|c| c.split_once('=').unwrap().1.to_string())
        .collect();
    for secret in [
        token.as_str(),
        due.as_str(),
        expired.as_str(),
        common::SECRET,
        ADMIN_TOKEN,
        "secret-password-123",
    ]
    .into_iter()
    .chain(signed_values.iter().map(String::as_str))
    {
        assert!(!log.contains(secret), "{secret} found in the log:\n{log}");
    }
}
