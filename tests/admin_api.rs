//! The sessions admin API on real sockets: who may use it, every endpoint, every bad input.

#![allow(clippy::unwrap_used)]

mod common;

use common::db::{Kind, TestDb};
use common::gateway::Gateway;
use common::upstream::Upstream;
use common::{client, random_token, session_cookie};
use serde_json::Value;

const TOKEN: &str = "admin-token-0123456789abcdef";

async fn setup(config: &str) -> (TestDb, Upstream, Gateway) {
    common::stack(Kind::Sqlite, config, &[("GATEHOUSE_ADMIN_TOKEN", TOKEN)])
        .await
        .unwrap()
}

/// The JSON answer of an admin API call made with the bearer token (and `body`, if any).
async fn admin_json(
    gateway: &Gateway,
    method: reqwest::Method,
    path: &str,
    body: Option<&'static str>,
) -> Value {
    let mut request = api(gateway, method, path).bearer_auth(TOKEN);
    if let Some(body) = body {
        request = request.body(body);
    }
    request.send().await.unwrap().json().await.unwrap()
}

fn api(gateway: &Gateway, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
    client().request(method, gateway.url(&format!("/_gatehouse/api/{path}")))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_admins_get_in() {
    let (db, upstream, gateway) = setup("").await;
    let (admin, user) = (random_token(), random_token());
    let (admin_id, _) = db.seed(&admin, 3600).await;
    db.seed(&user, 3600).await;
    db.exec(&format!(
        "UPDATE \"user\" SET \"role\" = 'user,admin' WHERE \"id\" = '{admin_id}'"
    ))
    .await;
    let get = reqwest::Method::GET;
    let status =
        |r: reqwest::RequestBuilder| async move { r.send().await.unwrap().status().as_u16() };
    assert_eq!(
        status(api(&gateway, get.clone(), "sessions")).await,
        401,
        "anonymous"
    );
    assert_eq!(
        status(api(&gateway, get.clone(), "sessions").header("cookie", session_cookie(&user)))
            .await,
        403,
        "not an admin"
    );
    assert_eq!(
        status(api(&gateway, get.clone(), "sessions").bearer_auth("wrong-token-wrong-token")).await,
        401
    );
    assert_eq!(
        status(api(&gateway, get.clone(), "sessions").bearer_auth(TOKEN)).await,
        200
    );
    assert_eq!(
        status(api(&gateway, get.clone(), "sessions").header("cookie", session_cookie(&admin)))
            .await,
        200
    );
    assert_eq!(upstream.count(), 0, "admin requests never reach the app");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_are_listed_searched_and_revoked_everywhere() {
    let (db, _upstream, gateway) = setup("").await;
    let tokens: Vec<String> = (0..3).map(|_| random_token()).collect();
    let mut ids = Vec::new();
    for t in &tokens {
        ids.push(db.seed(t, 3600).await);
    }
    db.seed(&random_token(), -60).await;
    // A cached session that the admin revokes must stop working at once.
    assert_eq!(
        client()
            .get(gateway.url("/x"))
            .header("cookie", session_cookie(&tokens[0]))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    let page: Value = admin_json(
        &gateway,
        reqwest::Method::GET,
        "sessions?status=active&sort=createdAt&order=asc&pageSize=2",
        None,
    )
    .await;
    assert_eq!(page["total"], 3);
    assert_eq!(page["totalExact"], true);
    assert_eq!(page["sessions"].as_array().unwrap().len(), 2);
    assert!(
        !page.to_string().contains(&tokens[0]),
        "tokens are never returned"
    );
    let row = &page["sessions"][0];
    assert_eq!(row["status"], "active");
    assert!(row["user"]["email"]
        .as_str()
        .unwrap()
        .ends_with("@example.com"));

    let (user_id, session_id) = &ids[1];
    let found: Value = admin_json(
        &gateway,
        reqwest::Method::GET,
        &format!("sessions?search={}", &session_id[..10]),
        None,
    )
    .await;
    assert_eq!(found["total"], 1);
    assert_eq!(found["sessions"][0]["id"], session_id.as_str());

    let detail: Value = admin_json(
        &gateway,
        reqwest::Method::GET,
        &format!("sessions/{session_id}"),
        None,
    )
    .await;
    assert_eq!(detail["user"]["id"], user_id.as_str());
    assert_eq!(
        detail["location"]["kind"], "unknown",
        "no geo provider configured"
    );

    let (_, first_id) = &ids[0];
    let delete_first = || {
        api(
            &gateway,
            reqwest::Method::DELETE,
            &format!("sessions/{first_id}"),
        )
        .bearer_auth(TOKEN)
        .send()
    };
    let deleted = delete_first().await.unwrap();
    assert_eq!(deleted.status(), 200);
    assert_eq!(deleted.text().await.unwrap(), r#"{"revoked":1}"#);
    assert_eq!(delete_first().await.unwrap().status(), 404);
    let rejected = client()
        .get(gateway.url("/x"))
        .header("cookie", session_cookie(&tokens[0]))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(rejected.status(), 401, "revoked in the cache too, at once");

    let (user2, _) = &ids[2];
    let all: Value = admin_json(
        &gateway,
        reqwest::Method::DELETE,
        &format!("users/{user2}/sessions"),
        None,
    )
    .await;
    assert_eq!(all["revoked"], 1);
    let stats: Value = admin_json(&gateway, reqwest::Method::GET, "stats", None).await;
    assert_eq!(
        (
            stats["total"].as_u64(),
            stats["active"].as_u64(),
            stats["expired"].as_u64()
        ),
        (Some(2), Some(1), Some(1))
    );
    assert_eq!(stats["usersWithSessions"], 1);
    assert_eq!(
        stats["byCountry"][0]["country"], "Unknown",
        "203.0.113.x is documentation space"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_parameters_get_a_400_naming_them() {
    let (_db, _upstream, gateway) = setup("").await;
    for (query, parameter) in [
        ("sessions?page=0", "page"),
        ("sessions?page=x", "page"),
        ("sessions?pageSize=101", "pageSize"),
        ("sessions?status=gone", "status"),
        ("sessions?sort=token", "sort"),
        ("sessions?order=up", "order"),
    ] {
        let r = api(&gateway, reqwest::Method::GET, query)
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{query}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["parameter"], parameter, "{query}");
    }
    let long = format!("sessions?search={}", "a".repeat(201));
    assert_eq!(
        api(&gateway, reqwest::Method::GET, &long)
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap()
            .status(),
        400
    );
    let geo = |body: &'static str| {
        api(&gateway, reqwest::Method::POST, "geo/resolve")
            .bearer_auth(TOKEN)
            .body(body)
            .send()
    };
    assert_eq!(geo("{}").await.unwrap().status(), 400);
    assert_eq!(geo(r#"{"ip":"not-an-ip"}"#).await.unwrap().status(), 400);
    let local: Value = geo(r#"{"ip":"127.0.0.1"}"#)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(local["kind"], "loopback");
    let private: Value = geo(r#"{"ip":"10.1.2.3"}"#)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(private["kind"], "private");
    let not_found = client()
        .get(gateway.url("/_gatehouse/api/nope"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(not_found.status(), 404);
    let wrong_method = client()
        .put(gateway.url("/_gatehouse/api/sessions"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_method.status(), 405);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_origin_deletes_with_cookies_are_refused() {
    let (db, _upstream, gateway) = setup("").await;
    let (admin, victim) = (random_token(), random_token());
    let (admin_id, _) = db.seed(&admin, 3600).await;
    let (_, victim_session) = db.seed(&victim, 3600).await;
    db.exec(&format!(
        "UPDATE \"user\" SET \"role\" = 'admin' WHERE \"id\" = '{admin_id}'"
    ))
    .await;
    let delete = |origin: &str| {
        api(
            &gateway,
            reqwest::Method::DELETE,
            &format!("sessions/{victim_session}"),
        )
        .header("cookie", session_cookie(&admin))
        .header("origin", origin.to_string())
        .send()
    };
    let evil = delete("https://evil.example").await.unwrap();
    assert_eq!(evil.status(), 403);
    assert!(evil.text().await.unwrap().contains("INVALID_ORIGIN"));
    assert_eq!(
        db.count(&format!(
            "SELECT COUNT(*) FROM \"session\" WHERE \"id\" = '{victim_session}'"
        ))
        .await,
        1
    );
    let own = delete(&format!("http://{}", gateway.addr)).await.unwrap();
    assert_eq!(own.status(), 200);
    assert_eq!(
        db.count(&format!(
            "SELECT COUNT(*) FROM \"session\" WHERE \"id\" = '{victim_session}'"
        ))
        .await,
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seeding_is_off_unless_allowed_and_creates_usable_rows() {
    let (db, _upstream, off) = setup("").await;
    db.seed(&random_token(), 3600).await;
    let refused = api(&off, reqwest::Method::POST, "seed/sessions")
        .bearer_auth(TOKEN)
        .body(r#"{"count":3}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    drop(off);

    let (db, _upstream, gateway) = setup("[admin]\nallow_seeding = true\n").await;
    db.seed(&random_token(), 3600).await;
    for bad in [
        r#"{"count":0}"#,
        r#"{"count":101}"#,
        r#"{"count":"3"}"#,
        "nope",
    ] {
        let r = api(&gateway, reqwest::Method::POST, "seed/sessions")
            .bearer_auth(TOKEN)
            .body(bad)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{bad}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["parameter"], "count");
    }
    let made: Value = admin_json(
        &gateway,
        reqwest::Method::POST,
        "seed/sessions",
        Some(r#"{"count":5}"#),
    )
    .await;
    assert_eq!(
        (made["created"].as_u64(), made["failed"].as_u64()),
        (Some(5), Some(0))
    );
    assert_eq!(db.count("SELECT COUNT(*) FROM \"session\"").await, 6);
    let accounts: Value = admin_json(
        &gateway,
        reqwest::Method::POST,
        "seed/accounts",
        Some(r#"{"count":4}"#),
    )
    .await;
    assert_eq!(accounts["created"], 4);
    assert_eq!(db.count("SELECT COUNT(*) FROM \"account\"").await, 4);
    assert!(gateway.log().contains("seeding finished"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_is_embedded_with_a_strict_policy() {
    let (_db, _upstream, gateway) = setup("").await;
    let page = client()
        .get(gateway.url("/_gatehouse/"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("script-src 'self'"),
        "{csp}"
    );
    assert_eq!(page.headers()["x-frame-options"], "DENY");
    let html = page.text().await.unwrap();
    assert!(
        html.contains("assets/app.js") && !html.contains("http://") && !html.contains("https://")
    );
    let js = client()
        .get(gateway.url("/_gatehouse/assets/app.js"))
        .send()
        .await
        .unwrap();
    assert!(js.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/javascript"));
    assert_eq!(
        client()
            .get(gateway.url("/_gatehouse/assets/other.js"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_name_countries_on_the_first_call() {
    let mmdb = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/geo/test-city.mmdb"
    );
    let (db, _upstream, gateway) = setup(&format!(
        "[geo]\nprovider = \"mmdb\"\nmmdb_path = \"{mmdb}\"\n"
    ))
    .await;
    let (london, private, local) = (random_token(), random_token(), random_token());
    for (token, ip) in [
        (&london, "81.2.69.160"),
        (&private, "10.0.0.5"),
        (&local, "127.0.0.1"),
    ] {
        db.seed(token, 3600).await;
        db.exec(&format!(
            "UPDATE \"session\" SET \"ipAddress\" = '{ip}' WHERE \"token\" = '{token}'"
        ))
        .await;
    }
    let stats: Value = admin_json(&gateway, reqwest::Method::GET, "stats", None).await;
    let countries: Vec<(String, String)> = stats["byCountry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["country"].as_str().unwrap().to_string(),
                c["flag"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        countries.contains(&("United Kingdom".into(), "🇬🇧".into())),
        "{countries:?}"
    );
    assert!(
        countries.iter().any(|(c, _)| c == "Private network"),
        "{countries:?}"
    );
    assert!(
        countries.iter().any(|(c, _)| c == "Localhost"),
        "{countries:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_separate_admin_listener_serves_the_admin_and_nothing_else() {
    let admin_addr = format!("127.0.0.1:{}", common::free_port());
    let (db, upstream, gateway) = common::stack(
        Kind::Sqlite,
        "",
        &[
            ("GATEHOUSE_ADMIN_TOKEN", TOKEN),
            ("GATEHOUSE_ADMIN_LISTEN", &admin_addr),
        ],
    )
    .await
    .unwrap();
    let user = random_token();
    db.seed(&user, 3600).await;
    let on_admin = |path: &str| format!("http://{admin_addr}/_gatehouse{path}");

    let listed = client()
        .get(on_admin("/api/sessions"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), 200);
    let listed: Value = listed.json().await.unwrap();
    assert_eq!(listed["total"], 1);
    let page = client().get(on_admin("/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("Sessions"));
    let anonymous = client()
        .get(on_admin("/api/sessions"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401, "access rules are the same there");
    for other in ["/", "/api/auth/get-session", "/public/x"] {
        let response = client()
            .get(format!("http://{admin_addr}{other}"))
            .bearer_auth(TOKEN)
            .header("cookie", session_cookie(&user))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404, "{other} is not the admin's");
    }
    assert_eq!(upstream.count(), 0, "the admin listener never proxies");

    // On the proxy listener the mount is an ordinary path: authenticated, then sent to the app.
    let via_proxy = api(&gateway, reqwest::Method::GET, "sessions")
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(via_proxy.status(), 401, "no session: the default policy");
    let with_session = api(&gateway, reqwest::Method::GET, "sessions")
        .header("cookie", session_cookie(&user))
        .send()
        .await
        .unwrap();
    assert_eq!(with_session.status(), 200);
    assert_eq!(upstream.last().path, "/_gatehouse/api/sessions");
}

/// Bodies past a served route's limit get a 413 and are never read further, on the admin
/// (4 KiB) and on the session API (16 KiB); the gateway keeps serving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_bodies_get_a_413() {
    let (db, upstream, gateway) = setup("[admin]\nallow_seeding = true\n").await;
    let admin = api(&gateway, reqwest::Method::POST, "seed/sessions")
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body(format!(r#"{{"count":1,"pad":"{}"}}"#, "x".repeat(5 * 1024)))
        .send()
        .await
        .unwrap();
    assert_eq!(admin.status(), 413);
    assert_eq!(admin.text().await.unwrap(), r#"{"error":"body_too_large"}"#);
    let token = random_token();
    db.seed(&token, 3600).await;
    let origin = format!("http://{}", gateway.addr);
    let revoke = client()
        .post(gateway.url("/api/auth/revoke-session"))
        .header("cookie", session_cookie(&token))
        .header("origin", &origin)
        .header("content-type", "application/json")
        .body(format!(r#"{{"token":"{}"}}"#, "x".repeat(17 * 1024)))
        .send()
        .await
        .unwrap();
    assert_eq!(revoke.status(), 413);
    let still = client()
        .get(gateway.url("/api/auth/get-session"))
        .header("cookie", session_cookie(&token))
        .send()
        .await
        .unwrap();
    assert_eq!(still.status(), 200, "nothing was revoked");
    assert_ne!(still.text().await.unwrap(), "null");
    assert_eq!(upstream.count(), 0);
}
