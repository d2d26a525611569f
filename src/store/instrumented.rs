//! A [`SessionStore`] that times every call into `gatehouse_db_query_duration_seconds{op}`.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;

use super::session_listing::{Account, SessionPage, SessionSearch, SessionStats};
use super::{SessionStore, StoreError};
use crate::metrics::Metrics;
use crate::session::{Session, SessionRecord, User};
use crate::time::Timestamp;

/// Wraps a store and records how long each operation takes.
pub(crate) struct InstrumentedStore {
    inner: Arc<dyn SessionStore>,
    metrics: Arc<Metrics>,
}

impl InstrumentedStore {
    /// `inner`, timed into `metrics`.
    pub(crate) fn new(inner: Arc<dyn SessionStore>, metrics: Arc<Metrics>) -> Self {
        Self { inner, metrics }
    }

    async fn timed<T>(&self, op: &str, call: impl Future<Output = T>) -> T {
        let started = Instant::now();
        let result = call.await;
        self.metrics
            .db_query_duration
            .with_label_values(&[op])
            .observe(started.elapsed().as_secs_f64());
        result
    }
}

#[async_trait]
impl SessionStore for InstrumentedStore {
    async fn find_session(&self, token: &str) -> Result<Option<SessionRecord>, StoreError> {
        self.timed("find_session", self.inner.find_session(token))
            .await
    }

    async fn insert_user(&self, user: &User) -> Result<(), StoreError> {
        self.timed("insert_user", self.inner.insert_user(user))
            .await
    }

    async fn insert_session(&self, session: &Session) -> Result<(), StoreError> {
        self.timed("insert_session", self.inner.insert_session(session))
            .await
    }

    async fn delete_session(&self, token: &str) -> Result<bool, StoreError> {
        self.timed("delete_session", self.inner.delete_session(token))
            .await
    }

    async fn list_user_sessions(&self, user_id: &str) -> Result<Vec<Session>, StoreError> {
        self.timed("list_user_sessions", self.inner.list_user_sessions(user_id))
            .await
    }

    async fn delete_user_sessions(
        &self,
        user_id: &str,
        keep: Option<&str>,
    ) -> Result<Vec<String>, StoreError> {
        self.timed(
            "delete_user_sessions",
            self.inner.delete_user_sessions(user_id, keep),
        )
        .await
    }

    async fn refresh_session(
        &self,
        token: &str,
        expected: Timestamp,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let call = self.inner.refresh_session(token, expected, expires_at, now);
        self.timed("refresh_session", call).await
    }

    async fn delete_expired(&self, now: Timestamp) -> Result<u64, StoreError> {
        self.timed("delete_expired", self.inner.delete_expired(now))
            .await
    }

    async fn count_active(&self, now: Timestamp) -> Result<u64, StoreError> {
        self.timed("count_active", self.inner.count_active(now))
            .await
    }

    async fn search_sessions(&self, search: &SessionSearch) -> Result<SessionPage, StoreError> {
        self.timed("search_sessions", self.inner.search_sessions(search))
            .await
    }

    async fn find_session_by_id(&self, id: &str) -> Result<Option<SessionRecord>, StoreError> {
        self.timed("find_session_by_id", self.inner.find_session_by_id(id))
            .await
    }

    async fn session_stats(&self, now: Timestamp) -> Result<SessionStats, StoreError> {
        self.timed("session_stats", self.inner.session_stats(now))
            .await
    }

    async fn sample_user_ids(&self, limit: u32) -> Result<Vec<String>, StoreError> {
        self.timed("sample_user_ids", self.inner.sample_user_ids(limit))
            .await
    }

    async fn insert_account(&self, account: &Account) -> Result<(), StoreError> {
        self.timed("insert_account", self.inner.insert_account(account))
            .await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.timed("ping", self.inner.ping()).await
    }
}
