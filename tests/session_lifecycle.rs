//! The life of a session at the gateway, on real sockets with a real SQLite database: refresh,
//! expiry, the endpoints Gatehouse serves, Origin checks, rate limits, route rules, cleanup.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::db::{Kind, TestDb};
use common::gateway::Gateway;
use common::upstream::Upstream;
use common::{client, random_token, session_cookie};
use gatehouse::time::Timestamp;
use serde_json::Value;

async fn setup(config: &str) -> (TestDb, Upstream, Gateway) {
    common::stack(Kind::Sqlite, config, &[]).await.unwrap()
}

fn set_cookies(response: &reqwest::Response) -> Vec<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect()
}

async fn expires_at_ms(db: &TestDb, token: &str) -> Option<i64> {
    let pool = sqlx::SqlitePool::connect(&db.url).await.unwrap();
    let iso: Option<String> =
        sqlx::query_scalar(r#"SELECT "expiresAt" FROM "session" WHERE "token" = ?"#)
            .bind(token)
            .fetch_optional(&pool)
            .await
            .unwrap();
    iso.map(|t| {
        chrono::DateTime::parse_from_rfc3339(&t)
            .unwrap()
            .timestamp_millis()
    })
}

const CLEARED: [&str; 3] = [
    "better-auth.session_token=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax",
    "better-auth.session_data=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax",
    "better-auth.dont_remember=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_past_update_age_is_refreshed_through_the_proxy() {
    let (db, upstream, gateway) = setup("").await;
    let token = random_token();
    db.seed(&token, 5 * 86_400).await;
    let before = Timestamp::now();
    let response = client()
        .get(gateway.url("/page"))
        .header("cookie", session_cookie(&token))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let signed = gatehouse::auth::cookie::SigningKey::new(common::SECRET).sign_cookie_value(&token);
    assert_eq!(
        set_cookies(&response),
        vec![format!(
            "better-auth.session_token={signed}; Max-Age=604800; Path=/; HttpOnly; SameSite=Lax"
        )]
    );
    let expires = expires_at_ms(&db, &token).await.unwrap();
    let week = 604_800_000;
    assert!(
        expires >= before.millis() + week && expires <= Timestamp::now().millis() + week,
        "row moved to now + 7 days"
    );
    assert_eq!(upstream.count(), 1);
    let again = client()
        .get(gateway.url("/page"))
        .header("cookie", session_cookie(&token))
        .send()
        .await
        .unwrap();
    assert!(set_cookies(&again).is_empty(), "refreshed once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_session_is_rejected_cleared_and_deleted() {
    let (db, upstream, gateway) = setup("").await;
    let token = random_token();
    db.seed(&token, -5).await;
    let response = client()
        .get(gateway.url("/page"))
        .header("cookie", session_cookie(&token))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(set_cookies(&response), CLEARED);
    assert_eq!(expires_at_ms(&db, &token).await, None, "the row is deleted");
    assert_eq!(upstream.count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_session_answers_in_both_shapes() {
    let (db, upstream, gateway) = setup("").await;
    let token = random_token();
    let (user_id, session_id) = db.seed(&token, 3600).await;
    let get = |path: &'static str, cookie: Option<String>| {
        let mut r = client().get(gateway.url(path));
        if let Some(c) = cookie {
            r = r.header("cookie", c);
        }
        r.send()
    };
    let signed_out = get("/api/auth/get-session", None).await.unwrap();
    assert_eq!(signed_out.status(), 200);
    assert_eq!(signed_out.text().await.unwrap(), "null");
    let body: Value = get("/api/auth/get-session", Some(session_cookie(&token)))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["user"]["id"], user_id.as_str());
    assert_eq!(body["session"]["id"], session_id.as_str());
    assert_eq!(
        body["session"]["token"],
        session_id.as_str(),
        "the id stands in for the token"
    );
    assert!(!body.to_string().contains(&token));
    let snake: Value = get("/api/auth/session", Some(session_cookie(&token)))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(snake["session"]["user_id"], user_id.as_str());
    assert_eq!(snake["user"]["email"], format!("{user_id}@example.com"));
    let none = get("/api/auth/session", None)
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(none, r#"{"session":null,"user":null}"#);
    assert_eq!(upstream.count(), 0, "answered by the gateway itself");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_out_checks_origin_then_deletes_and_clears() {
    let (db, _upstream, gateway) = setup("").await;
    let token = random_token();
    db.seed(&token, 3600).await;
    let sign_out = |origin: Option<&str>| {
        let mut r = client()
            .post(gateway.url("/api/auth/sign-out"))
            .header("cookie", session_cookie(&token));
        if let Some(o) = origin {
            r = r.header("origin", o);
        }
        r.send()
    };
    let missing = sign_out(None).await.unwrap();
    assert_eq!(missing.status(), 403);
    assert!(missing
        .text()
        .await
        .unwrap()
        .contains("MISSING_OR_NULL_ORIGIN"));
    let foreign = sign_out(Some("https://evil.example")).await.unwrap();
    assert_eq!(foreign.status(), 403);
    assert!(foreign.text().await.unwrap().contains("INVALID_ORIGIN"));
    assert!(
        expires_at_ms(&db, &token).await.is_some(),
        "refused requests change nothing"
    );
    let own = format!("http://{}", gateway.addr);
    let ok = sign_out(Some(&own)).await.unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(set_cookies(&ok), CLEARED);
    assert_eq!(ok.text().await.unwrap(), r#"{"success":true}"#);
    assert_eq!(expires_at_ms(&db, &token).await, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn served_endpoints_are_rate_limited_per_client() {
    let (_db, _upstream, gateway) = setup("[rate_limit]\nmax = 3\nwindow = \"60s\"\n").await;
    for _ in 0..3 {
        let r = client()
            .get(gateway.url("/api/auth/get-session"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let limited = client()
        .get(gateway.url("/api/auth/get-session"))
        .send()
        .await
        .unwrap();
    assert_eq!(limited.status(), 429);
    let retry: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert_eq!(
        limited.headers()["x-retry-after"],
        limited.headers()["retry-after"],
        "Better Auth's header too"
    );
    assert_eq!(
        limited.text().await.unwrap(),
        r#"{"message":"Too many requests. Please try again later."}"#,
        "Better Auth's body"
    );
    let other = client()
        .get(gateway.url("/api/auth/session"))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 200, "each endpoint has its own window");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_sessions_needs_a_fresh_session_and_revocation_is_scoped_to_the_caller() {
    let (db, _upstream, gateway) = setup("").await;
    let (mine, other_mine, stranger) = (random_token(), random_token(), random_token());
    let (user_id, _) = db.seed(&mine, 3600).await;
    db.seed(&stranger, 3600).await;
    let now = Timestamp::now();
    let second = common::db::session(
        &other_mine,
        &user_id,
        now.plus(Duration::from_secs(3600)),
        now,
    );
    db.store("").insert_session(&second).await.unwrap();
    let origin = format!("http://{}", gateway.addr);

    let list: Value = client()
        .get(gateway.url("/api/auth/list-sessions"))
        .header("cookie", session_cookie(&mine))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list.as_array().unwrap().len(), 2);

    let revoke = |token: String| {
        client()
            .post(gateway.url("/api/auth/revoke-session"))
            .header("cookie", session_cookie(&mine))
            .header("origin", &origin)
            .json(&serde_json::json!({ "token": token }))
            .send()
    };
    assert_eq!(
        revoke(stranger.clone()).await.unwrap().status(),
        404,
        "not the caller's"
    );
    assert!(expires_at_ms(&db, &stranger).await.is_some());
    let ok = revoke(second.id.clone()).await.unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.text().await.unwrap(), r#"{"status":true,"revoked":1}"#);
    assert_eq!(expires_at_ms(&db, &other_mine).await, None);

    db.exec(&format!(
        "UPDATE \"session\" SET \"createdAt\" = '2020-01-01T00:00:00.000Z' WHERE \"token\" = '{mine}'"
    ))
    .await;
    let stale = client()
        .get(gateway.url("/api/auth/list-sessions?disableCookieCache=true"))
        .header("cookie", session_cookie(&mine))
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), 403);
    assert!(stale.text().await.unwrap().contains("SESSION_NOT_FRESH"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn route_rules_check_freshness_roles_and_ip() {
    let config = r#"
[[routes]]
prefix = "/fresh"
fresh_age = "1h"
[[routes]]
prefix = "/admin"
roles = ["admin"]
[[routes]]
prefix = "/bound"
bind_ip = true
"#;
    let (db, upstream, gateway) = setup(config).await;
    let (plain, admin, local) = (random_token(), random_token(), random_token());
    db.seed(&plain, 3600).await;
    let (admin_id, _) = db.seed(&admin, 3600).await;
    db.seed(&local, 3600).await;
    db.exec(&format!(
        "UPDATE \"user\" SET \"role\" = 'editor, admin' WHERE \"id\" = '{admin_id}';
         UPDATE \"session\" SET \"ipAddress\" = '127.0.0.1' WHERE \"token\" = '{local}';
         UPDATE \"session\" SET \"createdAt\" = '2020-01-01T00:00:00.000Z' WHERE \"token\" = '{plain}'"
    ))
    .await;
    let status = |path: &'static str, token: &str| {
        let cookie = session_cookie(token);
        let url = gateway.url(path);
        async move {
            client()
                .get(url)
                .header("cookie", cookie)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(status("/fresh", &plain).await, 403, "created in 2020");
    assert_eq!(status("/fresh", &admin).await, 200);
    assert_eq!(status("/admin", &plain).await, 403);
    assert_eq!(
        status("/admin", &admin).await,
        200,
        "one of several comma-separated roles"
    );
    assert_eq!(
        status("/bound", &plain).await,
        403,
        "created from 203.0.113.7"
    );
    assert_eq!(status("/bound", &local).await, 200);
    assert_eq!(upstream.count(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_rows_are_cleaned_up_in_the_background() {
    let (db, _upstream, gateway) = setup("[sessions]\ncleanup_interval = \"300ms\"\n").await;
    let tokens: Vec<String> = (0..3).map(|_| random_token()).collect();
    for t in &tokens {
        db.seed(t, -60).await;
    }
    let live = random_token();
    db.seed(&live, 3600).await;
    let mut gone = false;
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut remaining = 0;
        for t in &tokens {
            remaining += usize::from(expires_at_ms(&db, t).await.is_some());
        }
        if remaining == 0 {
            gone = true;
            break;
        }
    }
    assert!(gone, "expired rows deleted:\n{}", gateway.log());
    assert!(
        expires_at_ms(&db, &live).await.is_some(),
        "live sessions stay"
    );
    assert!(gateway.log().contains("expired sessions deleted"));
    let metrics = gateway.metrics_text().await;
    assert!(
        metrics.contains(r#"gatehouse_revocations_total{via="cleanup"} 3"#),
        "{metrics}"
    );
}
