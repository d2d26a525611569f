//! The cookies Gatehouse writes, compared with the ones a real Better Auth 1.7 server writes for
//! the same request, on a deployment that changes every cookie attribute Better Auth lets an app
//! change: `crossSubDomainCookies`, `defaultCookieAttributes` (SameSite=None, Partitioned), a
//! per-cookie override, the cookie cache, `updateAge = 0` (every read refreshes), the account
//! cookie and cookie-stored OAuth state, and the multi-session plugin. Each scenario sends the same cookies once straight to Better Auth and
//! once to Gatehouse (which answers `get-session` and `sign-out` itself); the `Set-Cookie` lists
//! must be equal, name by name and attribute by attribute, and so must the rows left behind.

#![allow(clippy::unwrap_used)]

mod common;

use common::better_auth;
use common::db::{Kind, TestDb};
use common::{client, SECRET};
use gatehouse::auth::cookie::SigningKey;
use serde_json::{json, Value};

const DOMAIN: &str = "example.test";
const AUTH_ENV: &[(&str, &str)] = &[
    ("COOKIE_CACHE", "compact"),
    ("UPDATE_AGE", "0"),
    ("MULTI_SESSION", "1"),
    ("COOKIE_DOMAIN", DOMAIN),
    (
        "COOKIE_ATTRIBUTES",
        r#"{"sameSite":"none","partitioned":true}"#,
    ),
    (
        "COOKIES",
        r#"{"session_data":{"attributes":{"sameSite":"strict"}}}"#,
    ),
    (
        "ACCOUNT",
        r#"{"storeAccountCookie":true,"storeStateStrategy":"cookie"}"#,
    ),
];
/// The same deployment in Gatehouse's terms (appended to its `[better_auth]` table).
const GATEWAY_TOML: &str = r#"update_age = 0
[better_auth.plugins]
multi_session = true
[better_auth.cookie_cache]
enabled = true
[better_auth.cross_sub_domain_cookies]
enabled = true
domain = "example.test"
[better_auth.default_cookie_attributes]
same_site = "none"
partitioned = true
[better_auth.cookie_attributes.session_data]
same_site = "strict"
[better_auth.account]
store_account_cookie = true
store_state_strategy = "cookie"
"#;

/// Every `Set-Cookie` of a response, `session_data` values (timestamps and signatures of the
/// moment they were minted) replaced by `<minted>`.
fn set_cookies(response: &reqwest::Response) -> Vec<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| {
            let v = v.to_str().unwrap();
            let (name, rest) = v.split_once('=').unwrap();
            let (value, attributes) = rest.split_once(';').unwrap_or((rest, ""));
            if name.contains("session_data") && !value.is_empty() {
                format!("{name}=<minted>;{attributes}")
            } else {
                v.to_owned()
            }
        })
        .collect()
}

/// `name=value` pairs of the cookies a response sets (what a browser would send back).
fn cookie_pairs(response: &reqwest::Response) -> Vec<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
        .filter(|pair| !pair.ends_with('='))
        .collect()
}

/// A browser's cookie jar, reduced to what these scenarios need.
#[derive(Default, Clone)]
struct Browser {
    cookies: Vec<String>,
}

impl Browser {
    /// Takes what `response` sets: later values replace earlier ones of the same name.
    fn take(&mut self, response: &reqwest::Response) {
        for pair in cookie_pairs(response) {
            let name = pair.split('=').next().unwrap().to_owned();
            self.cookies.retain(|c| !c.starts_with(&format!("{name}=")));
            self.cookies.push(pair);
        }
    }

    fn without(&self, part: &str) -> String {
        self.cookies
            .iter()
            .filter(|c| !c.contains(part))
            .cloned()
            .collect::<Vec<_>>()
            .join("; ")
    }
}

struct Deployment {
    http: reqwest::Client,
    /// Better Auth's own address, and the gateway's (Better Auth's public URL).
    direct: String,
    gateway: String,
    origin: String,
}

impl Deployment {
    async fn sign_up(&self, browser: &mut Browser, email: &str) -> String {
        let response = self
            .http
            .post(format!("{}/api/auth/sign-up/email", self.direct))
            .header("origin", &self.origin)
            .header("cookie", browser.cookies.join("; "))
            .json(&json!({"email": email, "password": "correct horse battery", "name": email}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        browser.take(&response);
        let body: Value = response.json().await.unwrap();
        body["token"].as_str().unwrap().to_owned()
    }

    async fn get_session(&self, base: &str, cookie: &str) -> (Vec<String>, Value) {
        let response = self
            .http
            .get(format!("{base}/api/auth/get-session"))
            .header("cookie", cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        (set_cookies(&response), response.json().await.unwrap())
    }

    async fn sign_out(&self, base: &str, cookie: &str) -> Vec<String> {
        let response = self
            .http
            .post(format!("{base}/api/auth/sign-out"))
            .header("origin", &self.origin)
            .header("cookie", cookie)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        set_cookies(&response)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gatehouse_writes_the_cookies_better_auth_writes() {
    if !better_auth::installed() {
        return;
    }
    let Some(db) = TestDb::empty(Kind::Postgres).await else {
        return;
    };
    db.migrate_with(&[]);
    let (auth, _upstream, gateway, public_url) =
        common::better_auth_stack_with(&db, AUTH_ENV, GATEWAY_TOML).await;
    let d = Deployment {
        http: client(),
        direct: auth.url(),
        gateway: gateway.url(""),
        origin: public_url,
    };
    let key = SigningKey::new(SECRET);

    // Refresh (updateAge 0: every database read refreshes), read from the database (no
    // session_data sent): the session cookie and a fresh session_data, with the deployment's
    // attributes, the same from both.
    let mut one = Browser::default();
    let token = d.sign_up(&mut one, "refresh@example.com").await;
    let token_cookie = format!(
        "better-auth.session_token={}",
        key.sign_cookie_value(&token)
    );
    let attrs = format!("Domain={DOMAIN}; Path=/; HttpOnly; Secure; SameSite=None; Partitioned");
    let data_attrs =
        format!("Domain={DOMAIN}; Path=/; HttpOnly; Secure; SameSite=Strict; Partitioned");
    let expected_refresh = vec![
        format!("{token_cookie}; Max-Age=604800; {attrs}"),
        format!("better-auth.session_data=<minted>; Max-Age=300; {data_attrs}"),
    ];
    let request = one.without("session_data");
    let (direct, direct_body) = d.get_session(&d.direct, &request).await;
    assert_eq!(direct, expected_refresh, "what Better Auth writes");
    let (through, through_body) = d.get_session(&d.gateway, &request).await;
    assert_eq!(through, expected_refresh, "what Gatehouse writes");
    assert_eq!(
        direct_body["session"]["id"], through_body["session"]["id"],
        "the same session"
    );

    // An invalid session_data (and, in Better Auth's eyes, a stale one) is expired before the
    // database path writes a fresh one.
    let request = format!(
        "{}; better-auth.session_data=not-a-cache",
        one.without("session_data")
    );
    let (direct, _) = d.get_session(&d.direct, &request).await;
    let (through, _) = d.get_session(&d.gateway, &request).await;
    assert_eq!(through, direct, "an invalid session_data");
    assert!(
        direct[0].starts_with("better-auth.session_data=; Max-Age=0"),
        "{direct:?}"
    );
    // The same for an unknown session: the clear replaces the expiry.
    let unknown = format!(
        "better-auth.session_token={}; better-auth.session_data=not-a-cache",
        key.sign_cookie_value("no-such-session-token-0000000000")
    );
    let (direct, _) = d.get_session(&d.direct, &unknown).await;
    let (through, _) = d.get_session(&d.gateway, &unknown).await;
    assert_eq!(
        through, direct,
        "an unknown session with an invalid session_data"
    );

    // Sign-out in a browser holding two accounts (multi-session) and a chunked session_data:
    // both sessions are deleted, and every cookie is expired with its own attributes.
    for via in [&d.direct, &d.gateway] {
        sign_out_in_a_two_account_browser(&d, &db, via, &attrs, &data_attrs).await;
    }

    // A multi-session cookie alone is not a session: it authenticates nothing.
    let mut lone = Browser::default();
    d.sign_up(&mut lone, "lone@example.com").await;
    let only_multi: String = lone
        .cookies
        .iter()
        .filter(|c| c.contains("_multi-"))
        .cloned()
        .collect();
    assert!(!only_multi.is_empty());
    let (_, body) = d.get_session(&d.gateway, &only_multi).await;
    assert_eq!(body, Value::Null);
    let (_, body) = d.get_session(&d.direct, &only_multi).await;
    assert_eq!(body, Value::Null, "Better Auth agrees");
}

async fn sign_out_in_a_two_account_browser(
    d: &Deployment,
    db: &TestDb,
    via: &str,
    attrs: &str,
    data_attrs: &str,
) {
    let label = if via == d.direct { "direct" } else { "gateway" };
    let mut browser = Browser::default();
    let first = d
        .sign_up(&mut browser, &format!("{label}-a@example.com"))
        .await;
    let second = d
        .sign_up(&mut browser, &format!("{label}-b@example.com"))
        .await;
    let multi: Vec<String> = browser
        .cookies
        .iter()
        .filter(|c| c.contains("_multi-"))
        .map(|c| c.split('=').next().unwrap().to_owned())
        .collect();
    assert_eq!(
        multi.len(),
        2,
        "one multi-session cookie per account: {multi:?}"
    );
    let request = format!(
        "{}; better-auth.session_data.0=chunk0; better-auth.session_data.1=chunk1; \
         better-auth.dont_remember=whatever; better-auth.account_data.0=a0",
        browser.without("session_data")
    );
    let mut cleared = d.sign_out(via, &request).await;
    let mut expected = vec![
        format!("better-auth.session_token=; Max-Age=0; {attrs}"),
        format!("better-auth.session_data=; Max-Age=0; {data_attrs}"),
        // account.storeAccountCookie: account_data and the chunks the browser holds.
        format!("better-auth.account_data=; Max-Age=0; {attrs}"),
        format!("better-auth.account_data.0=; Max-Age=0; {attrs}"),
        // account.storeStateStrategy = "cookie".
        format!("better-auth.oauth_state=; Max-Age=0; {attrs}"),
        format!("better-auth.session_data.0=; Max-Age=0; {data_attrs}"),
        format!("better-auth.session_data.1=; Max-Age=0; {data_attrs}"),
        format!("better-auth.dont_remember=; Max-Age=0; {attrs}"),
    ];
    expected.extend(
        multi
            .iter()
            .map(|name| format!("{name}=; Max-Age=0; {attrs}")),
    );
    // Better Auth expires the multi-session cookies as each one's signature check completes
    // (inside a Promise.all), so their order among themselves varies from run to run.
    let fixed = expected.len() - multi.len();
    if let Some(multi_part) = cleared.get_mut(fixed..) {
        multi_part.sort();
    }
    expected[fixed..].sort();
    assert_eq!(cleared, expected, "{label}");
    let left = db
        .count(&format!(
            "select count(*) from session where token in ('{first}', '{second}')"
        ))
        .await;
    assert_eq!(left, 0, "{label}: both accounts' sessions are gone");
}

/// Better Auth 1.7's key rotation (`BETTER_AUTH_SECRETS="2:new,1:old"`): the first secret signs
/// everything and is the only one that checks a signed cookie, so cookies signed before the
/// rotation are refused by both; cookies signed after it are accepted by both, and Gatehouse's
/// refresh signs with the new secret as Better Auth's does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_secret_signs_and_the_old_one_no_longer_does() {
    if !better_auth::installed() {
        return;
    }
    let Some(db) = TestDb::empty(Kind::Postgres).await else {
        return;
    };
    db.migrate_with(&[]);
    const NEW: &str = "rotated-integration-secret-0123456789";
    let http = client();

    // Before the rotation: a session signed with the old secret (SECRET).
    let old_server = better_auth::BetterAuth::start(&db.url, &[("COOKIE_CACHE", "jwe")]);
    let mut before = Browser::default();
    let signed_up = http
        .post(format!("{}/api/auth/sign-up/email", old_server.url()))
        .header("origin", old_server.url())
        .json(&json!({"email": "rot@example.com", "password": "correct horse battery", "name": "Rot"}))
        .send()
        .await
        .unwrap();
    assert_eq!(signed_up.status(), 200);
    before.take(&signed_up);
    drop(old_server);

    let rotation = format!("2:{NEW},1:{SECRET}");
    let (auth, _upstream, gateway, public_url) = common::better_auth_stack_with(
        &db,
        &[
            ("BETTER_AUTH_SECRETS", &rotation),
            ("COOKIE_CACHE", "jwe"),
            ("UPDATE_AGE", "0"),
        ],
        &format!("secrets = \"{rotation}\"\nupdate_age = 0\n[better_auth.cookie_cache]\nenabled = true\nstrategy = \"jwe\"\n"),
    )
    .await;
    let d = Deployment {
        http,
        direct: auth.url(),
        gateway: gateway.url(""),
        origin: public_url,
    };

    // The old cookies (token and JWE cache) sign no one in, on either side.
    let old_cookies = before.cookies.join("; ");
    for base in [&d.direct, &d.gateway] {
        let (set, body) = d.get_session(base, &old_cookies).await;
        assert_eq!(body, Value::Null, "{base}: an old-secret cookie is refused");
        assert!(
            !set.iter()
                .any(|c| c.contains("session_token=") && !c.contains("Max-Age=0")),
            "{base}: nothing is signed for it: {set:?}"
        );
    }

    // Signed in again after the rotation: both accept it, and a refresh (updateAge 0) signs
    // the same cookie with the new secret on both sides.
    let mut after = Browser::default();
    let token = d.sign_up(&mut after, "rot2@example.com").await;
    let new_cookie = format!(
        "better-auth.session_token={}",
        SigningKey::new(NEW).sign_cookie_value(&token)
    );
    assert!(
        after.cookies.contains(&new_cookie),
        "Better Auth signs with the new secret"
    );
    let request = after.without("session_data");
    let (direct, direct_body) = d.get_session(&d.direct, &request).await;
    let (through, through_body) = d.get_session(&d.gateway, &request).await;
    assert_eq!(direct_body["user"]["email"], "rot2@example.com");
    assert_eq!(through_body["session"]["id"], direct_body["session"]["id"]);
    assert_eq!(through, direct);
    assert!(
        through[0].starts_with(&format!("{new_cookie}; Max-Age=604800")),
        "{through:?}"
    );
}

/// Rate limits on get-session: the same rule configured on both sides gives the same sequence of
/// answers, Better Auth's 429 body and its `X-Retry-After`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_session_is_rate_limited_as_better_auth_limits_it() {
    if !better_auth::installed() {
        return;
    }
    let Some(db) = TestDb::empty(Kind::Postgres).await else {
        return;
    };
    db.migrate_with(&[]);
    let (auth, _upstream, gateway, _public_url) = common::better_auth_stack_with(
        &db,
        &[("RATE_LIMIT", r#"{"enabled":true,"window":60,"max":3}"#)],
        "[rate_limit.custom_rules]\n\"/get-session\" = { max = 3, window = 60 }\n",
    )
    .await;
    let http = client();
    let mut transcripts = Vec::new();
    for base in [auth.url(), gateway.url("")] {
        let mut answers = Vec::new();
        for _ in 0..5 {
            let response = http
                .get(format!("{base}/api/auth/get-session"))
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            let retry = response
                .headers()
                .get("x-retry-after")
                .map(|v| v.to_str().unwrap().parse::<u64>().unwrap());
            let body = response.text().await.unwrap();
            answers.push((status, retry.map(|r| (55..=60).contains(&r)), body));
        }
        transcripts.push(answers);
    }
    assert_eq!(
        transcripts[0][3].0, 429,
        "Better Auth limits the fourth: {:?}",
        transcripts[0]
    );
    assert_eq!(transcripts[1], transcripts[0]);
}
