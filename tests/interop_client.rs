//! Better Auth's own client (`createAuthClient`, `tests/interop/client.mjs`) runs the same
//! multi-device scenario twice, each time on a fresh PostgreSQL database: once straight against a
//! real Better Auth 1.7 server, once against Gatehouse in front of one (Gatehouse answers the
//! session endpoints itself, Better Auth the rest). The two transcripts must agree step by step,
//! except where Gatehouse differs on purpose: `token` is the session id, revocations report
//! `"revoked": n`, and revoking someone else's session is a 404 rather than a silent `{"status":true}`.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;

use common::better_auth::{self, BetterAuth};
use common::db::{Kind, TestDb};
use common::free_port;
use serde_json::{json, Value};

/// What a step must show, on both sides.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// Signed up or in as `email`: 200, a token, the user, a session cookie set.
    SignedIn(&'static str),
    /// `getSession` returned `email`'s session.
    Valid(&'static str),
    /// `getSession` returned `null`.
    Null,
    /// `listSessions` returned this many sessions.
    Count(usize),
    /// The script found C's entry in A's session list.
    Found,
    /// A revocation of the caller's own session(s) that removed this many rows.
    Revoked(u64),
    /// `revokeSession` naming another user's session: Better Auth says `{"status":true}` and does
    /// nothing, Gatehouse answers 404 `SESSION_NOT_FOUND`.
    Foreign,
    /// `signOut` succeeded and expired the cookies.
    SignedOut,
}

const ALICE: &str = "alice@example.com";
const EVE: &str = "eve@example.com";

/// The scenario `client.mjs` runs, step by step.
const SCENARIO: &[(&str, Expect)] = &[
    ("sign-up A", Expect::SignedIn(ALICE)),
    ("sign-in B", Expect::SignedIn(ALICE)),
    ("sign-in C", Expect::SignedIn(ALICE)),
    ("get-session A", Expect::Valid(ALICE)),
    ("get-session C", Expect::Valid(ALICE)),
    ("list-sessions A (3)", Expect::Count(3)),
    ("pick C's token from A's list", Expect::Found),
    ("revoke-session A -> C", Expect::Revoked(1)),
    ("get-session C after revoke (null)", Expect::Null),
    ("list-sessions A (2)", Expect::Count(2)),
    ("sign-up E (other user)", Expect::SignedIn(EVE)),
    ("get-session E", Expect::Valid(EVE)),
    (
        "revoke-session A -> E by E's token (foreign)",
        Expect::Foreign,
    ),
    (
        "revoke-session A -> E by E's session id (foreign)",
        Expect::Foreign,
    ),
    (
        "get-session E after foreign revokes (valid)",
        Expect::Valid(EVE),
    ),
    ("list-sessions A still (2)", Expect::Count(2)),
    ("revoke-other-sessions A", Expect::Revoked(1)),
    ("get-session B (null)", Expect::Null),
    ("get-session A still valid", Expect::Valid(ALICE)),
    ("list-sessions A (1)", Expect::Count(1)),
    ("sign-out A", Expect::SignedOut),
    ("get-session A after sign-out (null)", Expect::Null),
    (
        "get-session A's old cookie after sign-out (null)",
        Expect::Null,
    ),
    ("sign-in D", Expect::SignedIn(ALICE)),
    ("get-session D", Expect::Valid(ALICE)),
    ("revoke-sessions D", Expect::Revoked(1)),
    ("get-session D after revoke-sessions (null)", Expect::Null),
    (
        "get-session D's old cookie after revoke-sessions (null)",
        Expect::Null,
    ),
    ("get-session E at the end (valid)", Expect::Valid(EVE)),
    ("list-sessions E (1)", Expect::Count(1)),
];

/// The user fields that must match between the two runs (ids and timestamps differ).
const USER_FIELDS: &[&str] = &[
    "name",
    "email",
    "emailVerified",
    "image",
    "role",
    "banned",
    "banReason",
    "banExpires",
];

const SESSION_COOKIE: &str = "better-auth.session_token";

/// The scenario straight against Better Auth, on its own database.
async fn direct() -> Option<Vec<Value>> {
    let db = TestDb::migrated(Kind::Postgres).await?;
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let _auth = BetterAuth::start(
        &db.url,
        &[("PORT", &port.to_string()), ("BETTER_AUTH_URL", &url)],
    );
    Some(better_auth::run_script("client.mjs", url).await)
}

/// The scenario against Gatehouse in front of Better Auth, on its own database; also checks that
/// the app behind the gateway never saw an auth request and that the gateway logged no token.
async fn through_gateway() -> Option<Vec<Value>> {
    let db = TestDb::migrated(Kind::Postgres).await?;
    // The scenario sends dozens of requests from 127.0.0.1 within seconds.
    let (_auth, upstream, gateway, public_url) =
        common::better_auth_stack(&db, "[rate_limit]\nmax = 1000\n").await;
    let transcript = better_auth::run_script("client.mjs", public_url).await;
    assert_eq!(upstream.count(), 0, "auth routes never reach the app");
    let log = gateway.log();
    for token in raw_tokens(&transcript) {
        assert!(!log.contains(&token), "the gateway logged a session token");
    }
    Some(transcript)
}

/// The raw session tokens Better Auth handed out at sign-up and sign-in.
fn raw_tokens(transcript: &[Value]) -> Vec<String> {
    transcript
        .iter()
        .filter(|s| matches!(s["call"].as_str(), Some("signUp.email" | "signIn.email")))
        .filter_map(|s| s["data"]["token"].as_str().map(str::to_string))
        .collect()
}

/// `(name, cleared)` of every `Set-Cookie` of a step.
fn set_cookies(step: &Value) -> BTreeSet<(String, bool)> {
    step["setCookies"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_string(),
                c["cleared"].as_bool().unwrap(),
            )
        })
        .collect()
}

fn jar(step: &Value) -> BTreeSet<String> {
    step["jar"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| c.as_str().unwrap().to_string())
        .collect()
}

fn user_fields(user: &Value) -> Value {
    USER_FIELDS
        .iter()
        .map(|k| (k.to_string(), user[*k].clone()))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

fn ids(list: &Value) -> BTreeSet<String> {
    list.as_array()
        .into_iter()
        .flatten()
        .map(|s| s["id"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn step<'a>(transcript: &'a [Value], name: &str) -> &'a Value {
    transcript.iter().find(|s| s["step"] == name).unwrap()
}

/// One line of the side-by-side summary.
fn summary(s: &Value) -> String {
    let status = s["status"].as_u64().map_or("-".into(), |n| n.to_string());
    let what = match (s["call"].as_str().unwrap(), &s["data"]) {
        (_, _) if !s["error"].is_null() => format!("error {}", s["error"]["code"]),
        ("derive", _) => format!("found={}", s["found"]),
        ("getSession", Value::Null) => "null".into(),
        ("getSession", d) => format!("session of {}", d["user"]["email"]),
        ("listSessions", d) => format!("{} sessions", d.as_array().map_or(0, Vec::len)),
        ("signUp.email" | "signIn.email", d) => format!("user {}", d["user"]["email"]),
        (_, d) => d.to_string(),
    };
    let cookies: Vec<String> = set_cookies(s)
        .into_iter()
        .map(|(n, cleared)| format!("{}{n}", if cleared { "-" } else { "+" }))
        .collect();
    format!("{status} {what} {}", cookies.join(" "))
}

/// Everything that did not hold, so that one run reports every difference at once.
#[derive(Default)]
struct Failures(Vec<String>);

impl Failures {
    fn check(&mut self, ok: bool, what: impl std::fmt::Display) {
        if !ok {
            self.0.push(what.to_string());
        }
    }

    fn eq<T: PartialEq + std::fmt::Debug>(
        &mut self,
        left: T,
        right: T,
        what: impl std::fmt::Display,
    ) {
        if left != right {
            self.0
                .push(format!("{what}\n    left:  {left:?}\n    right: {right:?}"));
        }
    }
}

/// Checks one transcript against the scenario on its own; `gateway` selects which side's
/// documented behaviour applies.
fn check_transcript(t: &[Value], gateway: bool, f: &mut Failures) {
    let side = if gateway { "gateway" } else { "Better Auth" };
    assert_eq!(
        t.iter()
            .map(|s| s["step"].as_str().unwrap())
            .collect::<Vec<_>>(),
        SCENARIO.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
        "{side}: the scenario ran every step"
    );
    let tokens = raw_tokens(t);
    f.eq(
        tokens.len(),
        5,
        format!("{side}: A, B, C, E and D got tokens"),
    );
    let user_of = |email: &str| {
        t.iter()
            .find(|s| s["call"] == "signUp.email" && s["data"]["user"]["email"] == email)
            .and_then(|s| s["data"]["user"]["id"].as_str())
            .unwrap_or_default()
            .to_string()
    };
    for (s, (name, expect)) in t.iter().zip(SCENARIO) {
        let ctx = format!("{side}, step {name:?}: {s}");
        let data = &s["data"];
        let status = &s["status"];
        match *expect {
            Expect::SignedIn(email) => {
                f.eq(status, &json!(200), &ctx);
                f.eq(&data["user"]["email"], &json!(email), &ctx);
                f.check(
                    data["token"].as_str().is_some_and(|t| !t.is_empty()),
                    format!("{ctx}: a token"),
                );
                f.check(
                    set_cookies(s).contains(&(SESSION_COOKIE.into(), false)),
                    format!("{ctx}: the session cookie is set"),
                );
                f.check(jar(s).contains(SESSION_COOKIE), format!("{ctx}: kept"));
            }
            Expect::Valid(email) => {
                f.eq(status, &json!(200), &ctx);
                f.eq(&data["user"]["email"], &json!(email), &ctx);
                f.eq(&data["user"]["id"], &json!(user_of(email)), &ctx);
                f.eq(&data["session"]["userId"], &data["user"]["id"], &ctx);
                let session = &data["session"];
                if gateway {
                    f.eq(
                        &session["token"],
                        &session["id"],
                        format!("{ctx}: token = id"),
                    );
                } else {
                    f.check(
                        session["token"] != session["id"],
                        format!("{ctx}: raw token"),
                    );
                }
            }
            Expect::Null => {
                f.eq(status, &json!(200), &ctx);
                f.check(data.is_null(), format!("{ctx}: the session must be gone"));
                f.check(
                    !jar(s).contains(SESSION_COOKIE),
                    format!("{ctx}: the dead session cookie is expired, as Better Auth does"),
                );
            }
            Expect::Count(n) => {
                f.eq(status, &json!(200), &ctx);
                let list = data.as_array().map(Vec::as_slice).unwrap_or_default();
                f.eq(list.len(), n, format!("{ctx}: session count"));
                for entry in list {
                    if gateway {
                        f.eq(&entry["token"], &entry["id"], format!("{ctx}: token = id"));
                    } else {
                        f.check(entry["token"] != entry["id"], format!("{ctx}: raw token"));
                    }
                }
            }
            Expect::Found => f.eq(&s["found"], &json!(true), &ctx),
            Expect::Revoked(n) => {
                f.eq(status, &json!(200), &ctx);
                let want = if gateway {
                    json!({"status": true, "revoked": n})
                } else {
                    json!({"status": true})
                };
                f.eq(data, &want, &ctx);
            }
            Expect::Foreign if gateway => {
                f.eq(status, &json!(404), &ctx);
                f.eq(&s["error"]["code"], &json!("SESSION_NOT_FOUND"), &ctx);
                f.check(set_cookies(s).is_empty(), format!("{ctx}: no cookies"));
            }
            Expect::Foreign => {
                f.eq(status, &json!(200), &ctx);
                f.eq(data, &json!({"status": true}), &ctx);
            }
            Expect::SignedOut => {
                f.eq(status, &json!(200), &ctx);
                f.eq(data, &json!({"success": true}), &ctx);
                f.check(
                    set_cookies(s).contains(&(SESSION_COOKIE.into(), true)),
                    format!("{ctx}: the session cookie is expired"),
                );
                f.check(jar(s).is_empty(), format!("{ctx}: no cookies left"));
            }
        }
        if gateway && !matches!(expect, Expect::SignedIn(_)) {
            let text = s.to_string();
            for token in &tokens {
                f.check(
                    !text.contains(token.as_str()),
                    format!("{ctx}: a raw token leaked"),
                );
            }
        }
    }

    // The sessions revoked are the ones named, and no others.
    let id = |name: &str| {
        step(t, name)["data"]["session"]["id"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    let list = |name: &str| ids(&step(t, name)["data"]);
    let (a, c, e) = (
        id("get-session A"),
        id("get-session C"),
        id("get-session E"),
    );
    let three = list("list-sessions A (3)");
    f.check(
        three.contains(&a) && three.contains(&c),
        format!("{side}: A's list holds A and C: {three:?}"),
    );
    let mut two = three.clone();
    two.remove(&c);
    f.eq(
        &list("list-sessions A (2)"),
        &two,
        format!("{side}: only C went"),
    );
    f.eq(
        &list("list-sessions A still (2)"),
        &two,
        format!("{side}: foreign revokes changed nothing"),
    );
    f.eq(
        &list("list-sessions A (1)"),
        &BTreeSet::from([a.clone()]),
        format!("{side}: only A is left"),
    );
    f.eq(
        &id("get-session A still valid"),
        &a,
        format!("{side}: A kept its session"),
    );
    f.eq(
        &list("list-sessions E (1)"),
        &BTreeSet::from([e.clone()]),
        format!("{side}: E untouched"),
    );
    f.eq(
        &id("get-session E at the end (valid)"),
        &e,
        format!("{side}: E kept its session"),
    );
}

/// Compares the two transcripts step by step.
fn compare(direct: &[Value], gateway: &[Value], f: &mut Failures) {
    for ((ba, gh), (name, expect)) in direct.iter().zip(gateway).zip(SCENARIO) {
        let ctx = format!("step {name:?}\n  Better Auth: {ba}\n  gateway:     {gh}\n ");
        f.eq(&ba["call"], &gh["call"], &ctx);
        f.eq(&ba["device"], &gh["device"], &ctx);
        if !matches!(expect, Expect::Foreign) {
            f.eq(&ba["status"], &gh["status"], format!("{ctx} status"));
            f.eq(
                &ba["error"]["code"],
                &gh["error"]["code"],
                format!("{ctx} error"),
            );
            f.eq(
                ba["data"].is_null(),
                gh["data"].is_null(),
                format!("{ctx} null"),
            );
            f.eq(
                set_cookies(ba),
                set_cookies(gh),
                format!("{ctx} the same cookies set and expired"),
            );
        }
        f.eq(
            jar(ba),
            jar(gh),
            format!("{ctx} the device holds the same cookies"),
        );
        let (bd, gd) = (&ba["data"], &gh["data"]);
        match *expect {
            Expect::SignedIn(_) | Expect::Valid(_) => {
                f.eq(
                    user_fields(&bd["user"]),
                    user_fields(&gd["user"]),
                    format!("{ctx} user"),
                );
                f.eq(keys(bd), keys(gd), format!("{ctx} fields"));
                f.eq(
                    keys(&bd["user"]),
                    keys(&gd["user"]),
                    format!("{ctx} user fields"),
                );
            }
            _ => {}
        }
        match *expect {
            Expect::Valid(_) => {
                f.eq(
                    keys(&bd["session"]),
                    keys(&gd["session"]),
                    format!("{ctx} session fields"),
                );
                for k in ["impersonatedBy", "userAgent"] {
                    f.eq(&bd["session"][k], &gd["session"][k], format!("{ctx} {k}"));
                }
            }
            Expect::Count(_) => {
                let empty = Vec::new();
                let bl = bd.as_array().unwrap_or(&empty);
                let gl = gd.as_array().unwrap_or(&empty);
                f.eq(bl.len(), gl.len(), format!("{ctx} session count"));
                for (b, g) in bl.iter().zip(gl) {
                    f.eq(keys(b), keys(g), format!("{ctx} session fields"));
                }
            }
            Expect::SignedOut => f.eq(bd, gd, format!("{ctx} sign-out answer")),
            _ => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn better_auth_client_sees_the_same_through_the_gateway() {
    if !better_auth::installed() {
        return;
    }
    let Some(direct) = direct().await else {
        return;
    };
    let gateway = through_gateway().await.unwrap();

    eprintln!("{:<56} | {:<48} | gateway", "step", "Better Auth");
    for (ba, gh) in direct.iter().zip(&gateway) {
        eprintln!(
            "{:<56} | {:<48} | {}",
            ba["step"].as_str().unwrap(),
            summary(ba),
            summary(gh)
        );
    }

    let mut failures = Failures::default();
    check_transcript(&direct, false, &mut failures);
    check_transcript(&gateway, true, &mut failures);
    compare(&direct, &gateway, &mut failures);
    assert!(
        failures.0.is_empty(),
        "{} check(s) failed:\n\n{}",
        failures.0.len(),
        failures.0.join("\n\n")
    );
}
