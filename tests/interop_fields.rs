//! The app's own fields, through Gatehouse and straight from a real Better Auth 1.7: a user with
//! `additionalFields` of every type (one of them `returned: false`), a session field, and the
//! organization plugin's `activeOrganizationId`. `get-session` must answer the same JSON (types
//! included) from Gatehouse's database path and cookie-cache path as from Better Auth; each side
//! must read the `session_data` the other mints, whole and chunked (a user too large for one
//! cookie); `list-sessions` carries the session fields; the fields reach the upstream as
//! headers; a `returned: false` field never leaves; and an account-status rule refuses the
//! session.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::better_auth;
use common::db::{Kind, TestDb};
use common::{client, SECRET};
use gatehouse::auth::cookie::SigningKey;
use serde_json::{json, Value};

const USER_FIELDS: &str = r#"{
  "profession": {"type": "string", "required": false},
  "age": {"type": "number", "required": false},
  "isActive": {"type": "boolean", "required": false},
  "hiredAt": {"type": "date", "required": false},
  "tags": {"type": "string[]", "required": false},
  "scores": {"type": "number[]", "required": false},
  "prefs": {"type": "json", "required": false},
  "secretNote": {"type": "string", "required": false, "returned": false}
}"#;
const SESSION_FIELDS: &str = r#"{"deviceName": {"type": "string", "required": false}}"#;

/// The same deployment in Gatehouse's terms (appended to its `[better_auth]` table).
const GATEWAY_TOML: &str = r#"
[better_auth.cookie_cache]
enabled = true
[better_auth.user.additional_fields]
profession = { type = "string" }
age = { type = "number" }
isActive = { type = "boolean" }
hiredAt = { type = "date" }
tags = { type = "string[]" }
scores = { type = "number[]" }
prefs = { type = "json" }
secretNote = { type = "string", returned = false }
[better_auth.session.additional_fields]
deviceName = { type = "string" }
[better_auth.plugins]
organization = true
[cache]
max_staleness = "1ms"
[headers.fields]
"x-auth-profession" = "user.profession"
"x-auth-tags" = "user.tags"
"x-auth-active-org" = "session.activeOrganizationId"
"x-auth-device" = "session.deviceName"
[sessions.reject_when]
"user.isActive" = false
"#;

/// `name=value` of the cookie `name` among a response's `Set-Cookie`s.
fn set_cookie(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
        .find(|pair| pair.starts_with(&format!("{name}=")) && !pair.ends_with('='))
}

/// Every non-empty `session_data` cookie (whole or chunked) a response sets, as `name=value`.
fn data_cookies(response: &reqwest::Response) -> Vec<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
        .filter(|pair| pair.starts_with("better-auth.session_data") && !pair.ends_with('='))
        .collect()
}

async fn get_session(http: &reqwest::Client, url: &str, cookie: &str) -> (Value, Option<String>) {
    let response = http
        .get(format!("{url}/api/auth/get-session"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let data = set_cookie(&response, "better-auth.session_data");
    (response.json().await.unwrap(), data)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn additional_and_plugin_fields_read_the_same_through_the_gateway() {
    if !better_auth::installed() {
        return;
    }
    let Some(db) = TestDb::empty(Kind::Postgres).await else {
        return;
    };
    db.migrate_with(&[]);
    let (auth, upstream, gateway, public_url) = common::better_auth_stack_with(
        &db,
        &[
            ("USER_FIELDS", USER_FIELDS),
            ("SESSION_FIELDS", SESSION_FIELDS),
            ("ORGANIZATION", "1"),
            ("COOKIE_CACHE", "compact"),
            // Better Auth's migrator adds the fields' columns and the plugin's.
            ("BA_MIGRATE", "1"),
        ],
        GATEWAY_TOML,
    )
    .await;
    let http = client();
    let signed_up = http
        .post(format!("{}/api/auth/sign-up/email", auth.url()))
        .header("origin", &public_url)
        .json(&json!({"email": "pilot@example.com", "password": "correct horse battery", "name": "Pilot"}))
        .send()
        .await
        .unwrap();
    assert_eq!(signed_up.status(), 200);
    let body: Value = signed_up.json().await.unwrap();
    let (token, user_id) = (
        body["token"].as_str().unwrap().to_owned(),
        body["user"]["id"].as_str().unwrap().to_owned(),
    );
    common::remember_token(&token);
    // The app writes its fields (as its own code or Better Auth's updateUser would).
    db.exec(&format!(
        r#"UPDATE "user" SET "profession" = 'Biotechnology Engineer', "age" = 42, "isActive" = true,
           "hiredAt" = '2026-01-15 10:30:00.123+00', "tags" = '["a","b"]', "scores" = '[1,2.5]',
           "prefs" = '{{"theme":"dark","n":[1,null]}}', "secretNote" = 'hush' WHERE "id" = '{user_id}'"#
    ))
    .await;
    db.exec(&format!(
        r#"UPDATE "session" SET "deviceName" = 'laptop', "activeOrganizationId" = 'org-1'
           WHERE "token" = '{token}'"#
    ))
    .await;
    let token_cookie = format!(
        "better-auth.session_token={}",
        SigningKey::new(SECRET).sign_cookie_value(&token)
    );

    // Better Auth's answer from its database path, with the raw token replaced by the session
    // id (Gatehouse's one documented difference).
    let (mut direct, direct_data) = get_session(&http, &auth.url(), &token_cookie).await;
    assert_eq!(direct["user"]["tags"], json!(["a", "b"]), "{direct}");
    assert_eq!(
        direct["session"]["activeOrganizationId"], "org-1",
        "{direct}"
    );
    direct["session"]["token"] = direct["session"]["id"].clone();
    let direct_data = direct_data.expect("Better Auth minted session_data");

    // Gatehouse's database path answers the same JSON, types and all.
    let (through, gateway_data) = get_session(&http, &gateway.url(""), &token_cookie).await;
    assert_eq!(through, direct, "database path");
    let gateway_data = gateway_data.expect("Gatehouse minted session_data");
    assert!(!through.to_string().contains("hush") && !through.to_string().contains("secretNote"));

    // Its cookie-cache path, from the session_data Better Auth minted, answers the same.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let (from_cache, _) = get_session(
        &http,
        &gateway.url(""),
        &format!("{token_cookie}; {direct_data}"),
    )
    .await;
    assert_eq!(from_cache, direct, "cookie-cache path");

    // Better Auth reads the session_data Gatehouse minted: same fields, and no secretNote.
    let (mut reread, _) = get_session(
        &http,
        &auth.url(),
        &format!("{token_cookie}; {gateway_data}"),
    )
    .await;
    reread["session"]["token"] = reread["session"]["id"].clone();
    assert_eq!(
        reread, direct,
        "Better Auth reading Gatehouse's session_data"
    );
    let payload = gateway_data.split_once('=').unwrap().1;
    let decoded = String::from_utf8(
        base64::Engine::decode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            percent_encoding::percent_decode_str(payload)
                .decode_utf8()
                .unwrap()
                .as_bytes(),
        )
        .unwrap(),
    )
    .unwrap();
    assert!(decoded.contains("Biotechnology Engineer") && !decoded.contains("hush"));

    // The fields reach the upstream as headers.
    let page = http
        .get(gateway.url("/app"))
        .header("cookie", &token_cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let seen = upstream.last();
    assert_eq!(
        seen.header("x-auth-profession"),
        Some("Biotechnology Engineer")
    );
    assert_eq!(seen.header("x-auth-tags"), Some(r#"["a","b"]"#));
    assert_eq!(seen.header("x-auth-active-org"), Some("org-1"));
    assert_eq!(seen.header("x-auth-device"), Some("laptop"));

    // list-sessions carries the session's fields as Better Auth's does.
    let listed: Value = http
        .get(gateway.url("/api/auth/list-sessions"))
        .header("cookie", &token_cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let direct_list: Value = http
        .get(format!("{}/api/auth/list-sessions", auth.url()))
        .header("cookie", &token_cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(direct_list[0]["deviceName"], "laptop", "{direct_list}");
    assert_eq!(
        listed[0]["deviceName"], direct_list[0]["deviceName"],
        "{listed}"
    );
    assert_eq!(
        listed[0]["activeOrganizationId"],
        direct_list[0]["activeOrganizationId"]
    );

    // A user too large for one cookie: Better Auth's chunked session_data is read, and the
    // chunks Gatehouse mints are read by Better Auth.
    db.exec(&format!(
        r#"UPDATE "user" SET "profession" = '{}' WHERE "id" = '{user_id}'"#,
        "x".repeat(5000)
    ))
    .await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let fetch = |url: String, cookie: String| {
        let http = http.clone();
        async move {
            let response = http
                .get(format!("{url}/api/auth/get-session"))
                .header("cookie", cookie)
                .send()
                .await
                .unwrap();
            let chunks = data_cookies(&response);
            (response.json::<Value>().await.unwrap(), chunks)
        }
    };
    let (mut big, ba_chunks) = fetch(auth.url(), token_cookie.clone()).await;
    big["session"]["token"] = big["session"]["id"].clone();
    assert!(
        ba_chunks.len() >= 2 && ba_chunks[0].starts_with("better-auth.session_data.0="),
        "Better Auth chunks it: {ba_chunks:?}"
    );
    let (through, gh_chunks) = fetch(gateway.url(""), token_cookie.clone()).await;
    assert_eq!(through, big, "database path");
    let names = |chunks: &[String]| -> Vec<String> {
        chunks
            .iter()
            .map(|c| c.split('=').next().unwrap().to_owned())
            .collect()
    };
    assert_eq!(names(&gh_chunks), names(&ba_chunks), "the same chunk names");
    tokio::time::sleep(Duration::from_millis(20)).await;
    let (from_chunks, _) = fetch(
        gateway.url(""),
        format!("{token_cookie}; {}", ba_chunks.join("; ")),
    )
    .await;
    assert_eq!(from_chunks, big, "Better Auth's chunks, read by Gatehouse");
    let (mut reread, _) = fetch(
        auth.url(),
        format!("{token_cookie}; {}", gh_chunks.join("; ")),
    )
    .await;
    reread["session"]["token"] = reread["session"]["id"].clone();
    assert_eq!(reread, big, "Gatehouse's chunks, read by Better Auth");

    // The account-status rule: isActive = false refuses the session on every request.
    db.exec(&format!(
        r#"UPDATE "user" SET "isActive" = false WHERE "id" = '{user_id}'"#
    ))
    .await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let refused = http
        .get(gateway.url("/app"))
        .header("cookie", &token_cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    let (answer, _) = get_session(&http, &gateway.url(""), &token_cookie).await;
    assert_eq!(answer, Value::Null);
    let (still, _) = get_session(&http, &auth.url(), &token_cookie).await;
    assert_eq!(
        still["user"]["isActive"], false,
        "Better Auth itself has no such rule"
    );
}

/// `better_auth.get_session = "better_auth"`: Gatehouse forwards get-session to Better Auth, so
/// fields it was never told about (here, an undeclared additional field) reach the app as
/// Better Auth answers them, while routes are still authenticated by Gatehouse.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn better_auth_can_answer_get_session_itself() {
    if !better_auth::installed() {
        return;
    }
    let Some(db) = TestDb::empty(Kind::Postgres).await else {
        return;
    };
    db.migrate_with(&[]);
    let (auth, upstream, gateway, public_url) = common::better_auth_stack_with(
        &db,
        &[
            (
                "USER_FIELDS",
                r#"{"profession": {"type": "string", "required": false}}"#,
            ),
            ("BA_MIGRATE", "1"),
        ],
        "get_session = \"better_auth\"\n",
    )
    .await;
    let http = client();
    let signed_up = http
        .post(format!("{}/api/auth/sign-up/email", auth.url()))
        .header("origin", &public_url)
        .json(&json!({"email": "fwd@example.com", "password": "correct horse battery", "name": "Fwd", "profession": "Pilot"}))
        .send()
        .await
        .unwrap();
    assert_eq!(signed_up.status(), 200);
    let token = signed_up.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    common::remember_token(&token);
    let cookie = format!(
        "better-auth.session_token={}",
        SigningKey::new(SECRET).sign_cookie_value(&token)
    );
    let (direct, _) = get_session(&http, &auth.url(), &cookie).await;
    let (through, _) = get_session(&http, &gateway.url(""), &cookie).await;
    assert_eq!(direct["user"]["profession"], "Pilot");
    assert_eq!(
        through, direct,
        "Better Auth's own answer, raw token and all"
    );
    let seen_before = upstream.count();
    let page = http
        .get(gateway.url("/app"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(upstream.count(), seen_before + 1);
    assert_eq!(
        upstream.last().header("x-auth-user-email"),
        Some("fwd@example.com")
    );
    let anonymous = http.get(gateway.url("/app")).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
}

/// The organization plugin's member roles and the admin plugin's impersonation, made by a real
/// Better Auth, as Gatehouse's route rules read them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn organization_roles_and_impersonation_made_by_better_auth_drive_route_rules() {
    if !better_auth::installed() {
        return;
    }
    let Some(db) = TestDb::empty(Kind::Postgres).await else {
        return;
    };
    db.migrate_with(&[]);
    let (auth, upstream, gateway, public_url) = common::better_auth_stack_with(
        &db,
        &[("ORGANIZATION", "1"), ("BA_MIGRATE", "1")],
        r#"
[better_auth.plugins]
organization = true
[cache]
max_staleness = "1ms"
[[routes]]
prefix = "/org-admin"
organization_roles = ["owner", "admin"]
[[routes]]
prefix = "/no-impersonation"
refuse_impersonated = true
"#,
    )
    .await;
    let http = client();
    let post = |path: &str, cookie: Option<&str>, body: Value| {
        let mut request = http
            .post(format!("{}/api/auth/{path}", auth.url()))
            .header("origin", &public_url)
            .json(&body);
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        request.send()
    };
    let session_cookie = |response: &reqwest::Response| {
        set_cookie(response, "better-auth.session_token").expect("a session cookie")
    };
    let sign_up = |email: &'static str| {
        post(
            "sign-up/email",
            None,
            json!({"email": email, "password": "correct horse battery", "name": email}),
        )
    };
    let ada = sign_up("ada@example.com").await.unwrap();
    let ada_cookie = session_cookie(&ada);
    let ada_id = ada.json::<Value>().await.unwrap()["user"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let root = sign_up("root@example.com").await.unwrap();
    let root_cookie = session_cookie(&root);

    // Ada owns Acme (Better Auth makes her its owner and her active organization), and is a
    // plain member of Globex.
    let acme: Value = post(
        "organization/create",
        Some(&ada_cookie),
        json!({"name": "Acme", "slug": "acme"}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let globex: Value = post(
        "organization/create",
        Some(&root_cookie),
        json!({"name": "Globex", "slug": "globex"}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let globex_id = globex["id"].as_str().unwrap();
    db.exec(&format!(
        r#"INSERT INTO "member" ("id", "organizationId", "userId", "role", "createdAt")
           VALUES ('m-ada-globex', '{globex_id}', '{ada_id}', 'member', now())"#
    ))
    .await;
    let get = |path: &'static str, cookie: String| {
        let http = http.clone();
        let url = gateway.url(path);
        async move {
            http.get(url)
                .header("cookie", cookie)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    let set_active = |organization_id: String| {
        post(
            "organization/set-active",
            Some(&ada_cookie),
            json!({"organizationId": organization_id}),
        )
    };
    set_active(acme["id"].as_str().unwrap().to_owned())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(
        get("/org-admin/x", ada_cookie.clone()).await,
        200,
        "owner of the active one"
    );
    assert_eq!(
        set_active(globex_id.to_owned()).await.unwrap().status(),
        200
    );
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(
        get("/org-admin/x", ada_cookie.clone()).await,
        403,
        "a member of the active one"
    );

    // Root becomes an admin and impersonates Ada: Better Auth's impersonation session.
    db.exec(r#"UPDATE "user" SET "role" = 'admin' WHERE "email" = 'root@example.com'"#)
        .await;
    let impersonating = post(
        "admin/impersonate-user",
        Some(&root_cookie),
        json!({"userId": ada_id}),
    )
    .await
    .unwrap();
    assert_eq!(impersonating.status(), 200);
    let impersonated_cookie = session_cookie(&impersonating);
    let (session, _) = get_session(&http, &gateway.url(""), &impersonated_cookie).await;
    let root_id = session["session"]["impersonatedBy"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(session["user"]["email"], "ada@example.com");
    assert_eq!(
        get("/no-impersonation/x", impersonated_cookie.clone()).await,
        403
    );
    assert_eq!(get("/no-impersonation/x", ada_cookie.clone()).await, 200);
    assert_eq!(get("/app", impersonated_cookie).await, 200);
    assert_eq!(
        upstream.last().header("x-auth-impersonated-by"),
        Some(root_id.as_str())
    );
}
