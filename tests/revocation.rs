//! Revocation everywhere: two gateway processes on one PostgreSQL database with the notify
//! trigger installed. A session revoked through one gateway, or deleted or banned in plain SQL,
//! stops working on the other within a second, though both cache sessions for a minute.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::db::{Kind, TestDb};
use common::gateway::Gateway;
use common::upstream::Upstream;
use common::{client, eventually, random_token, session_cookie};

/// Sessions cached for a minute: only a notification can explain a faster rejection.
const CONFIG: &str = "[cache]\nmax_staleness = \"60s\"\nnegative_ttl = \"60s\"\n";

async fn status(gateway: &Gateway, token: &str) -> u16 {
    let response = client()
        .get(gateway.url("/data"))
        .header("cookie", session_cookie(token))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    response.status().as_u16()
}

/// Polls until `gateway` rejects `token`; how long it took, or `None` after `limit`.
async fn rejected_within(gateway: &Gateway, token: &str, limit: Duration) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if status(gateway, token).await == 401 {
            return Some(start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    None
}

async fn two_gateways(db: &TestDb, upstream: &Upstream) -> (Gateway, Gateway) {
    let env = [
        ("GATEHOUSE_UPSTREAM", upstream.url()),
        ("GATEHOUSE_DATABASE_URL", db.url.clone()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    (
        Gateway::start(CONFIG, &env).await,
        Gateway::start(CONFIG, &env).await,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocations_reach_every_instance_within_a_second() {
    let Some(db) = TestDb::migrated(Kind::Postgres).await else {
        return;
    };
    db.migrate_with(&["--notify-trigger"]);
    let upstream = Upstream::start().await;
    let (one, two) = two_gateways(&db, &upstream).await;
    let (signed_out, deleted, banned) = (random_token(), random_token(), random_token());
    db.seed(&signed_out, 3600).await;
    db.seed(&deleted, 3600).await;
    let (banned_user, _) = db.seed(&banned, 3600).await;
    for token in [&signed_out, &deleted, &banned] {
        assert_eq!(status(&one, token).await, 200);
        assert_eq!(status(&two, token).await, 200, "now cached on both");
    }
    // Give both listeners a moment to be connected.
    assert!(listening(&one).await);
    assert!(listening(&two).await);

    let out = client()
        .post(one.url("/api/auth/sign-out"))
        .header("cookie", session_cookie(&signed_out))
        .header("origin", format!("http://{}", one.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 200);
    assert_eq!(
        status(&one, &signed_out).await,
        401,
        "at once on the instance that revoked it"
    );
    let took = rejected_within(&two, &signed_out, Duration::from_secs(1)).await;
    assert!(
        took.is_some(),
        "sign-out through one gateway reaches the other within 1 s"
    );
    eprintln!("sign-out reached the other instance in {took:?}");

    db.exec(&format!(
        "DELETE FROM \"session\" WHERE \"token\" = '{deleted}'"
    ))
    .await;
    for gateway in [&one, &two] {
        let took = rejected_within(gateway, &deleted, Duration::from_secs(1)).await;
        assert!(
            took.is_some(),
            "a row deleted in plain SQL is rejected within 1 s"
        );
    }

    db.exec(&format!(
        "UPDATE \"user\" SET \"banned\" = true WHERE \"id\" = '{banned_user}'"
    ))
    .await;
    for gateway in [&one, &two] {
        let took = rejected_within(gateway, &banned, Duration::from_secs(1)).await;
        assert!(took.is_some(), "a ban in plain SQL is enforced within 1 s");
    }
}

/// Whether `gateway` logs that its revocation listener is connected within 5 s.
async fn listening(gateway: &Gateway) -> bool {
    eventually(Duration::from_secs(5), || {
        gateway.log().contains("revocation notices: listening")
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_trigger_staleness_is_bounded_by_the_cache() {
    let Some(db) = TestDb::migrated(Kind::Postgres).await else {
        return;
    };
    let upstream = Upstream::start().await;
    let (one, _two) = two_gateways(&db, &upstream).await;
    let token = random_token();
    db.seed(&token, 3600).await;
    assert_eq!(status(&one, &token).await, 200);
    db.exec(&format!(
        "DELETE FROM \"session\" WHERE \"token\" = '{token}'"
    ))
    .await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(
        status(&one, &token).await,
        200,
        "no trigger: the deleted session lives on until cache.max_staleness"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_listener_reconnects_and_drops_what_it_may_have_missed() {
    let Some(db) = TestDb::migrated(Kind::Postgres).await else {
        return;
    };
    db.migrate_with(&["--notify-trigger"]);
    let upstream = Upstream::start().await;
    let (one, _two) = two_gateways(&db, &upstream).await;
    assert!(listening(&one).await);
    let token = random_token();
    db.seed(&token, 3600).await;
    assert_eq!(status(&one, &token).await, 200);
    // A deletion whose notice is lost, then the listening connection dies.
    db.exec(&format!(
        "ALTER TABLE \"session\" DISABLE TRIGGER gatehouse_session_deleted; \
         DELETE FROM \"session\" WHERE \"token\" = '{token}'; \
         ALTER TABLE \"session\" ENABLE TRIGGER gatehouse_session_deleted;"
    ))
    .await;
    assert_eq!(status(&one, &token).await, 200, "missed: still cached");
    let database = db.url.rsplit('/').next().unwrap().to_string();
    db.exec(&format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = '{database}' AND query ILIKE 'LISTEN%'"
    ))
    .await;
    let took = rejected_within(&one, &token, Duration::from_secs(3)).await;
    assert!(
        took.is_some(),
        "after reconnecting, the cache was flushed:\n{}",
        one.log()
    );
    assert!(one.log().contains("reconnected; dropping cached sessions"));
}
