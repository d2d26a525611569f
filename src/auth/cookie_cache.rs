//! Better Auth's cookie cache (`session_data`), byte-compatible with Better Auth 1.7.25.
//!
//! The cookie carries a payload `P = {session, user, updatedAt, version}` in one of three forms
//! (`session.cookieCache.strategy`):
//!
//! - `compact` (the default): `base64url(JSON{session: P, expiresAt, signature})`, where the
//!   signature is HMAC-SHA256 with the secret over `JSON.stringify({...P, expiresAt})`. The
//!   signature is checked over the exact bytes of `P` as received (see [`payload`]), never over a
//!   re-serialization.
//! - `jwt`: an HS256 JWS keyed with the raw secret, claims `P + iat + exp`.
//! - `jwe`: a `dir` + `A256CBC-HS512` JWE whose 64-byte key is HKDF-SHA256 of the secret, with the
//!   key's RFC 7638 thumbprint as `kid`, claims `P + iat + exp + jti`.
//!
//! [`CookieCache::decode`] applies every check `/get-session` applies except the token match,
//! which needs the verified `session_token` cookie and is the caller's. Large values travel as
//! chunks `name.0`, `name.1`, ...: [`read_chunked`] joins them, [`set_cookie_headers`] splits them.
//!
//! No input makes anything here panic: every malformed value is a [`CacheRejected`].

mod chunks;
mod compact;
mod jose;
mod payload;
#[cfg(test)]
mod tests;

use std::fmt;

pub use chunks::{chunk_names, read_chunked, set_cookie_headers};

use crate::auth::cookie::SigningKey;
use crate::config::{AdditionalFields, CookieCacheConfig, CookieCacheStrategy};
use crate::session::SessionRecord;
use crate::time::Timestamp;

/// Better Auth's `maxAge || 300`: the JWT/JWE lifetime when no `Max-Age` applies (dont_remember).
const DEFAULT_MAX_AGE_SECS: u64 = 300;
/// Better Auth's `maxAge || 60`: the compact cache window when no `Max-Age` applies.
const DONT_REMEMBER_COMPACT_SECS: u64 = 60;

/// Encodes and decodes `session_data` for one configuration; keys are derived once.
pub struct CookieCache {
    strategy: CookieCacheStrategy,
    /// HMAC-SHA256 with the raw secret: compact signatures and HS256.
    key: SigningKey,
    /// The JWE content keys and their `kid`s: the current secret's (which mints), then older
    /// secrets' (which still decrypt, as Better Auth's do).
    jwe: Vec<jose::JweKey>,
    version: String,
    max_age_secs: u64,
    /// The additional fields written into and read from the payload.
    fields: AdditionalFields,
}

impl fmt::Debug for CookieCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CookieCache")
            .field("strategy", &self.strategy)
            .field("version", &self.version)
            .field("max_age_secs", &self.max_age_secs)
            .finish_non_exhaustive()
    }
}

/// A `session_data` value that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedCache {
    /// The cached session and user. `user.extra` is empty.
    pub record: SessionRecord,
    /// The payload's `updatedAt`: when the cache was minted.
    pub minted_at: Timestamp,
    /// The cache's own expiry: compact `expiresAt`, jwt/jwe `exp * 1000`.
    pub expires_at: Timestamp,
}

/// Why a `session_data` value was not accepted. Better Auth answers each of these by expiring the
/// cookie and taking the database path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CacheRejected {
    /// Not decodable: base64url, UTF-8, JSON, or the token's structure.
    #[error("session_data is malformed")]
    Malformed,
    /// A JOSE header that Better Auth does not accept (`alg`, `enc`, `zip`, `crit`).
    #[error("session_data uses an unsupported algorithm")]
    UnsupportedAlgorithm,
    /// A JWE `kid` that is not the current secret's key.
    #[error("session_data was encrypted with another key")]
    UnknownKey,
    /// The signature, or the JWE authentication tag or padding, does not verify.
    #[error("session_data signature does not verify")]
    BadSignature,
    /// The verified payload does not have the shape Better Auth requires.
    #[error("session_data payload is invalid")]
    InvalidPayload,
    /// `version` differs from `cookieCache.version`.
    #[error("session_data has another cache version")]
    WrongVersion,
    /// The cache's own expiry has passed.
    #[error("session_data has expired")]
    Expired,
    /// A JWT `nbf` in the future.
    #[error("session_data is not valid yet")]
    NotYetValid,
    /// The cached session's `expiresAt` has passed.
    #[error("the cached session has expired")]
    SessionExpired,
}

impl CacheRejected {
    /// A short stable label for logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::UnsupportedAlgorithm => "unsupported_algorithm",
            Self::UnknownKey => "unknown_key",
            Self::BadSignature => "bad_signature",
            Self::InvalidPayload => "invalid_payload",
            Self::WrongVersion => "wrong_version",
            Self::Expired => "expired",
            Self::NotYetValid => "not_yet_valid",
            Self::SessionExpired => "session_expired",
        }
    }
}

impl CookieCache {
    /// A codec for `config`, keyed with the Better Auth secret.
    pub fn new(config: &CookieCacheConfig, secret: &str) -> Self {
        let secs = config.max_age.as_secs();
        Self {
            strategy: config.strategy,
            key: SigningKey::new(secret),
            jwe: vec![jose::JweKey::derive(secret)],
            version: config.version.clone(),
            fields: AdditionalFields::default(),
            max_age_secs: if secs == 0 {
                DEFAULT_MAX_AGE_SECS
            } else {
                secs
            },
        }
    }

    /// Also decrypts `jwe` caches minted with these older secrets (Better Auth's `secrets`
    /// rotation: `symmetricDecodeJWT` tries every configured secret; `compact` and `jwt` caches
    /// are signed and checked with the current secret only, there as here).
    pub fn accepting_older_secrets<'a>(mut self, older: impl IntoIterator<Item = &'a str>) -> Self {
        self.jwe.extend(older.into_iter().map(jose::JweKey::derive));
        self
    }

    /// Also writes and reads these additional fields (Better Auth puts the returned ones in
    /// the cache).
    pub fn with_additional_fields(mut self, fields: AdditionalFields) -> Self {
        self.fields = fields;
        self
    }

    /// The strategy this codec reads and writes.
    pub fn strategy(&self) -> CookieCacheStrategy {
        self.strategy
    }

    /// The `Max-Age` Better Auth gives `session_data`: none for a dont_remember session.
    pub fn cookie_max_age(&self, dont_remember: bool) -> Option<u64> {
        (!dont_remember).then_some(self.max_age_secs)
    }

    /// Verifies and decodes a (de-chunked) `session_data` value at `now`.
    ///
    /// Checks, as `/get-session` does: signature or decryption; payload shape (session `id`,
    /// `token`, `userId`, `expiresAt`; user `id`, `email`, `name`; dates in Better Auth's ISO
    /// form); `version` equal to the configured one; the cache's own expiry (compact `expiresAt`,
    /// jwt/jwe `exp * 1000`) at or after `now`; the session's `expiresAt` at or after `now`.
    /// It does NOT compare `session.token` with the session cookie: the caller must.
    pub fn decode(&self, value: &str, now: Timestamp) -> Result<DecodedCache, CacheRejected> {
        let (p, expires_at) = match self.strategy {
            CookieCacheStrategy::Compact => compact::verify(value, &self.key)?,
            CookieCacheStrategy::Jwt => jose::verify_jwt(value, &self.key, now)?,
            CookieCacheStrategy::Jwe => jose::decrypt_jwe(value, &self.jwe, now)?,
        };
        let decoded = payload::parse(&p, now, &self.fields)?;
        if decoded.version != self.version {
            return Err(CacheRejected::WrongVersion);
        }
        if expires_at < now {
            return Err(CacheRejected::Expired);
        }
        if decoded.record.is_expired(now) {
            return Err(CacheRejected::SessionExpired);
        }
        Ok(DecodedCache {
            record: decoded.record,
            minted_at: decoded.minted_at,
            expires_at,
        })
    }

    /// Mints a `session_data` value for `record` at `now`, as Better Auth's `setCookieCache`
    /// does (same JSON, key order and lifetimes). `dont_remember` shortens the compact window to
    /// 60 s; jwt/jwe then last 300 s whatever `max_age` is (Better Auth's `maxAge || 300` with no
    /// `maxAge`).
    pub fn encode(&self, record: &SessionRecord, now: Timestamp, dont_remember: bool) -> String {
        let p = payload::write(record, now, &self.version, &self.fields);
        match self.strategy {
            CookieCacheStrategy::Compact => {
                let window = if dont_remember {
                    DONT_REMEMBER_COMPACT_SECS
                } else {
                    self.max_age_secs
                };
                compact::mint(
                    &p,
                    now.plus(std::time::Duration::from_secs(window)),
                    &self.key,
                )
            }
            CookieCacheStrategy::Jwt => {
                jose::sign_jwt(&p, now, self.token_ttl(dont_remember), &self.key)
            }
            CookieCacheStrategy::Jwe => {
                jose::encrypt_jwe(&p, now, self.token_ttl(dont_remember), &self.jwe[0])
                // the current secret's: `new` puts it first
            }
        }
    }

    fn token_ttl(&self, dont_remember: bool) -> u64 {
        if dont_remember {
            DEFAULT_MAX_AGE_SECS
        } else {
            self.max_age_secs
        }
    }
}
