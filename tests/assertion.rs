//! The signed identity assertion, on real sockets, verified by an independent implementation
//! (Node's `jose`, as an upstream would use it) against the JWKS the operations listener serves:
//! the claims are the session's; a tampered token is refused; a token expires; a key rotation
//! keeps the old key in the set until its tokens have expired; a client cannot send its own.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::db::Kind;
use common::{client, random_token, session_cookie};

/// `verify-jwt.mjs`: one verdict per token.
async fn verify(jwks_url: String, audience: &str, tokens: &[&str]) -> Vec<serde_json::Value> {
    let mut args = vec![jwks_url, "gatehouse-test".to_string(), audience.to_string()];
    args.extend(tokens.iter().map(|t| t.to_string()));
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("node")
            .arg("verify-jwt.mjs")
            .args(&args)
            .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop"))
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn config(keys: &std::path::Path, lifetime: &str, rotate_every: &str) -> String {
    format!(
        r#"
[identity_assertion]
enabled = true
issuer = "gatehouse-test"
lifetime = "{lifetime}"
key_dir = "{}"
rotate_every = "{rotate_every}"

[forward_auth]
enabled = true
callers = ["127.0.0.1"]

[[routes]]
prefix = "/orders"
assertion_audience = "orders-service"
"#,
        keys.display()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstreams_verify_the_assertion_against_the_jwks_and_nothing_else_passes() {
    let keys = tempfile::tempdir().unwrap();
    let (db, upstream, gateway) =
        common::stack(Kind::Sqlite, &config(keys.path(), "3s", "24h"), &[])
            .await
            .unwrap();
    let token = random_token();
    let (user_id, session_id) = db.seed(&token, 3600).await;
    let get = || {
        client()
            .get(gateway.url("/orders/1"))
            .header("cookie", session_cookie(&token))
            .header("x-auth-assertion", "forged.by.client")
            .send()
    };
    assert_eq!(get().await.unwrap().status(), 200);
    let assertion = upstream
        .last()
        .header("x-auth-assertion")
        .unwrap()
        .to_string();
    assert_ne!(assertion, "forged.by.client");
    assert_eq!(get().await.unwrap().status(), 200);
    assert_eq!(
        upstream.last().header("x-auth-assertion"),
        Some(assertion.as_str()),
        "minted once, not per request"
    );

    let jwks = gateway.ops_url("/.well-known/jwks.json");
    let mut tampered: Vec<char> = assertion.chars().collect();
    let middle = assertion.find('.').unwrap() + 5;
    tampered[middle] = if tampered[middle] == 'A' { 'B' } else { 'A' };
    let tampered: String = tampered.into_iter().collect();
    let verdicts = verify(jwks.clone(), "orders-service", &[&assertion, &tampered]).await;
    assert_eq!(verdicts[0]["ok"], true, "{verdicts:?}");
    let claims = &verdicts[0]["payload"];
    assert_eq!(claims["sub"], user_id.as_str());
    assert_eq!(claims["sid"], session_id.as_str());
    assert_eq!(claims["iss"], "gatehouse-test");
    assert_eq!(claims["aud"], "orders-service");
    assert!(claims["email"].as_str().unwrap().contains('@'));
    assert_eq!(verdicts[0]["header"]["alg"], "EdDSA");
    assert_eq!(verdicts[1]["ok"], false, "a tampered token is refused");
    let wrong_audience = verify(jwks.clone(), "billing", &[&assertion]).await;
    assert_eq!(wrong_audience[0]["ok"], false);

    // The forward-auth answer carries the assertion for the calling proxy to pass on.
    let decided = client()
        .get(gateway.url("/_gatehouse/forward-auth"))
        .header("x-forwarded-uri", "/orders/1")
        .header("cookie", session_cookie(&token))
        .send()
        .await
        .unwrap();
    assert_eq!(decided.status(), 200);
    let for_proxy = decided.headers()["x-auth-assertion"]
        .to_str()
        .unwrap()
        .to_string();
    let verdict = verify(jwks.clone(), "orders-service", &[&for_proxy]).await;
    assert_eq!(verdict[0]["ok"], true, "{verdict:?}");
    assert_eq!(verdict[0]["payload"]["sid"], session_id.as_str());

    // Past its lifetime (3 s) it is refused; the gateway has minted a fresh one by then.
    tokio::time::sleep(Duration::from_millis(3_200)).await;
    assert_eq!(get().await.unwrap().status(), 200);
    let fresh = upstream
        .last()
        .header("x-auth-assertion")
        .unwrap()
        .to_string();
    let verdicts = verify(jwks, "orders-service", &[&assertion, &fresh]).await;
    assert_eq!(verdicts[0]["code"], "ERR_JWT_EXPIRED", "{verdicts:?}");
    assert_eq!(verdicts[1]["ok"], true);

    // No session, no assertion (and the client's own never passes).
    client()
        .get(gateway.url("/public-ish"))
        .header("x-auth-assertion", "forged.by.client")
        .send()
        .await
        .unwrap();
    let before = upstream.count();
    let anonymous = client()
        .get(gateway.url("/orders/1"))
        .header("x-auth-assertion", "forged.by.client")
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    assert_eq!(upstream.count(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_key_stays_in_the_set_until_its_tokens_expire() {
    let keys = tempfile::tempdir().unwrap();
    // Tokens live 8 s; a new key every 2 s (checked every second).
    let (db, upstream, gateway) =
        common::stack(Kind::Sqlite, &config(keys.path(), "8s", "2s"), &[])
            .await
            .unwrap();
    let token = random_token();
    db.seed(&token, 3600).await;
    let jwks_url = gateway.ops_url("/.well-known/jwks.json");
    let kids = || async {
        let jwks: serde_json::Value = client()
            .get(gateway.ops_url("/.well-known/jwks.json"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    client()
        .get(gateway.url("/orders/1"))
        .header("cookie", session_cookie(&token))
        .send()
        .await
        .unwrap();
    let first = upstream
        .last()
        .header("x-auth-assertion")
        .unwrap()
        .to_string();
    let first_kids = kids().await;
    assert_eq!(first_kids.len(), 1);

    // After a rotation the new key signs and the old one is still published.
    let mut rotated = Vec::new();
    for _ in 0..50 {
        rotated = kids().await;
        if rotated.len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        rotated.len() >= 2,
        "no rotation: {rotated:?}\n{}",
        gateway.log()
    );
    assert!(rotated.contains(&first_kids[0]));
    let verdicts = verify(jwks_url, "orders-service", &[&first]).await;
    assert_eq!(
        verdicts[0]["ok"], true,
        "still valid across the rotation: {verdicts:?}"
    );
    assert_eq!(verdicts[0]["header"]["kid"], first_kids[0].as_str());
    // Once its last token can have expired, the old key leaves the set.
    let mut gone = false;
    for _ in 0..150 {
        if !kids().await.contains(&first_kids[0]) {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(gone, "the first key was never retired");
}
