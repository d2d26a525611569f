//! Cost of the in-process session cache (`SessionCache`, moka) on the request path: a hit
//! (`get_or_load` for a token that is present, the warm steady state of every `required`
//! request) and a miss that runs a trivial loader and inserts the result (the first request of
//! a session, without the database).
//!
//! Run: `cargo bench --bench cache -- --warm-up-time 1 --measurement-time 3`.

#![allow(clippy::unwrap_used)]

use std::convert::Infallible;
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use gatehouse::auth::cache::SessionCache;
use gatehouse::config::CacheConfig;
use gatehouse::time::Timestamp;

/// About the size of what the gateway caches per session: a few short strings.
#[derive(Debug, Clone)]
struct SmallSession {
    user_id: String,
    email: String,
    role: &'static str,
}

impl SmallSession {
    fn new(n: u64) -> Self {
        Self {
            user_id: format!("user{n:028}"),
            email: format!("user{n}@example.com"),
            role: "user",
        }
    }
}

/// Session-shaped tokens: 32 characters.
fn token(n: u64) -> String {
    format!("tok{n:029}")
}

fn config() -> CacheConfig {
    CacheConfig {
        max_entries: 1_000_000,
        max_staleness: Duration::from_secs(3600),
        negative_ttl: Duration::from_secs(5),
    }
}

/// Preloaded entries, so a hit is looked up in a cache of realistic size.
const PRELOADED: u64 = 10_000;

fn benches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let now = Timestamp::now();
    let until = now.plus(Duration::from_secs(3600));

    let warm: SessionCache<SmallSession> = SessionCache::new(&config());
    rt.block_on(async {
        for n in 0..PRELOADED {
            warm.get_or_load::<Infallible, _, _>(&token(n), now, async move {
                Ok((Some((SmallSession::new(n), until)), ()))
            })
            .await
            .unwrap();
        }
    });
    let hit_token = token(PRELOADED / 2);

    let mut g = c.benchmark_group("cache");

    g.bench_function("get_or_load/hit", |b| {
        b.to_async(&rt).iter(|| async {
            let cached = warm
                .get_or_load::<Infallible, (), _>(black_box(&hit_token), now, async {
                    unreachable!("the entry is present")
                })
                .await
                .unwrap()
                .0;
            black_box(cached.value.map(|s| s.role.len()))
        })
    });

    // Each sample gets a fresh cache, tokens and values (made outside the timed region), so every
    // call is a real miss: run the (trivial) loader, wrap the value, insert it.
    g.bench_function("get_or_load/miss + insert", |b| {
        b.to_async(&rt).iter_custom(|iters| async move {
            let cache: SessionCache<SmallSession> = SessionCache::new(&config());
            let tokens: Vec<String> = (0..iters).map(token).collect();
            let values: Vec<SmallSession> = (0..iters).map(SmallSession::new).collect();
            let start = Instant::now();
            for (t, value) in tokens.iter().zip(values) {
                let cached = cache
                    .get_or_load::<Infallible, _, _>(t, now, async move {
                        Ok((Some((value, until)), ()))
                    })
                    .await
                    .unwrap()
                    .0;
                black_box(cached.value.is_some());
            }
            let elapsed = start.elapsed();
            drop(cache);
            elapsed
        })
    });

    g.finish();

    let sample = rt.block_on(
        warm.get_or_load::<Infallible, (), _>(&hit_token, now, async {
            unreachable!("the entry is present")
        }),
    );
    let value = sample.unwrap().0.value.unwrap();
    assert!(value.user_id.ends_with("5000") && value.email.starts_with("user5000@"));
}

criterion_group!(cache, benches);
criterion_main!(cache);
