//! Gatehouse in front of a real Better Auth 1.7 server on PostgreSQL: the schema Gatehouse's
//! `migrate` creates is the one Better Auth expects, users sign up and in through the gateway,
//! and the cookies Better Auth sets are the ones Gatehouse accepts, byte for byte.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::better_auth::{self};
use common::db::{Kind, TestDb};
use common::{client, SECRET};
use gatehouse::auth::cookie::SigningKey;
use serde_json::{json, Value};

/// `name=value` of the session cookie in a response's `Set-Cookie` headers.
fn session_cookie_from(response: &reqwest::Response) -> String {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .find(|v| v.starts_with("better-auth.session_token="))
        .and_then(|v| v.split(';').next())
        .expect("Better Auth set a session cookie")
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn better_auth_sessions_work_through_the_gateway() {
    if !better_auth::installed() {
        return;
    }
    let Some(db) = TestDb::empty(Kind::Postgres).await else {
        return;
    };
    db.migrate_with(&[]);
    better_auth::check_schema(&db.url)
        .expect("Better Auth finds nothing to add to Gatehouse's schema");

    // Better Auth's public URL is the gateway's, as in a real deployment.
    let (auth, upstream, gateway, public_url) =
        common::better_auth_stack(&db, "[cache]\nmax_staleness = \"1s\"\n").await;
    let http = client();

    // Sign up through the gateway: the Better Auth base path is passed through untouched.
    let credentials = json!({"email": "ada@example.com", "password": "correct horse battery", "name": "Ada Lovelace"});
    let signed_up = http
        .post(gateway.url("/api/auth/sign-up/email"))
        .header("origin", &public_url)
        .json(&credentials)
        .send()
        .await
        .unwrap();
    assert_eq!(signed_up.status(), 200);
    let cookie = session_cookie_from(&signed_up);
    let body: Value = signed_up.json().await.unwrap();
    let (user_id, token) = (
        body["user"]["id"].as_str().unwrap(),
        body["token"].as_str().unwrap(),
    );
    assert_eq!(
        cookie,
        format!(
            "better-auth.session_token={}",
            SigningKey::new(SECRET).sign_cookie_value(token)
        ),
        "Gatehouse signs exactly as Better Auth does"
    );
    assert_eq!(
        upstream.count(),
        0,
        "auth routes went to Better Auth, not the app"
    );

    // The app behind the gateway sees who the user is.
    let session: Value = http
        .get(gateway.url("/api/auth/get-session"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let session_id = session["session"]["id"]
        .as_str()
        .expect("Better Auth knows the session");
    let page = http
        .get(gateway.url("/dashboard"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let seen = upstream.last();
    assert_eq!(seen.header("x-auth-user-id"), Some(user_id));
    assert_eq!(seen.header("x-auth-user-email"), Some("ada@example.com"));
    assert_eq!(seen.header("x-auth-user-name"), Some("Ada Lovelace"));
    assert_eq!(
        seen.header("x-auth-user-role"),
        Some("user"),
        "the admin plugin's default role"
    );
    assert_eq!(seen.header("x-auth-session-id"), Some(session_id));

    // A second session from signing in; then signing out the first through Better Auth.
    let signed_in = http
        .post(gateway.url("/api/auth/sign-in/email"))
        .header("origin", &public_url)
        .json(&json!({"email": "ada@example.com", "password": "correct horse battery"}))
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), 200);
    let second = session_cookie_from(&signed_in);
    assert_ne!(second, cookie);
    let signed_out = http
        .post(gateway.url("/api/auth/sign-out"))
        .header("origin", &public_url)
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(signed_out.status(), 200);
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let get = |c: &str| {
        http.get(gateway.url("/dashboard"))
            .header("cookie", c.to_string())
            .header("accept", "application/json")
            .send()
    };
    assert_eq!(
        get(&cookie).await.unwrap().status(),
        401,
        "signed out in Better Auth: rejected at the gateway"
    );
    assert_eq!(get(&second).await.unwrap().status(), 200);

    // A refresh written by Gatehouse is what Better Auth then reads: move the second session
    // into the refresh window, let the gateway refresh it, and ask Better Auth directly.
    let in_five_days = "NOW() + INTERVAL '5 days'";
    let second_token = percent_encoding::percent_decode_str(second.split_once('=').unwrap().1)
        .decode_utf8()
        .unwrap()
        .rsplit_once('.')
        .unwrap()
        .0
        .to_string();
    db.exec(&format!(
        "UPDATE \"session\" SET \"expiresAt\" = {in_five_days} WHERE \"token\" = '{second_token}'"
    ))
    .await;
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let refreshed = get(&second).await.unwrap();
    assert_eq!(refreshed.status(), 200);
    assert!(
        refreshed
            .headers()
            .get_all("set-cookie")
            .iter()
            .any(|c| c.to_str().unwrap().contains("Max-Age=604800")),
        "the gateway refreshed the session"
    );
    let seen_by_better_auth: Value = http
        .get(format!(
            "{}/api/auth/get-session?disableCookieCache=true&disableRefresh=true",
            auth.url()
        ))
        .header("cookie", &second)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let expires = seen_by_better_auth["session"]["expiresAt"]
        .as_str()
        .unwrap();
    let expires = chrono::DateTime::parse_from_rfc3339(expires)
        .unwrap()
        .timestamp_millis();
    let week_from_now = gatehouse::time::Timestamp::now().millis() + 604_800_000;
    assert!(
        (week_from_now - expires).abs() < 60_000,
        "Better Auth reads the new expiry: {seen_by_better_auth}"
    );

    // A ban written by the app (Better Auth itself would keep serving this session).
    db.exec(&format!(
        "UPDATE \"user\" SET \"banned\" = true WHERE \"id\" = '{user_id}'"
    ))
    .await;
    tokio::time::sleep(Duration::from_millis(1300)).await;
    assert_eq!(
        get(&second).await.unwrap().status(),
        401,
        "banned users are rejected"
    );
    assert!(!gateway.log().contains(token), "tokens are never logged");
}

/// Better Auth accepts the `session_data` Gatehouse mints, in every strategy, with and without
/// "don't remember me": its own `/get-session`, on an empty database, returns the session.
#[test]
fn better_auth_accepts_the_session_data_gatehouse_mints() {
    use gatehouse::auth::cookie_cache::CookieCache;
    use gatehouse::config::{CookieCacheConfig, CookieCacheStrategy};
    use gatehouse::session::SessionRecord;
    use gatehouse::time::Timestamp;

    if !better_auth::installed() {
        return;
    }
    let now = Timestamp::now();
    let (user, session) = (
        common::db::user("zoe", now),
        common::db::session(
            "cacheTokencacheTokencacheToken01",
            "zoe",
            now.plus(Duration::from_secs(86_400)),
            now,
        ),
    );
    let record = SessionRecord { session, user };
    for strategy in [
        CookieCacheStrategy::Compact,
        CookieCacheStrategy::Jwt,
        CookieCacheStrategy::Jwe,
    ] {
        let config = CookieCacheConfig {
            strategy,
            max_age: Duration::from_secs(300),
            version: "1".into(),
            max_trust: Duration::from_secs(300),
        };
        for dont_remember in [false, true] {
            let value = CookieCache::new(&config, SECRET).encode(&record, now, dont_remember);
            let name = format!("{strategy:?}").to_lowercase();
            let now_ms = now.millis().to_string();
            let mut args = vec!["cache.mjs", "verify", "--secret", SECRET, "--now", &now_ms];
            args.extend(["--strategy", &name, "--token", &record.session.token]);
            if dont_remember {
                args.push("--dont-remember");
            }
            args.push(&value);
            let out = std::process::Command::new("node")
                .args(&args)
                .current_dir(better_auth::project_dir())
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{name} dont_remember={dont_remember}: Better Auth rejected it: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}
