//! Memory per cached session, through the real validator: N sessions seeded in a SQLite
//! database with Better Auth's schema, each validated once (signed cookie -> cache miss -> SQLite
//! -> the entry cached), then all of them again from memory; each lookup also makes the identity
//! headers as forwarding does. Prints the process's RSS before and after the fill (and after the
//! warm pass), the bytes per cached session, and the lookups/s of both passes.
//!
//! Run: `N=200000 cargo bench --bench cache_memory` (default N = 1,000,000;
//! `SESSIONS_PER_USER`, default 1; `CONCURRENCY`, requests in flight, default 32).

#![allow(clippy::unwrap_used)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use gatehouse::auth::cookie::SigningKey;
use gatehouse::auth::standalone::StandaloneValidator;
use gatehouse::config::{parse_toml, Config, MapEnv};
use gatehouse::store;
use sqlx::{AssertSqlSafe, Connection};

/// The same allocator as the binary, so RSS means the same thing.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const SECRET: &str = "cache-memory-bench-secret-0123456789";

/// A current Chrome on Windows: 111 characters, as Better Auth stores it.
const USER_AGENT: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 \
                          (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36";

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).map_or(default, |v| v.parse().unwrap())
}

/// Session `n`'s token: 32 characters, as Better Auth makes them.
fn token(n: u64) -> String {
    format!("t{n:031}")
}

/// The process's resident set, in bytes (`VmRSS` in /proc/self/status).
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}

/// `n` users and sessions in one statement each: 32-character ids and tokens, an e-mail and a
/// name, an IP address and a browser's user agent, valid for a week from now.
async fn seed(url: &str, n: u64, sessions_per_user: u64) {
    let users = n.div_ceil(sessions_per_user);
    let now = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')";
    let week = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '+7 days')";
    let sql = format!(
        "PRAGMA journal_mode = WAL; BEGIN;
         WITH RECURSIVE c(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM c WHERE x + 1 < {users})
         INSERT INTO \"user\" (id, name, email, emailVerified, image, createdAt, updatedAt, role,
                               banned)
         SELECT printf('u%031d', x), 'User Number ' || x, 'user' || x || '@example.com', 1, NULL,
                {now}, {now}, 'user', 0 FROM c;
         WITH RECURSIVE c(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM c WHERE x + 1 < {n})
         INSERT INTO session (id, expiresAt, token, createdAt, updatedAt, ipAddress, userAgent,
                              userId)
         SELECT printf('s%031d', x), {week}, printf('t%031d', x), {now}, {now}, '203.0.113.7',
                '{USER_AGENT}', printf('u%031d', x / {sessions_per_user}) FROM c;
         COMMIT;"
    );
    let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
    sqlx::raw_sql(AssertSqlSafe(sql))
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
}

/// Validates the cookies of sessions `0..n`, `concurrency` at a time; returns lookups/s.
async fn pass(validator: &Arc<StandaloneValidator>, n: u64, concurrency: u64) -> f64 {
    let key = Arc::new(SigningKey::new(SECRET));
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (validator, key, next) = (validator.clone(), key.clone(), next.clone());
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        break;
                    }
                    let cookie = format!(
                        "better-auth.session_token={}",
                        key.sign_cookie_value(&token(i))
                    );
                    let headers = validator.identity_headers(&cookie).await.unwrap();
                    assert_eq!(headers, Some(5), "session {i}");
                }
            })
        })
        .collect();
    for w in workers {
        w.await.unwrap();
    }
    n as f64 / started.elapsed().as_secs_f64()
}

fn main() {
    let n = env_u64("N", 1_000_000);
    let sessions_per_user = env_u64("SESSIONS_PER_USER", 1).max(1);
    let concurrency = env_u64("CONCURRENCY", 32).max(1);
    // One worker thread, as `gatehouse --threads 1` runs the request path.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("sessions.db").display());
        store::migrate::run(&url).await.unwrap();
        let seeding = Instant::now();
        seed(&url, n, sessions_per_user).await;
        eprintln!(
            "seeded {n} sessions ({sessions_per_user} per user) in {:.1} s",
            seeding.elapsed().as_secs_f64()
        );

        // Room for twice the sessions, and no entry expiring during the run (the default
        // staleness bound, 30 s, is shorter than a fill of a million).
        let toml = format!(
            "[database]\nurl = \"{url}\"\n[cache]\nmax_entries = {}\nmax_staleness = \"1h\"\n",
            2 * n.max(1)
        );
        let env = MapEnv::from_pairs(&[("BETTER_AUTH_SECRET", SECRET)]);
        let config = Arc::new(Config::from_file(parse_toml(&toml).unwrap(), &env).unwrap());
        let validator = Arc::new(StandaloneValidator::new(
            config.clone(),
            store::open(&config.database).unwrap(),
        ));
        // One lookup first, so the pool's connections and the statement cache exist.
        pass(&validator, 1, 1).await;
        let before = rss();

        let cold = pass(&validator, n, concurrency).await;
        let cached = validator.cached_sessions().await;
        assert_eq!(cached, n, "every session is cached once");
        let after = rss();
        let warm = pass(&validator, n, concurrency).await;
        let after_warm = rss();

        let per_entry = after.saturating_sub(before) as f64 / n as f64;
        println!("sessions          {n} ({sessions_per_user} per user), {concurrency} in flight");
        println!("rss before fill   {:.1} MB", mb(before));
        println!("rss after fill    {:.1} MB", mb(after));
        println!("bytes per entry   {per_entry:.0}");
        println!("rss after warm    {:.1} MB", mb(after_warm));
        println!("cold lookups/s    {cold:.0}");
        println!("warm lookups/s    {warm:.0}");
        println!("cold/warm         {:.2}", cold / warm);
    });
}
