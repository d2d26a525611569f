//! Better Auth's own client with its organization, multi-session and admin client plugins
//! (`tests/interop/plugins.mjs`) runs one scenario twice, each time on a fresh PostgreSQL
//! database: straight against a real Better Auth 1.7 server with those plugins, and against
//! Gatehouse in front of one (Gatehouse answers get-session and sign-out itself, with the
//! plugins' session data; Better Auth the plugins' own endpoints). The transcripts must be equal,
//! and say what the plugins promise.

#![allow(clippy::unwrap_used)]

mod common;

use common::better_auth::{self, BetterAuth};
use common::db::{Kind, TestDb};
use common::free_port;
use serde_json::{json, Value};

const AUTH_ENV: &[(&str, &str)] = &[
    ("ORGANIZATION", "1"),
    ("MULTI_SESSION", "1"),
    ("BA_MIGRATE", "1"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn better_auths_plugin_clients_see_the_same_through_the_gateway() {
    if !better_auth::installed() {
        return;
    }
    let Some(direct_db) = TestDb::empty(Kind::Postgres).await else {
        return;
    };
    direct_db.migrate_with(&[]);
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let port_text = port.to_string();
    let mut env = vec![
        ("PORT", port_text.as_str()),
        ("BETTER_AUTH_URL", url.as_str()),
    ];
    env.extend_from_slice(AUTH_ENV);
    let direct_auth = BetterAuth::start(&direct_db.url, &env);
    let direct = better_auth::run_script("plugins.mjs", url).await;
    drop(direct_auth);

    let gateway_db = TestDb::empty(Kind::Postgres).await.unwrap();
    gateway_db.migrate_with(&[]);
    let (_auth, upstream, _gateway, public_url) = common::better_auth_stack_with(
        &gateway_db,
        AUTH_ENV,
        "[better_auth.plugins]\norganization = true\nmulti_session = true\n",
    )
    .await;
    let through = better_auth::run_script("plugins.mjs", public_url).await;
    assert_eq!(upstream.count(), 0, "auth routes never reach the app");

    let seen = |transcript: &[Value]| -> Vec<(String, Value)> {
        transcript
            .iter()
            .map(|s| {
                (
                    s["step"].as_str().unwrap().to_owned(),
                    json!({"ok": s["ok"], "status": s["status"], "seen": s["seen"]}),
                )
            })
            .collect()
    };
    let expected = [
        ("sign-up ada", json!("ada@example.com")),
        ("create organization", json!("acme")),
        ("set active organization", json!("acme")),
        (
            "get-session has the active organization",
            json!({"email": "ada@example.com", "activeOrganization": true, "impersonatedBy": null, "role": "user"}),
        ),
        ("active member", json!("owner")),
        ("sign-up bob in the same browser", json!("bob@example.com")),
        (
            "get-session is bob",
            json!({"email": "bob@example.com", "activeOrganization": null}),
        ),
        (
            "device sessions",
            json!(["ada@example.com", "bob@example.com"]),
        ),
        ("sign-out", json!(true)),
        ("get-session after sign-out", Value::Null),
        ("device sessions after sign-out", json!([])),
        ("cookies left", json!([])),
    ];
    let direct_seen = seen(&direct);
    for (i, (step, value)) in expected.iter().enumerate() {
        assert_eq!(direct_seen[i].0, *step);
        assert_eq!(direct_seen[i].1["seen"], *value, "Better Auth, {step}");
    }
    for (d, t) in direct_seen.iter().zip(seen(&through)) {
        assert_eq!(t, *d, "through the gateway");
    }
    assert_eq!(through.len(), direct.len());
}
