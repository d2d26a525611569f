//! Deciding who a request is: signed cookie, then the moka cache, then the database.
//!
//! A missing or badly signed cookie never reaches the cache or the database. Store failures are
//! errors (the caller fails closed); everything else is an [`AuthOutcome`].

use std::sync::Arc;

use super::cache::SessionCache;
use super::cookie::{find_cookie, SigningKey};
use super::identity::AuthenticatedSession;
use crate::config::Config;
use crate::store::{SessionStore, StoreError};
use crate::time::Clock;

/// Why a request has no session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnonReason {
    NoCookie,
    BadSignature,
    UnknownSession,
    Expired,
    Banned,
}

impl AnonReason {
    /// A stable label for logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            AnonReason::NoCookie => "no_cookie",
            AnonReason::BadSignature => "bad_signature",
            AnonReason::UnknownSession => "unknown_session",
            AnonReason::Expired => "expired",
            AnonReason::Banned => "banned",
        }
    }
}

/// The result of checking a request's cookies.
#[derive(Debug, Clone)]
pub enum AuthOutcome {
    Authenticated(Arc<AuthenticatedSession>),
    Anonymous(AnonReason),
}

/// The session store could not answer and the cache did not know the session.
#[derive(Debug, Clone, thiserror::Error)]
#[error("session store unavailable: {0}")]
pub struct StoreUnavailable(pub Arc<StoreError>);

/// Checks session cookies against the cache and the store.
pub struct SessionValidator {
    key: SigningKey,
    cookie_name: String,
    cache: SessionCache<AuthenticatedSession>,
    store: Arc<dyn SessionStore>,
    clock: Arc<dyn Clock>,
    config: Arc<Config>,
}

impl SessionValidator {
    /// A validator for `config`, reading sessions from `store`.
    pub fn new(config: Arc<Config>, store: Arc<dyn SessionStore>, clock: Arc<dyn Clock>) -> Self {
        Self {
            key: SigningKey::new(config.better_auth.secret.expose()),
            cookie_name: config.better_auth.cookies.session_token.clone(),
            cache: SessionCache::new(&config.cache),
            store,
            clock,
            config,
        }
    }

    /// Who sent a request with these `Cookie` header values.
    pub async fn validate<'a>(
        &self,
        cookie_headers: impl IntoIterator<Item = &'a str>,
    ) -> Result<AuthOutcome, StoreUnavailable> {
        let Some(raw) = find_cookie(cookie_headers, &self.cookie_name) else {
            return Ok(AuthOutcome::Anonymous(AnonReason::NoCookie));
        };
        // SECURITY: only a correctly signed token reaches the cache or the database.
        let Some(token) = self.key.verify_cookie_value(&raw) else {
            return Ok(AuthOutcome::Anonymous(AnonReason::BadSignature));
        };
        let now = self.clock.now();
        let cached = self
            .cache
            .get_or_load(token, now, async {
                let record = self.store.find_session(token).await?;
                Ok(record.map(|r| {
                    let until = r.session.expires_at;
                    (AuthenticatedSession::new(r, &self.config.headers), until)
                }))
            })
            .await
            .map_err(StoreUnavailable)?;
        Ok(match cached.value {
            None => AuthOutcome::Anonymous(AnonReason::UnknownSession),
            Some(s) if s.record.is_expired(now) => AuthOutcome::Anonymous(AnonReason::Expired),
            Some(s) if s.record.is_banned(now) => AuthOutcome::Anonymous(AnonReason::Banned),
            Some(s) => AuthOutcome::Authenticated(s),
        })
    }

    /// The key that signs and verifies session cookies.
    pub fn signing_key(&self) -> &SigningKey {
        &self.key
    }

    /// Sessions held in memory.
    pub fn cached_sessions(&self) -> u64 {
        self.cache.entry_count()
    }
}

#[cfg(test)]
mod tests;
