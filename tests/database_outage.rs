//! Failing closed: with PostgreSQL cut off (a TCP relay drops every connection and refuses new
//! ones), sessions the gateway has cached keep working and all others get 503, never forwarded.
//! Once it is back, pooled connections the cut killed cost no request: a lookup that meets one
//! tries the next connection, and one idle for a second is pinged before use.

#![allow(clippy::unwrap_used)]

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::db::{store_at, Kind, TestDb};
use common::gateway::Gateway;
use common::relay::Relay;
use common::upstream::Upstream;
use common::{client, random_token, session_cookie};

/// A relay in front of `db`'s server, and the URL of `db` through it.
async fn relay_to(db: &TestDb) -> (Relay, String) {
    let after_at = db.url.split('@').nth(1).unwrap();
    let (server, database) = after_at.split_once('/').unwrap();
    let relay = Relay::start(server.parse::<SocketAddr>().unwrap()).await;
    let relayed_url = db.url.replace(
        &format!("{server}/{database}"),
        &format!("{}/{database}", relay.addr),
    );
    (relay, relayed_url)
}

/// A gateway reading the database at `database_url`, in front of a fresh upstream.
async fn gateway_on(database_url: &str) -> (Upstream, Gateway) {
    let upstream = Upstream::start().await;
    let config = "[database]\nacquire_timeout = \"1s\"\n[cache]\nmax_staleness = \"60s\"\n";
    let gateway = Gateway::start(
        config,
        &[
            ("GATEHOUSE_UPSTREAM", &upstream.url()),
            ("GATEHOUSE_DATABASE_URL", database_url),
        ],
    )
    .await;
    (upstream, gateway)
}

/// A request for `/data` with `token`'s session cookie.
async fn get(gateway: &Gateway, token: &str) -> reqwest::Response {
    client()
        .get(gateway.url("/data"))
        .header("cookie", session_cookie(token))
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_sessions_survive_an_outage_and_uncached_ones_get_503() {
    let Some(db) = TestDb::migrated(Kind::Postgres).await else {
        return;
    };
    let (cached, uncached) = (random_token(), random_token());
    db.seed(&cached, 3600).await;
    db.seed(&uncached, 3600).await;
    let (relay, relayed_url) = relay_to(&db).await;
    let (upstream, gateway) = gateway_on(&relayed_url).await;

    assert_eq!(get(&gateway, &cached).await.status(), 200);
    relay.cut();

    assert_eq!(
        get(&gateway, &cached).await.status(),
        200,
        "a cached session works without the database"
    );
    let down = get(&gateway, &uncached).await;
    assert_eq!(down.status(), 503);
    assert_eq!(down.headers()["retry-after"], "1");
    assert_eq!(
        down.text().await.unwrap(),
        r#"{"error":"session_store_unavailable"}"#
    );
    assert_eq!(
        upstream.count(),
        2,
        "the uncached request was never forwarded"
    );
    assert!(gateway.log().contains("session lookup failed"));
    assert!(
        !gateway.log().contains(&uncached),
        "the token is never logged"
    );

    let _relay = relay.restore().await;
    // The pool still holds the connections the cut killed, idle for under a second: the
    // lookup meets them and tries again past them.
    assert_eq!(
        get(&gateway, &uncached).await.status(),
        200,
        "lookups work again once the database is back:\n{}",
        gateway.log()
    );
}

/// The pool hands out a connection idle for a second or more only after pinging it, so one
/// that died while idle (here: the relay dropped it) is replaced, not used. Shown with a delete,
/// which, unlike the session lookup, is not tried again on an I/O error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_that_died_while_idle_is_replaced_before_use() {
    let Some(db) = TestDb::migrated(Kind::Postgres).await else {
        return;
    };
    let token = random_token();
    db.seed(&token, 3600).await;
    let (relay, relayed_url) = relay_to(&db).await;
    let store = store_at(&relayed_url, "");

    assert!(store.find_session(&token).await.unwrap().is_some());
    relay.cut();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let _relay = relay.restore().await;
    assert!(
        store.delete_session(&token).await.unwrap(),
        "deleted through a new connection"
    );
}

/// PostgreSQL ending the gateway's pooled connections (a restart, `pg_terminate_backend`) costs
/// no lookup either: the connection answers with a fatal error, and the lookup tries the next.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_the_server_terminated_cost_no_lookup() {
    let Some(db) = TestDb::migrated(Kind::Postgres).await else {
        return;
    };
    let (first, second) = (random_token(), random_token());
    db.seed(&first, 3600).await;
    db.seed(&second, 3600).await;
    let (_upstream, gateway) = gateway_on(&db.url).await;
    assert_eq!(get(&gateway, &first).await.status(), 200);
    let database = db.url.rsplit('/').next().unwrap().to_string();
    db.exec(&format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = '{database}' AND pid <> pg_backend_pid() AND query NOT ILIKE 'LISTEN%'"
    ))
    .await;
    assert_eq!(
        get(&gateway, &second).await.status(),
        200,
        "the lookup went past the terminated connection:\n{}",
        gateway.log()
    );
}
