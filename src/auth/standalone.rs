//! The validator's lookup path as a public handle, for benches outside the crate
//! (`benches/cache_memory.rs`): the real [`SessionValidator`] over a timed store, with its own
//! metrics and the system clock, exactly as the gateway builds it, minus the proxy.

use std::sync::Arc;

use super::validator::{AuthOutcome, SessionValidator, ValidateOptions};
use crate::config::Config;
use crate::metrics::Metrics;
use crate::store::{InstrumentedStore, SessionStore};
use crate::time::SystemClock;

/// A session validator that stands alone: cookies in, whether they authenticate out.
pub struct StandaloneValidator {
    inner: SessionValidator,
}

impl StandaloneValidator {
    /// A validator for `config` over `store`, wrapped and timed as the gateway does.
    pub fn new(config: Arc<Config>, store: Arc<dyn SessionStore>) -> Self {
        let metrics = Arc::new(Metrics::new());
        let store = Arc::new(InstrumentedStore::new(store, metrics.clone()));
        Self {
            inner: SessionValidator::new(config, store, Arc::new(SystemClock), metrics),
        }
    }

    /// How many identity headers a request with this `Cookie` header would carry upstream
    /// (made as forwarding makes them); `None` without a valid session, an error when the
    /// store could not answer.
    pub async fn identity_headers(&self, cookie_header: &str) -> Result<Option<usize>, String> {
        let outcome = self
            .inner
            .validate(&[cookie_header], ValidateOptions::default())
            .await
            .map_err(|e| e.to_string())?;
        Ok(match outcome {
            AuthOutcome::Authenticated(a) => Some(a.session.headers().count()),
            AuthOutcome::Anonymous { .. } => None,
        })
    }

    /// Sessions held in memory, once the cache's pending bookkeeping has run.
    pub async fn cached_sessions(&self) -> u64 {
        self.inner.settle_cache().await;
        self.inner.cached_sessions()
    }
}
