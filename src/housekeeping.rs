//! The gateway's background work, as plain async functions the Pingora glue runs: following
//! PostgreSQL's revocation notices, and deleting expired sessions in bounded batches.

use std::sync::Arc;
use std::time::Duration;

use crate::auth::SessionValidator;
use crate::config::{Config, DatabaseKind};
use crate::metrics::Metrics;
use crate::store::notify::{Notice, NoticeListener};
use crate::store::{SessionStore, EXPIRED_BATCH};
use crate::time::Clock;

/// The background work, with only what it touches.
pub(crate) struct Housekeeping {
    config: Arc<Config>,
    validator: Arc<SessionValidator>,
    store: Arc<dyn SessionStore>,
    clock: Arc<dyn Clock>,
    metrics: Arc<Metrics>,
}

impl Housekeeping {
    /// Housekeeping for the gateway made of these parts.
    pub(crate) fn new(
        config: Arc<Config>,
        validator: Arc<SessionValidator>,
        store: Arc<dyn SessionStore>,
        clock: Arc<dyn Clock>,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            config,
            validator,
            store,
            clock,
            metrics,
        }
    }

    /// Runs every background task until dropped.
    pub(crate) async fn run(&self) {
        tokio::join!(
            self.follow_revocations(),
            self.clean_expired_periodically(),
            self.update_gauges_periodically(),
        );
    }

    /// Forgets sessions the moment PostgreSQL reports them deleted (or their user banned or
    /// deleted), on every instance sharing the database. Returns at once for other databases;
    /// otherwise runs until dropped. Without the trigger nothing arrives, and staleness stays
    /// bounded by `cache.max_staleness`.
    async fn follow_revocations(&self) {
        let url = self.config.database.url.expose();
        if DatabaseKind::of(url) != Some(DatabaseKind::Postgres) {
            return;
        }
        let mut listener = loop {
            match NoticeListener::connect(url).await {
                Ok(listener) => break listener,
                Err(e) => {
                    tracing::warn!(error = %e, "revocation notices: cannot listen yet; retrying");
                    tokio::time::sleep(Duration::from_secs(2)).await;
                }
            }
        };
        tracing::info!("revocation notices: listening");
        // Sessions cached before this point may have been revoked unnoticed.
        self.validator.forget_all();
        loop {
            match listener.next().await {
                Notice::SessionDeleted(token) => {
                    self.metrics
                        .revocations
                        .with_label_values(&["notify"])
                        .inc();
                    self.validator.forget(&token).await;
                }
                Notice::UserChanged(user_id) => self.validator.forget_user(&user_id).await,
                Notice::Reconnected => {
                    tracing::warn!("revocation notices: reconnected; dropping cached sessions");
                    self.validator.forget_all();
                }
            }
        }
    }

    /// Updates the gauges that are counted rather than tracked: sessions in memory, and
    /// unexpired sessions in the database (one `COUNT` query per interval, never per scrape;
    /// on a large table the interval grows with the count's duration, [`gauge_wait`]).
    async fn update_gauges_periodically(&self) {
        loop {
            let cached = i64::try_from(self.validator.cached_sessions()).unwrap_or(i64::MAX);
            self.metrics.cache_entries.set(cached);
            let started = std::time::Instant::now();
            match self.store.count_active(self.clock.now()).await {
                Ok(n) => self
                    .metrics
                    .active_sessions
                    .set(i64::try_from(n).unwrap_or(i64::MAX)),
                Err(e) => tracing::debug!(error = %e, "cannot count active sessions"),
            }
            let wait = gauge_wait(self.config.metrics.gauge_interval, started.elapsed());
            tokio::time::sleep(wait).await;
        }
    }

    /// Deletes every session that has expired, one bounded batch at a time; how many.
    async fn clean_expired(&self) -> Result<u64, crate::store::StoreError> {
        let mut total = 0;
        loop {
            let deleted = self.store.delete_expired(self.clock.now()).await?;
            total += deleted;
            if deleted < u64::from(EXPIRED_BATCH) {
                return Ok(total);
            }
        }
    }

    /// Runs [`Housekeeping::clean_expired`] every `sessions.cleanup_interval` until dropped
    /// (never, when cleanup is off).
    async fn clean_expired_periodically(&self) {
        let Some(interval) = self.config.sessions.cleanup_interval else {
            return std::future::pending().await;
        };
        loop {
            tokio::time::sleep(interval).await;
            match self.clean_expired().await {
                Ok(0) => {}
                Ok(n) => {
                    self.metrics
                        .revocations
                        .with_label_values(&["cleanup"])
                        .inc_by(n);
                    tracing::info!(deleted = n, "expired sessions deleted");
                }
                Err(e) => tracing::warn!(error = %e, "expired session cleanup failed"),
            }
        }
    }
}

/// How long to wait before counting active sessions again: `interval`, or, when the last count
/// `took` longer than a hundredth of it, a hundred times that, so the count never uses more than
/// 1% of the database's time (a `COUNT` over a million SQLite rows takes seconds).
fn gauge_wait(interval: Duration, took: Duration) -> Duration {
    interval.max(took.saturating_mul(100))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slow_count_is_made_rarely() {
        let interval = Duration::from_secs(30);
        assert_eq!(gauge_wait(interval, Duration::from_millis(20)), interval);
        assert_eq!(
            gauge_wait(interval, Duration::from_millis(4_300)),
            Duration::from_secs(430)
        );
    }
}
