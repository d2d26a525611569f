//! The in-process session cache (moka), keyed by session token.
//!
//! An entry lives no longer than the session's `expiresAt` and no longer than the configured
//! staleness bound, so a session deleted from the database stops working within that bound.
//! Tokens the database does not know are cached negatively for a shorter time. Concurrent misses
//! for one token share a single load.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use moka::future::Cache;
use moka::Expiry;

use crate::config::CacheConfig;
use crate::time::Timestamp;

/// What the cache holds for a token: the value, or the knowledge that there is none.
#[derive(Debug)]
pub struct Cached<V> {
    /// `None` when the store had no such session.
    pub value: Option<Arc<V>>,
    ttl: Duration,
}

impl<V> Clone for Cached<V> {
    fn clone(&self) -> Self {
        Self {
            value: self.value.clone(),
            ttl: self.ttl,
        }
    }
}

struct PerEntryTtl;

impl<V> Expiry<String, Cached<V>> for PerEntryTtl {
    fn expire_after_create(
        &self,
        _key: &String,
        value: &Cached<V>,
        _created: Instant,
    ) -> Option<Duration> {
        Some(value.ttl)
    }
}

/// A bounded token -> session cache with per-entry lifetimes.
pub struct SessionCache<V> {
    inner: Cache<String, Cached<V>>,
    max_staleness: Duration,
    negative_ttl: Duration,
}

impl<V: Send + Sync + 'static> SessionCache<V> {
    /// An empty cache sized and timed by `config`.
    pub fn new(config: &CacheConfig) -> Self {
        let inner = Cache::builder()
            .max_capacity(config.max_entries)
            .expire_after(PerEntryTtl)
            .build();
        Self {
            inner,
            max_staleness: config.max_staleness,
            negative_ttl: config.negative_ttl,
        }
    }

    /// The cached entry for `token`, or the result of `load` (run once however many callers miss
    /// at the same time). `load` returns the value, when it stops being valid, and a note for
    /// its caller (where it found the value, say): the note comes back to the one call whose
    /// `load` ran (`None` for a hit, or for a call that shared another's load). Errors are
    /// returned to every waiting caller and not cached.
    pub async fn get_or_load<E, N, F>(
        &self,
        token: &str,
        now: Timestamp,
        load: F,
    ) -> Result<(Cached<V>, Option<N>), Arc<E>>
    where
        E: Send + Sync + 'static,
        F: Future<Output = Result<(Option<(V, Timestamp)>, N), E>>,
    {
        let mut note = None;
        let cached = self
            .inner
            .try_get_with_by_ref(token, async {
                let (found, loaded) = load.await?;
                note = Some(loaded);
                Ok(match found {
                    Some((value, valid_until)) => Cached {
                        ttl: self.max_staleness.min(now.until(valid_until)),
                        value: Some(Arc::new(value)),
                    },
                    None => Cached {
                        value: None,
                        ttl: self.negative_ttl,
                    },
                })
            })
            .await?;
        Ok((cached, note))
    }

    /// Replaces the entry for `token` with `value`, valid until `valid_until`.
    pub async fn insert(&self, token: &str, value: Arc<V>, now: Timestamp, valid_until: Timestamp) {
        let ttl = self.max_staleness.min(now.until(valid_until));
        self.inner
            .insert(
                token.to_owned(),
                Cached {
                    value: Some(value),
                    ttl,
                },
            )
            .await;
    }

    /// The tokens of the entries whose value matches `predicate`.
    pub fn tokens_where(&self, predicate: impl Fn(&V) -> bool) -> Vec<String> {
        self.inner
            .iter()
            .filter(|(_, cached)| cached.value.as_deref().is_some_and(&predicate))
            .map(|(token, _)| token.as_ref().clone())
            .collect()
    }

    /// Forgets every entry (after missed revocation notices).
    pub fn invalidate_all(&self) {
        self.inner.invalidate_all();
    }

    /// Forgets `token` at once.
    pub async fn invalidate(&self, token: &str) {
        self.inner.invalidate(token).await;
    }

    /// Entries currently held (approximate, as moka counts them).
    pub fn entry_count(&self) -> u64 {
        self.inner.entry_count()
    }

    /// Applies moka's pending inserts, evictions and expiries now, so that
    /// [`entry_count`](Self::entry_count) is exact.
    pub async fn run_pending_tasks(&self) {
        self.inner.run_pending_tasks().await;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    fn config(staleness_ms: u64, negative_ms: u64) -> CacheConfig {
        CacheConfig {
            max_entries: 100,
            max_staleness: Duration::from_millis(staleness_ms),
            negative_ttl: Duration::from_millis(negative_ms),
        }
    }

    const NOW: Timestamp = Timestamp::from_millis(1_000_000);

    async fn load_counting(
        cache: &SessionCache<&'static str>,
        loads: &AtomicUsize,
        found: Option<Timestamp>,
    ) -> Option<Arc<&'static str>> {
        let before = loads.load(Ordering::SeqCst);
        let (cached, note) = cache
            .get_or_load::<(), _, _>("tok", NOW, async {
                loads.fetch_add(1, Ordering::SeqCst);
                Ok((found.map(|until| ("alice", until)), "loaded"))
            })
            .await
            .unwrap();
        let loaded = loads.load(Ordering::SeqCst) > before;
        assert_eq!(
            note.is_some(),
            loaded,
            "the note comes back exactly when the load ran"
        );
        cached.value
    }

    #[tokio::test]
    async fn a_hit_does_not_load_again() {
        let cache = SessionCache::new(&config(10_000, 10_000));
        let loads = AtomicUsize::new(0);
        let until = Some(NOW.plus(Duration::from_secs(60)));
        assert_eq!(
            load_counting(&cache, &loads, until).await.as_deref(),
            Some(&"alice")
        );
        assert_eq!(
            load_counting(&cache, &loads, until).await.as_deref(),
            Some(&"alice")
        );
        assert_eq!(loads.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn entries_expire_at_the_staleness_bound() {
        let cache = SessionCache::new(&config(50, 10_000));
        let loads = AtomicUsize::new(0);
        let until = Some(NOW.plus(Duration::from_secs(60)));
        load_counting(&cache, &loads, until).await;
        tokio::time::sleep(Duration::from_millis(120)).await;
        load_counting(&cache, &loads, until).await;
        assert_eq!(loads.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn entries_never_outlive_the_session() {
        let cache = SessionCache::new(&config(60_000, 10_000));
        let loads = AtomicUsize::new(0);
        let until = Some(NOW.plus(Duration::from_millis(50)));
        load_counting(&cache, &loads, until).await;
        tokio::time::sleep(Duration::from_millis(120)).await;
        load_counting(&cache, &loads, until).await;
        assert_eq!(loads.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn misses_are_cached_negatively_for_their_own_time() {
        let cache = SessionCache::new(&config(60_000, 50));
        let loads = AtomicUsize::new(0);
        assert_eq!(load_counting(&cache, &loads, None).await, None);
        assert_eq!(load_counting(&cache, &loads, None).await, None);
        assert_eq!(loads.load(Ordering::SeqCst), 1);
        tokio::time::sleep(Duration::from_millis(120)).await;
        load_counting(&cache, &loads, None).await;
        assert_eq!(loads.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn concurrent_misses_share_one_load() {
        let cache = Arc::new(SessionCache::new(&config(60_000, 60_000)));
        let loads = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..50 {
            let (cache, loads) = (cache.clone(), loads.clone());
            tasks.push(tokio::spawn(async move {
                cache
                    .get_or_load::<(), _, _>("tok", NOW, async {
                        loads.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        Ok((Some(("alice", NOW.plus(Duration::from_secs(60)))), "loaded"))
                    })
                    .await
                    .unwrap()
            }));
        }
        let mut notes = 0;
        for t in tasks {
            let (cached, note) = t.await.unwrap();
            assert!(cached.value.is_some());
            notes += usize::from(note == Some("loaded"));
        }
        assert_eq!(loads.load(Ordering::SeqCst), 1);
        assert_eq!(notes, 1, "only the call whose load ran gets its note");
    }

    #[tokio::test]
    async fn errors_are_not_cached() {
        let cache: SessionCache<&str> = SessionCache::new(&config(60_000, 60_000));
        let failed = cache
            .get_or_load("tok", NOW, async {
                Err::<(Option<(&str, Timestamp)>, ()), _>("down")
            })
            .await;
        assert_eq!(failed.unwrap_err().as_ref(), &"down");
        let loads = AtomicUsize::new(0);
        assert!(
            load_counting(&cache, &loads, Some(NOW.plus(Duration::from_secs(9))))
                .await
                .is_some()
        );
        assert_eq!(loads.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn invalidate_forgets_at_once() {
        let cache = SessionCache::new(&config(60_000, 60_000));
        let loads = AtomicUsize::new(0);
        let until = Some(NOW.plus(Duration::from_secs(60)));
        load_counting(&cache, &loads, until).await;
        cache.invalidate("tok").await;
        load_counting(&cache, &loads, until).await;
        assert_eq!(loads.load(Ordering::SeqCst), 2);
    }
}
