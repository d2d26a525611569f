//! Failing closed: with PostgreSQL cut off (a TCP relay drops every connection and refuses new
//! ones), sessions the gateway has cached keep working and all others get 503, never forwarded.

#![allow(clippy::unwrap_used)]

mod common;

use std::net::SocketAddr;

use common::db::{Kind, TestDb};
use common::gateway::Gateway;
use common::relay::Relay;
use common::upstream::Upstream;
use common::{client, random_token, session_cookie};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_sessions_survive_an_outage_and_uncached_ones_get_503() {
    let Some(db) = TestDb::migrated(Kind::Postgres).await else {
        return;
    };
    let (cached, uncached) = (random_token(), random_token());
    db.seed(&cached, 3600).await;
    db.seed(&uncached, 3600).await;

    let after_at = db.url.split('@').nth(1).unwrap();
    let (server, database) = after_at.split_once('/').unwrap();
    let relay = Relay::start(server.parse::<SocketAddr>().unwrap()).await;
    let relayed_url = db.url.replace(
        &format!("{server}/{database}"),
        &format!("{}/{database}", relay.addr),
    );

    let upstream = Upstream::start().await;
    let config = "[database]\nacquire_timeout = \"1s\"\n[cache]\nmax_staleness = \"60s\"\n";
    let gateway = Gateway::start(
        config,
        &[
            ("GATEHOUSE_UPSTREAM", &upstream.url()),
            ("GATEHOUSE_DATABASE_URL", &relayed_url),
        ],
    )
    .await;
    let get = |token: &str| {
        client()
            .get(gateway.url("/data"))
            .header("cookie", session_cookie(token))
            .send()
    };

    assert_eq!(get(&cached).await.unwrap().status(), 200);
    relay.cut();

    assert_eq!(
        get(&cached).await.unwrap().status(),
        200,
        "a cached session works without the database"
    );
    let down = get(&uncached).await.unwrap();
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
    assert_eq!(
        get(&uncached).await.unwrap().status(),
        200,
        "lookups work again once the database is back"
    );
}
