//! Upstream groups on real sockets: requests spread over three servers; one is killed under
//! load and no request fails (connection failures are retried on another server and the dead
//! one is ejected, then taken out by the health check); it comes back and gets traffic again.
//! A host name is re-resolved through a DNS server the test controls, and traffic follows its
//! record without a restart; a name that does not resolve yet is a 502 `upstream_unresolved`,
//! not a failed start. Every server failing its health check is a 503 `no_healthy_upstream`.

#![allow(clippy::unwrap_used)]

mod common;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::db::Kind;
use common::servers::{DnsServer, KillableServer};
use common::{client, free_port};

fn loopback(last: u8, port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, last], port))
}

/// Requests to `url` from `workers` loops until `stop`: (sent, failed, failure statuses).
fn load(
    url: String,
    workers: usize,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<(usize, usize, Vec<String>)> {
    tokio::spawn(async move {
        let sent = Arc::new(AtomicUsize::new(0));
        let failures = Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut handles = Vec::new();
        for _ in 0..workers {
            let (url, stop, sent, failures) =
                (url.clone(), stop.clone(), sent.clone(), failures.clone());
            handles.push(tokio::spawn(async move {
                let http = client();
                while !stop.load(Ordering::SeqCst) {
                    sent.fetch_add(1, Ordering::SeqCst);
                    match http.get(&url).send().await {
                        Ok(r) if r.status() == 200 => {}
                        Ok(r) => {
                            let status = r.status();
                            let body = r.text().await.unwrap_or_default();
                            failures.lock().unwrap().push(format!("{status} {body}"));
                        }
                        Err(e) => failures.lock().unwrap().push(e.to_string()),
                    }
                }
            }));
        }
        for h in handles {
            h.await.unwrap();
        }
        let failures = failures.lock().unwrap().clone();
        (sent.load(Ordering::SeqCst), failures.len(), failures)
    })
}

async fn until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    common::eventually(limit, &mut done).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_servers_share_traffic_and_one_dying_under_load_fails_no_request() {
    let servers = [
        KillableServer::start(loopback(1, free_port()), "a").await,
        KillableServer::start(loopback(1, free_port()), "b").await,
        KillableServer::start(loopback(1, free_port()), "c").await,
    ];
    let urls: Vec<String> = servers
        .iter()
        .map(|s| format!("\"http://{}\"", s.addr))
        .collect();
    let config = format!(
        r#"
[[routes]]
prefix = "/app"
policy = "public"
upstream = [{}]
upstream_group = {{ eject_for = "500ms", health_check = {{ path = "/healthz", interval = "200ms", timeout = "500ms", healthy_after = 1, unhealthy_after = 1 }} }}
"#,
        urls.join(", ")
    );
    let (_db, _upstream, gateway) = common::stack(Kind::Sqlite, &config, &[]).await.unwrap();
    let url = gateway.url("/app/x");

    // Round robin: thirty requests, ten each.
    for _ in 0..30 {
        assert_eq!(client().get(&url).send().await.unwrap().status(), 200);
    }
    let served: Vec<usize> = servers.iter().map(KillableServer::served).collect();
    assert_eq!(served, vec![10, 10, 10], "round robin over three servers");

    // Kill b under a bounded load (four clients in a loop).
    let stop = Arc::new(AtomicBool::new(false));
    let running = load(url.clone(), 4, stop.clone());
    tokio::time::sleep(Duration::from_millis(300)).await;
    servers[1].kill();
    tokio::time::sleep(Duration::from_millis(600)).await;
    let b_after_kill = servers[1].served();
    let a_c = servers[0].served() + servers[2].served();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        servers[1].served(),
        b_after_kill,
        "a dead server serves nothing"
    );
    assert!(
        servers[0].served() + servers[2].served() > a_c,
        "the others carry the load"
    );

    // b comes back: the health check brings it back into the rotation.
    servers[1].restart().await;
    assert!(
        until(Duration::from_secs(5), || servers[1].served()
            > b_after_kill)
        .await,
        "b never received traffic again"
    );
    stop.store(true, Ordering::SeqCst);
    let (sent, failed, failures) = running.await.unwrap();
    assert!(sent > 100, "the load ran ({sent} requests)");
    assert_eq!(
        failed,
        0,
        "{failed} of {sent} failed: {failures:?}\n{}",
        gateway.log()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_name_is_re_resolved_and_traffic_follows_its_record() {
    let dns = DnsServer::start().await;
    dns.set("app.test", &[Ipv4Addr::new(127, 0, 0, 2)]);
    let port = free_port();
    let first = KillableServer::start(loopback(2, port), "first").await;
    let second = KillableServer::start(loopback(3, port), "second").await;
    let config = format!(
        r#"
[proxy]
resolver = "{dns}"

[[routes]]
prefix = "/app"
policy = "public"
upstream = "http://app.test:{port}"
upstream_host = "upstream"
upstream_group = {{ resolve_interval = "200ms" }}

[[routes]]
prefix = "/later"
policy = "public"
upstream = "http://later.test:{port}"
upstream_group = {{ resolve_interval = "200ms" }}
"#,
        dns = dns.addr
    );
    // `later.test` does not resolve: the gateway starts anyway.
    let (_db, _upstream, gateway) = common::stack(Kind::Sqlite, &config, &[]).await.unwrap();
    let get = |path: &str| client().get(gateway.url(path)).send();

    let r = get("/app/x").await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-server"], "first");
    assert_eq!(
        r.headers()["x-seen-host"],
        format!("app.test:{port}").as_str()
    );

    let unresolved = get("/later/x").await.unwrap();
    assert_eq!(unresolved.status(), 502);
    assert_eq!(
        unresolved.text().await.unwrap(),
        r#"{"error":"upstream_unresolved"}"#
    );
    let metrics = client()
        .get(gateway.ops_url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(r#"gatehouse_upstream_failures_total{kind="unresolved"} 1"#),
        "{metrics}"
    );

    // The record moves: so does the traffic, without a restart.
    dns.set("app.test", &[Ipv4Addr::new(127, 0, 0, 3)]);
    let mut moved = false;
    for _ in 0..100 {
        let r = get("/app/x").await.unwrap();
        if r.headers()["x-server"] == "second" {
            moved = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(moved, "traffic never moved:\n{}", gateway.log());
    let before = first.served();
    for _ in 0..5 {
        assert_eq!(get("/app/x").await.unwrap().headers()["x-server"], "second");
    }
    assert_eq!(first.served(), before);

    // The name that did not resolve starts to: its route works.
    dns.set("later.test", &[Ipv4Addr::new(127, 0, 0, 2)]);
    let mut resolved = false;
    for _ in 0..100 {
        if get("/later/x").await.unwrap().status() == 200 {
            resolved = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(resolved, "later.test never resolved:\n{}", gateway.log());
    assert!(second.served() > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_server_failing_its_health_check_is_a_503_with_its_code() {
    let servers = [
        KillableServer::start(loopback(1, free_port()), "a").await,
        KillableServer::start(loopback(1, free_port()), "b").await,
    ];
    let config = format!(
        r#"
[[routes]]
prefix = "/app"
policy = "public"
upstream = ["http://{}", "http://{}"]
upstream_group = {{ health_check = {{ path = "/healthz", interval = "100ms", healthy_after = 1, unhealthy_after = 1 }} }}
"#,
        servers[0].addr, servers[1].addr
    );
    let (_db, _upstream, gateway) = common::stack(Kind::Sqlite, &config, &[]).await.unwrap();
    assert_eq!(
        client()
            .get(gateway.url("/app/x"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    // The first answer that is not a 200 after both turn unhealthy (checks every 100 ms).
    servers[0].set_healthy(false);
    servers[1].set_healthy(false);
    let mut refused = None;
    for _ in 0..100 {
        let r = client().get(gateway.url("/app/x")).send().await.unwrap();
        if r.status() != 200 {
            refused = Some((r.status().as_u16(), r.text().await.unwrap()));
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        refused,
        Some((503, r#"{"error":"no_healthy_upstream"}"#.to_string()))
    );
    servers[1].set_healthy(true);
    let mut back = false;
    for _ in 0..100 {
        let r = client().get(gateway.url("/app/x")).send().await.unwrap();
        if r.status() == 200 {
            assert_eq!(r.headers()["x-server"], "b", "a is still unhealthy");
            back = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(back, "b never came back:\n{}", gateway.log());
}
