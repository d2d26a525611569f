//! Deciding who a request is: signed cookie, then the moka cache, then Better Auth's signed
//! cookie cache (`session_data`), then the database; and keeping the session alive the way Better
//! Auth does (refresh past `updateAge`, cookies re-sent, `session_data` re-minted).
//!
//! A missing or badly signed cookie never reaches the cache or the database. Store failures are
//! errors (the caller fails closed); everything else is an [`AuthOutcome`]. Unlike Better Auth,
//! the refresh rule is applied whatever answered the lookup, so a session served from memory is
//! still refreshed on time, and a refresh is written once per token however many requests ask.

use std::sync::Arc;
use std::time::Duration;

use moka::future::Cache;
use prometheus::IntCounter;

use super::cache::SessionCache;
use super::cookie::{expire_cookie, find_cookie, SigningKey};
use super::cookie_cache::{chunk_names, read_chunked, set_cookie_headers, CookieCache};
use super::identity::{AuthenticatedSession, IdentityLayout};
use super::session_cookies::SessionCookies;
use crate::config::{Config, Secret};
use crate::metrics::Metrics;
use crate::session::SessionRecord;
use crate::store::{SessionStore, StoreError};
use crate::time::{Clock, Timestamp};

/// Why a request has no session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AnonReason {
    NoCookie,
    BadSignature,
    UnknownSession,
    Expired,
    Banned,
    /// A `sessions.reject_when` rule matched (an account status such as `isActive = false`).
    Rejected,
}

impl AnonReason {
    /// A stable label for logs and metrics.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            AnonReason::NoCookie => "no_cookie",
            AnonReason::BadSignature => "bad_signature",
            AnonReason::UnknownSession => "unknown_session",
            AnonReason::Expired => "expired",
            AnonReason::Banned => "banned",
            AnonReason::Rejected => "rejected",
        }
    }
}

/// What answered a session lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LookupSource {
    Memory,
    CookieCache,
    Database,
}

impl LookupSource {
    /// Every source, in discriminant order.
    const ALL: [LookupSource; 3] = [
        LookupSource::Memory,
        LookupSource::CookieCache,
        LookupSource::Database,
    ];

    /// A stable label for logs and metrics.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            LookupSource::Memory => "memory",
            LookupSource::CookieCache => "cookie_cache",
            LookupSource::Database => "database",
        }
    }
}

/// A request with a valid session.
#[derive(Debug, Clone)]
pub(crate) struct Authenticated {
    pub(crate) session: Arc<AuthenticatedSession>,
    pub(crate) source: LookupSource,
    /// The raw session token, for routes that act on the caller's own session. Never log it.
    pub(crate) token: String,
    /// `Set-Cookie` values the response must carry (refreshed session cookie).
    pub(crate) set_cookies: Vec<String>,
}

/// The result of checking a request's cookies.
#[derive(Debug, Clone)]
pub(crate) enum AuthOutcome {
    Authenticated(Authenticated),
    Anonymous {
        reason: AnonReason,
        /// `Set-Cookie` values the response must carry (expired cookies cleared).
        set_cookies: Vec<String>,
    },
}

impl AuthOutcome {
    fn anonymous(reason: AnonReason) -> Self {
        AuthOutcome::Anonymous {
            reason,
            set_cookies: Vec::new(),
        }
    }
}

/// Per-request switches, as Better Auth's `get-session` query parameters.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ValidateOptions {
    /// `?disableRefresh`: never extend the session on this request.
    pub(crate) disable_refresh: bool,
    /// Read the database, not memory or the cookie cache (`?disableCookieCache`, and every
    /// state-changing route, as Better Auth's sensitive endpoints do).
    pub(crate) authoritative: bool,
}

/// The session store could not answer and the cache did not know the session.
#[derive(Debug, Clone, thiserror::Error)]
#[error("session store unavailable: {0}")]
pub(crate) struct StoreUnavailable(pub(crate) Arc<StoreError>);

/// How long a refresh result is shared with requests that asked for it at the same time.
const REFRESH_SHARING: Duration = Duration::from_secs(5);

/// Checks session cookies against the cache and the store.
pub(crate) struct SessionValidator {
    key: SigningKey,
    cookies: SessionCookies,
    /// The deployment needs data no `session_data` carries, so the cookie cache is never
    /// trusted (see [`cookie_cache_lacks_fields`]).
    cookie_cache_lacks_fields: bool,
    /// The identity headers' names, shared by every cached session.
    layout: Arc<IdentityLayout>,
    cache: SessionCache<AuthenticatedSession>,
    refreshes: Cache<String, Arc<AuthenticatedSession>>,
    /// `None` when Better Auth's cookie cache is off.
    cookie_cache: Option<CookieCache>,
    /// Tokens revoked while a cookie cache minted before the revocation may still be around.
    revoked: Cache<String, ()>,
    store: Arc<dyn SessionStore>,
    clock: Arc<dyn Clock>,
    config: Arc<Config>,
    metrics: Arc<Metrics>,
    /// `gatehouse_session_lookups_total{result="hit"}`, indexed by [`LookupSource`], resolved
    /// once: the series every authenticated request counts.
    hits: [IntCounter; 3],
}

impl SessionValidator {
    /// A validator for `config`, reading sessions from `store`.
    pub(crate) fn new(
        config: Arc<Config>,
        store: Arc<dyn SessionStore>,
        clock: Arc<dyn Clock>,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            key: SigningKey::new(config.better_auth.secret.expose()),
            cookies: SessionCookies::new(config.clone()),
            cookie_cache_lacks_fields: cookie_cache_lacks_fields(&config),
            layout: Arc::new(IdentityLayout::new(&config.headers)),
            cache: SessionCache::new(&config.cache),
            refreshes: Cache::builder()
                .max_capacity(config.cache.max_entries)
                .time_to_live(REFRESH_SHARING)
                .build(),
            cookie_cache: config.better_auth.cookie_cache.as_ref().map(|c| {
                let ba = &config.better_auth;
                CookieCache::new(c, ba.secret.expose())
                    .accepting_older_secrets(ba.older_secrets.iter().map(Secret::expose))
                    .with_additional_fields(ba.additional_fields.clone())
            }),
            revoked: Cache::builder()
                .max_capacity(config.cache.max_entries)
                .time_to_live(
                    config
                        .better_auth
                        .cookie_cache
                        .as_ref()
                        .map_or(Duration::from_secs(1), |c| c.max_trust),
                )
                .build(),
            hits: LookupSource::ALL.map(|source| {
                metrics
                    .session_lookups
                    .with_label_values(&[source.as_str(), "hit"])
            }),
            store,
            clock,
            config,
            metrics,
        }
    }

    /// Who sent a request with these `Cookie` header values.
    pub(crate) async fn validate(
        &self,
        cookie_headers: &[&str],
        options: ValidateOptions,
    ) -> Result<AuthOutcome, StoreUnavailable> {
        let Some(token) = self.verified_token(cookie_headers) else {
            let reason = match find_cookie(cookie_headers.iter().copied(), self.token_cookie()) {
                Some(_) => AnonReason::BadSignature,
                None => AnonReason::NoCookie,
            };
            return Ok(AuthOutcome::anonymous(reason));
        };
        let now = self.clock.now();
        if options.authoritative {
            self.cache.invalidate(&token).await;
        }
        let (cached, loaded_from) = self
            .cache
            .get_or_load(&token, now, async {
                let cached = (!options.authoritative)
                    .then(|| self.session_from_cookie_cache(cookie_headers, &token, now))
                    .flatten();
                if let Some((record, until)) = cached {
                    let entry = self.entry(record, until);
                    return Ok((Some(entry), LookupSource::CookieCache));
                }
                let record = self.store.find_session(&token).await?;
                let entry = record.map(|r| {
                    let until = r.session.expires_at;
                    self.entry(r, until)
                });
                Ok((entry, LookupSource::Database))
            })
            .await
            .map_err(StoreUnavailable)?;
        let source = loaded_from.unwrap_or(LookupSource::Memory);
        let Some(session) = cached.value else {
            self.metrics.lookup(source.as_str(), "miss");
            // A signed token with no session is a dead cookie: clear it, as Better Auth does.
            return Ok(AuthOutcome::Anonymous {
                reason: AnonReason::UnknownSession,
                set_cookies: self.cookies.clear(cookie_headers),
            });
        };
        if session.is_expired(now) {
            self.metrics.lookup(source.as_str(), "expired");
            return Ok(self.expire(&token, cookie_headers).await);
        }
        if self.config.sessions.reject_banned && session.is_banned(now) {
            self.metrics.lookup(source.as_str(), "banned");
            return Ok(AuthOutcome::anonymous(AnonReason::Banned));
        }
        if self.rejected_by_rule(&session) {
            self.metrics.lookup(source.as_str(), "rejected");
            return Ok(AuthOutcome::anonymous(AnonReason::Rejected));
        }
        self.hits[source as usize].inc();
        let refresh_due = !options.disable_refresh && self.refresh_due(&session, now);
        // `dont_remember` scans the cookies again: only when its answer matters (a memory hit
        // that needs no refresh, the common case, never asks).
        let dont_remember =
            (refresh_due || source == LookupSource::Database) && self.dont_remember(cookie_headers);
        if !refresh_due || dont_remember {
            // Better Auth re-mints the cookie cache on every database read.
            let set_cookies = if source == LookupSource::Database && !dont_remember {
                self.session_data_cookies(&session, &token, cookie_headers, now)
            } else {
                Vec::new()
            };
            return Ok(AuthOutcome::Authenticated(Authenticated {
                session,
                source,
                token,
                set_cookies,
            }));
        }
        let mut refreshed = self.refresh(token, session, source, now).await;
        if !refreshed.set_cookies.is_empty() {
            let data = self.session_data_cookies(
                &refreshed.session,
                &refreshed.token,
                cookie_headers,
                now,
            );
            refreshed.set_cookies.extend(data);
        }
        Ok(AuthOutcome::Authenticated(refreshed))
    }

    /// The token of a correctly signed session cookie.
    ///
    /// SECURITY: only a correctly signed token ever reaches the cache or the database.
    pub(crate) fn verified_token(&self, cookie_headers: &[&str]) -> Option<String> {
        let value = find_cookie(cookie_headers.iter().copied(), self.token_cookie())?;
        let token_len = self.key.verify_cookie_value(&value)?.len();
        // The token is the value's prefix: keep the (usually already decoded) value's buffer.
        let mut token = value.into_owned();
        token.truncate(token_len);
        Some(token)
    }

    fn token_cookie(&self) -> &str {
        &self.config.better_auth.cookies.session_token
    }

    /// Whether a `sessions.reject_when` rule matches `session` (same JSON value in that field).
    fn rejected_by_rule(&self, session: &AuthenticatedSession) -> bool {
        self.config
            .sessions
            .reject_when
            .iter()
            .any(|(at, value)| session.field(*at) == Some(value))
    }

    /// A valid `dont_remember` cookie (the signed string `true`): such sessions never refresh.
    fn dont_remember(&self, cookie_headers: &[&str]) -> bool {
        let name = &self.config.better_auth.cookies.dont_remember;
        find_cookie(cookie_headers.iter().copied(), name)
            .is_some_and(|v| self.key.verify_cookie_value(&v) == Some("true"))
    }

    fn entry(&self, record: SessionRecord, until: Timestamp) -> (AuthenticatedSession, Timestamp) {
        (AuthenticatedSession::new(record, &self.layout), until)
    }

    /// The `session_data` expiries Better Auth's get-session writes before anything else:
    /// with the cookie cache off, every `session_data` cookie (and chunk) the request sent;
    /// with it on (and not skipped by `disableCookieCache`), for a correctly signed session
    /// cookie, `session_data` itself when the cache does not decode or is for another token.
    pub(crate) fn stale_session_data(
        &self,
        cookie_headers: &[&str],
        disable_cookie_cache: bool,
    ) -> Vec<String> {
        let c = &self.config.better_auth.cookies;
        let Some(sent) = read_chunked(cookie_headers, &c.session_data) else {
            return Vec::new();
        };
        let Some(codec) = &self.cookie_cache else {
            return chunk_names(cookie_headers, &c.session_data)
                .iter()
                .map(|name| expire_cookie(name, &c.session_data_attributes))
                .collect();
        };
        let Some(token) = self.verified_token(cookie_headers) else {
            return Vec::new();
        };
        let usable = disable_cookie_cache
            || codec
                .decode(&sent, self.clock.now())
                .is_ok_and(|d| d.record.session.token == token);
        if usable {
            Vec::new()
        } else {
            vec![expire_cookie(&c.session_data, &c.session_data_attributes)]
        }
    }

    /// The session in a valid `session_data` cookie for this token, and how long to trust it: no
    /// longer than its own expiry or `max_trust` after it was minted, and never for a token this
    /// instance revoked. Skipped when the deployment needs data no cache carries (see
    /// [`cookie_cache_lacks_fields`]).
    fn session_from_cookie_cache(
        &self,
        cookie_headers: &[&str],
        token: &str,
        now: Timestamp,
    ) -> Option<(SessionRecord, Timestamp)> {
        let codec = self.cookie_cache.as_ref()?;
        let settings = self.config.better_auth.cookie_cache.as_ref()?;
        if self.cookie_cache_lacks_fields {
            return None;
        }
        let value = read_chunked(
            cookie_headers,
            &self.config.better_auth.cookies.session_data,
        )?;
        let rejected = |result: &str| {
            self.metrics
                .lookup(LookupSource::CookieCache.as_str(), result);
            None
        };
        if self.revoked.contains_key(token) {
            return rejected("revoked");
        }
        let decoded = match codec.decode(&value, now) {
            Ok(decoded) => decoded,
            Err(reason) => {
                tracing::debug!(reason = reason.as_str(), "cookie cache rejected");
                return rejected("invalid");
            }
        };
        let trusted_until = decoded.minted_at.plus(settings.max_trust);
        if decoded.record.session.token != token || trusted_until < now {
            return rejected("invalid");
        }
        let until = decoded
            .expires_at
            .min(trusted_until)
            .min(decoded.record.session.expires_at);
        Some((decoded.record, until))
    }

    /// A fresh `session_data` for `session` (and deletions of stale chunks), when the cookie
    /// cache is on.
    fn session_data_cookies(
        &self,
        session: &AuthenticatedSession,
        token: &str,
        cookie_headers: &[&str],
        now: Timestamp,
    ) -> Vec<String> {
        let Some(codec) = &self.cookie_cache else {
            return Vec::new();
        };
        let record = session.record(token);
        let cookies = &self.config.better_auth.cookies;
        let stale = chunk_names(cookie_headers, &cookies.session_data);
        set_cookie_headers(
            &cookies.session_data,
            &codec.encode(&record, now, false),
            codec.cookie_max_age(false),
            &cookies.session_data_attributes,
            &stale,
        )
    }

    /// Better Auth's rule: `expiresAt - expiresIn + updateAge <= now`.
    fn refresh_due(&self, session: &AuthenticatedSession, now: Timestamp) -> bool {
        let ba = &self.config.better_auth;
        !self.config.sessions.disable_refresh
            && session
                .expires_at()
                .minus(ba.expires_in)
                .plus(ba.update_age)
                <= now
    }

    /// Extends the session once however many requests ask at the same time, then re-sends the
    /// (unchanged) session cookie with a fresh `Max-Age`. A failed write leaves the session as
    /// it was and is retried by the next request.
    async fn refresh(
        &self,
        token: String,
        session: Arc<AuthenticatedSession>,
        source: LookupSource,
        now: Timestamp,
    ) -> Authenticated {
        let refreshed = self
            .refreshes
            .try_get_with_by_ref(token.as_str(), async {
                let old = session.expires_at();
                let expires_at = now.plus(self.config.better_auth.expires_in);
                let written = self
                    .store
                    .refresh_session(&token, old, expires_at, now)
                    .await?;
                let record = if written {
                    let mut record = session.record(&token);
                    record.session.expires_at = expires_at;
                    record.session.updated_at = now;
                    record
                } else {
                    // Another request or instance wrote it first: take what it wrote. If the
                    // row still holds the expiry this refresh expected, nobody did: the UPDATE
                    // missed, and no cookie may claim an extension that was not written.
                    let record = self
                        .store
                        .find_session(&token)
                        .await?
                        .ok_or(StoreError::SessionGone)?;
                    if record.session.expires_at <= old {
                        return Err(StoreError::RefreshNotWritten);
                    }
                    record
                };
                let result = if written {
                    "written"
                } else {
                    "already_refreshed"
                };
                self.metrics
                    .session_refreshes
                    .with_label_values(&[result])
                    .inc();
                let until = record.session.expires_at;
                let (fresh, until) = self.entry(record, until);
                let fresh = Arc::new(fresh);
                self.cache.insert(&token, fresh.clone(), now, until).await;
                Ok::<_, StoreError>(fresh)
            })
            .await;
        match refreshed {
            Ok(fresh) => Authenticated {
                set_cookies: vec![self.cookies.session_cookie(&token)],
                session: fresh,
                source,
                token,
            },
            Err(e) => {
                self.metrics
                    .session_refreshes
                    .with_label_values(&["failed"])
                    .inc();
                tracing::warn!(error = %e, "session refresh failed; will retry on the next request");
                Authenticated {
                    session,
                    source,
                    token,
                    set_cookies: Vec::new(),
                }
            }
        }
    }

    /// The `Set-Cookie` headers Gatehouse writes for Better Auth's cookies.
    pub(crate) fn cookies(&self) -> &SessionCookies {
        &self.cookies
    }

    /// An expired session: forgotten, its row deleted, its cookies cleared.
    async fn expire(&self, token: &str, cookie_headers: &[&str]) -> AuthOutcome {
        self.metrics
            .revocations
            .with_label_values(&["expired"])
            .inc();
        self.forget(token).await;
        if let Err(e) = self.store.delete_session(token).await {
            tracing::warn!(error = %e, "could not delete an expired session");
        }
        AuthOutcome::Anonymous {
            reason: AnonReason::Expired,
            set_cookies: self.cookies.clear(cookie_headers),
        }
    }

    /// Drops `token` from memory at once (after a revocation).
    pub(crate) async fn forget(&self, token: &str) {
        self.revoked.insert(token.to_owned(), ()).await;
        self.cache.invalidate(token).await;
        self.refreshes.invalidate(token).await;
    }

    /// Drops every session of a user from memory (after a ban or a deletion), and stops
    /// trusting cookie caches minted for them before.
    pub(crate) async fn forget_user(&self, user_id: &str) {
        for token in self.cache.tokens_where(|s| s.user_id() == user_id) {
            self.forget(&token).await;
        }
    }

    /// Drops every session from memory (when revocation notices may have been missed).
    pub(crate) fn forget_all(&self) {
        self.cache.invalidate_all();
        self.refreshes.invalidate_all();
    }

    /// Sessions held in memory.
    pub(crate) fn cached_sessions(&self) -> u64 {
        self.cache.entry_count()
    }

    /// Applies the session cache's pending bookkeeping, so [`Self::cached_sessions`] is exact.
    pub(crate) async fn settle_cache(&self) {
        self.cache.run_pending_tasks().await;
    }
}

/// Whether the deployment needs data no `session_data` carries: `headers.user_columns`, a
/// `sessions.reject_when` rule on a `returned = false` field, or a route's
/// `organization_roles` (the member role). Such deployments never trust the cookie cache.
fn cookie_cache_lacks_fields(config: &Config) -> bool {
    let fields = &config.better_auth.additional_fields;
    !config.headers.user_columns.is_empty()
        || config
            .sessions
            .reject_when
            .iter()
            .any(|(at, _)| fields.get(*at).is_some_and(|f| !f.returned))
        || config
            .routes
            .iter()
            .any(|r| !r.organization_roles.is_empty())
}

#[cfg(test)]
mod tests;
