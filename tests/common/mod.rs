//! Shared harness for the integration tests: a real gateway process, a real upstream, real
//! databases, a TCP relay that can cut the database off, and killable servers and a DNS server
//! for upstream groups. Everything binds loopback port 0
//! or a port probed free just before use; nothing is fixed.

#![allow(dead_code, clippy::unwrap_used)]

pub mod better_auth;
pub mod db;
pub mod gateway;
pub mod relay;
pub mod servers;
pub mod tls;
pub mod upstream;

use gatehouse::auth::cookie::SigningKey;

/// The Better Auth secret the tests share with the gateway.
pub const SECRET: &str = "integration-test-secret-0123456789abcdef";

/// Every session token this test process has seeded or signed: no gateway log may contain one.
static TOKENS: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// Remembers `token` so [`assert_log_is_clean`] can look for it.
pub fn remember_token(token: &str) {
    let mut tokens = TOKENS.lock().unwrap();
    if !tokens.iter().any(|t| t == token) {
        tokens.push(token.to_string());
    }
}

/// Panics if `log` holds a remembered session token or the shared secret.
pub fn assert_log_is_clean(log: &str) {
    for token in TOKENS.lock().unwrap().iter().filter(|t| t.len() >= 16) {
        assert!(
            !log.contains(token.as_str()),
            "a session token was logged:\n{log}"
        );
    }
    assert!(!log.contains(SECRET), "the secret was logged:\n{log}");
}

/// A migrated database of `kind`, a recording upstream, and a gateway in front of both with
/// `config` and `extra_env`; `None` when that database is not configured outside CI.
pub async fn stack(
    kind: db::Kind,
    config: &str,
    extra_env: &[(&str, &str)],
) -> Option<(db::TestDb, upstream::Upstream, gateway::Gateway)> {
    let db = db::TestDb::migrated(kind).await?;
    let upstream = upstream::Upstream::start().await;
    let mut env = vec![
        ("GATEHOUSE_UPSTREAM", upstream.url()),
        ("GATEHOUSE_DATABASE_URL", db.url.clone()),
    ];
    env.extend(extra_env.iter().map(|(k, v)| (*k, v.to_string())));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let gateway = gateway::Gateway::start(config, &env).await;
    Some((db, upstream, gateway))
}

/// A real Better Auth server on `db` behind a gateway whose URL is Better Auth's public URL, with
/// a recording upstream for everything else; `config` is appended to the gateway's config.
/// Returns the public URL too.
pub async fn better_auth_stack(
    db: &db::TestDb,
    config: &str,
) -> (
    better_auth::BetterAuth,
    upstream::Upstream,
    gateway::Gateway,
    String,
) {
    better_auth_stack_with(db, &[], config).await
}

/// [`better_auth_stack`] with `auth_env` for the Better Auth server (see tests/interop/README.md).
pub async fn better_auth_stack_with(
    db: &db::TestDb,
    auth_env: &[(&str, &str)],
    config: &str,
) -> (
    better_auth::BetterAuth,
    upstream::Upstream,
    gateway::Gateway,
    String,
) {
    let gateway_addr = format!("127.0.0.1:{}", free_port());
    let public_url = format!("http://{gateway_addr}");
    let mut env = vec![("BETTER_AUTH_URL", public_url.as_str())];
    env.extend_from_slice(auth_env);
    let auth = better_auth::BetterAuth::start(&db.url, &env);
    let upstream = upstream::Upstream::start().await;
    let config = format!("[better_auth]\nupstream = \"{}\"\n{config}", auth.url());
    let env = [
        ("GATEHOUSE_LISTEN", gateway_addr.as_str()),
        ("GATEHOUSE_UPSTREAM", &upstream.url()),
        ("GATEHOUSE_DATABASE_URL", &db.url),
        ("BETTER_AUTH_URL", &public_url),
    ];
    let gateway = gateway::Gateway::start(&config, &env).await;
    (auth, upstream, gateway, public_url)
}

/// A `Cookie` header carrying a correctly signed session token.
pub fn session_cookie(token: &str) -> String {
    remember_token(token);
    format!(
        "better-auth.session_token={}",
        SigningKey::new(SECRET).sign_cookie_value(token)
    )
}

/// A loopback port that was free a moment ago, for a server that binds it itself.
///
/// Ports come from below the kernel's ephemeral range (32768 and up here), so outgoing
/// connections never take them between this probe and the bind, and at random, so parallel test
/// processes rarely pick the same one; a port is never handed out twice by one process.
pub fn free_port() -> u16 {
    static ISSUED: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut issued = ISSUED.lock().unwrap();
    loop {
        let port = 20_000 + (rand_u32() % 12_000) as u16;
        if !issued.contains(&port) && std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            issued.push(port);
            return port;
        }
    }
}

/// Whether `done` holds within `limit`, checked every 10 ms.
pub async fn eventually(limit: std::time::Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + limit;
    while !done() {
        if std::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    true
}

/// An HTTP client that does not follow redirects.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A random 32-character token like Better Auth's.
pub fn random_token() -> String {
    use std::fmt::Write;
    let mut s = String::new();
    for _ in 0..4 {
        write!(s, "{:08x}", rand_u32()).unwrap();
    }
    s
}

fn rand_u32() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos(),
    );
    h.finish() as u32
}

/// Whether a database the test needs must be there (`CI` is set) or may be skipped.
pub fn require_or_skip(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var_os("CI").is_some() => {
            panic!("{var} is not set but CI is: the database must be tested")
        }
        _ => {
            eprintln!("skipping: {var} is not set");
            None
        }
    }
}
