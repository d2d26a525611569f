//! Revoking sessions: deleted from the database and forgotten here at once, counted by who
//! asked. Other instances learn of it through the database (and its notifications, where
//! installed). The one place the session API and the admin revoke through.

use std::sync::Arc;

use super::SessionValidator;
use crate::metrics::Metrics;
use crate::store::{SessionStore, StoreError};

/// Deletes sessions and forgets them in this instance's caches.
pub(crate) struct Revocation {
    validator: Arc<SessionValidator>,
    store: Arc<dyn SessionStore>,
    metrics: Arc<Metrics>,
}

impl Revocation {
    /// Revocation through `store`, forgetting in `validator`'s caches.
    pub(crate) fn new(
        validator: Arc<SessionValidator>,
        store: Arc<dyn SessionStore>,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            validator,
            store,
            metrics,
        }
    }

    /// Deletes the sessions with these tokens; how many existed. `via` labels the metric.
    pub(crate) async fn revoke(&self, tokens: &[String], via: &str) -> Result<u64, StoreError> {
        let mut deleted = 0;
        for token in tokens {
            self.validator.forget(token).await;
            deleted += u64::from(self.store.delete_session(token).await?);
        }
        self.count(via, deleted);
        Ok(deleted)
    }

    /// Deletes every session of `user_id` except the one with token `keep`; how many.
    pub(crate) async fn revoke_user(
        &self,
        user_id: &str,
        keep: Option<&str>,
        via: &str,
    ) -> Result<u64, StoreError> {
        let tokens = self.store.delete_user_sessions(user_id, keep).await?;
        for token in &tokens {
            self.validator.forget(token).await;
        }
        let deleted = u64::try_from(tokens.len()).unwrap_or(u64::MAX);
        self.count(via, deleted);
        Ok(deleted)
    }

    fn count(&self, via: &str, n: u64) {
        self.metrics.revocations.with_label_values(&[via]).inc_by(n);
    }
}
