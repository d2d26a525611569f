//! The signed identity assertion (`[identity_assertion]`, per route `assertion_audience`): a
//! short-lived JWT an upstream can verify against Gatehouse's JWKS instead of trusting bare
//! `x-auth-*` headers.
//!
//! Written with `ring` rather than a JWT crate: a JWS in compact form is three base64url parts
//! signed with one ring call, and the JWKS needs each key's public half in JWK form, which the
//! JWT crates do not produce for every algorithm here; ring is already the TLS stack's.
//!
//! Keys: a fixed `key_file` (PKCS#8 PEM: Ed25519, P-256 or RSA), or `key_dir`, where Gatehouse
//! makes an Ed25519 or P-256 key, persists it (`<created unix seconds>.pem`, mode 0600) and makes
//! a new one every `rotate_every`. A replaced key stays in the JWKS until the last token it
//! signed has expired. Tokens are cached per (session, audience) for half their lifetime, so an
//! assertion is signed at most twice per lifetime per session and audience, not per request.
//! The last token signed for a session is also kept with its cached session, so a warm request
//! for the same audience reads it from there without hashing or a cache lookup.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use http::{HeaderName, HeaderValue};
use ring::rand::SystemRandom;
use ring::signature::{
    EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING,
    RSA_PKCS1_SHA256,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::PrivateKeyDer;
use sha2::{Digest, Sha256};

use crate::auth::{AuthenticatedSession, SignedAssertion};
use crate::config::{AssertionAlgorithm, AssertionConfig, AssertionKeys, FieldRef};

/// Where the JWKS is served (operations listener; proxy listener with `serve_jwks_on_proxy`).
pub(crate) const JWKS_PATH: &str = "/.well-known/jwks.json";

/// Why the signing keys cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum AssertionError {
    #[error("{path}: {message}")]
    Key { path: PathBuf, message: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// One signing key with its public half as a JWK.
struct SigningKey {
    kid: String,
    created: i64,
    signer: Signer,
    jwk: serde_json::Value,
}

enum Signer {
    Ed25519(Ed25519KeyPair),
    P256(EcdsaKeyPair),
    Rsa(RsaKeyPair),
}

impl SigningKey {
    /// The key in PKCS#8 `der`, made at `created`.
    fn from_pkcs8(der: &[u8], created: i64, path: &Path) -> Result<Self, AssertionError> {
        let bad = |message: String| AssertionError::Key {
            path: path.into(),
            message,
        };
        let b64 = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
        let (signer, alg, mut jwk, public) = if let Ok(k) =
            Ed25519KeyPair::from_pkcs8_maybe_unchecked(der)
        {
            let public = k.public_key().as_ref().to_vec();
            let jwk = serde_json::json!({ "kty": "OKP", "crv": "Ed25519", "x": b64(&public) });
            (Signer::Ed25519(k), "EdDSA", jwk, public)
        } else if let Ok(k) =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der, &SystemRandom::new())
        {
            let public = k.public_key().as_ref().to_vec();
            // 0x04 || x || y
            let jwk = serde_json::json!({
                "kty": "EC", "crv": "P-256", "x": b64(&public[1..33]), "y": b64(&public[33..65]),
            });
            (Signer::P256(k), "ES256", jwk, public)
        } else if let Ok(k) = RsaKeyPair::from_pkcs8(der) {
            let ring::rsa::PublicKeyComponents::<Vec<u8>> { n, e } = k.public().into();
            let jwk = serde_json::json!({ "kty": "RSA", "n": b64(&n), "e": b64(&e) });
            let public = [n, e].concat();
            (Signer::Rsa(k), "RS256", jwk, public)
        } else {
            return Err(bad(
                "not a PKCS#8 Ed25519, P-256 or RSA (2048 bits or more) private key; convert one \
                 with `openssl pkcs8 -topk8 -nocrypt`"
                    .into(),
            ));
        };
        let kid = b64(&Sha256::digest(&public)[..12]);
        jwk["use"] = "sig".into();
        jwk["alg"] = alg.into();
        jwk["kid"] = kid.clone().into();
        Ok(Self {
            kid,
            created,
            signer,
            jwk,
        })
    }

    fn alg(&self) -> &'static str {
        match self.signer {
            Signer::Ed25519(_) => "EdDSA",
            Signer::P256(_) => "ES256",
            Signer::Rsa(_) => "RS256",
        }
    }

    /// `header.payload.signature` for `claims`.
    fn sign(&self, claims: &serde_json::Value) -> String {
        let header = serde_json::json!({ "alg": self.alg(), "typ": "JWT", "kid": self.kid });
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let rng = SystemRandom::new();
        let signature = match &self.signer {
            Signer::Ed25519(k) => k.sign(input.as_bytes()).as_ref().to_vec(),
            Signer::P256(k) => k
                .sign(&rng, input.as_bytes())
                .map(|s| s.as_ref().to_vec())
                .unwrap_or_default(),
            Signer::Rsa(k) => {
                let mut out = vec![0; k.public().modulus_len()];
                match k.sign(&RSA_PKCS1_SHA256, &rng, input.as_bytes(), &mut out) {
                    Ok(()) => out,
                    Err(_) => Vec::new(),
                }
            }
        };
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
    }
}

/// The signing key and the keys still verifying unexpired tokens.
struct KeySet {
    current: Arc<SigningKey>,
    /// Replaced keys and when their last token expires (unix seconds).
    retiring: Vec<(Arc<SigningKey>, i64)>,
}

/// A signed token and whom it was signed for.
struct Minted {
    session_id: String,
    audience: Arc<str>,
    token: HeaderValue,
    /// Unix seconds from which a cached session signs a new one (the cache's time to live
    /// ends then too).
    reuse_until: i64,
}

/// Signs assertions and publishes the JWKS.
pub(crate) struct Assertions {
    config: AssertionConfig,
    keys: RwLock<KeySet>,
    /// A hash of (session id, audience) to the token signed for them, for half the tokens'
    /// lifetime. Keyed by the hash so a lookup allocates nothing; the entry names its session
    /// and audience, and a token is served only when both match (a collision is a miss).
    minted: moka::sync::Cache<u64, Arc<Minted>>,
    active_organization: Option<FieldRef>,
    /// Seeds the `minted` keys (random per process).
    key_hasher: std::collections::hash_map::RandomState,
}

impl Assertions {
    /// Loads (or, with `key_dir`, makes) the keys; `now` in unix seconds.
    pub(crate) fn new(
        config: AssertionConfig,
        active_organization: Option<FieldRef>,
        cache_entries: u64,
        now: i64,
    ) -> Result<Self, AssertionError> {
        let keys = match &config.keys {
            AssertionKeys::File(path) => KeySet {
                current: Arc::new(read_key(path, 0)?),
                retiring: Vec::new(),
            },
            AssertionKeys::Dir { path, .. } => load_dir(path, config.algorithm, &config, now)?,
        };
        Ok(Self {
            minted: moka::sync::Cache::builder()
                .max_capacity(cache_entries)
                .time_to_live(config.lifetime / 2)
                .build(),
            config,
            keys: RwLock::new(keys),
            active_organization,
            key_hasher: std::collections::hash_map::RandomState::new(),
        })
    }

    /// The header the assertion goes in.
    pub(crate) fn header(&self) -> &HeaderName {
        &self.config.header
    }

    /// The assertion for `session` at `audience`, signed now (`now`, unix seconds) or minted
    /// earlier in this token's half-life.
    pub(crate) fn token(
        &self,
        session: &AuthenticatedSession,
        audience: &Arc<str>,
        now: i64,
    ) -> HeaderValue {
        if let Some(token) = session.signed_assertion(audience, now) {
            return token;
        }
        let key = {
            use std::hash::{BuildHasher, Hash, Hasher};
            let mut h = self.key_hasher.build_hasher();
            session.session_id().hash(&mut h);
            audience.hash(&mut h);
            h.finish()
        };
        let minted = match self.minted.get(&key) {
            Some(m)
                if m.session_id == session.session_id()
                    && m.audience == *audience
                    && now < m.reuse_until =>
            {
                m
            }
            _ => {
                let minted = Arc::new(Minted {
                    session_id: session.session_id().to_owned(),
                    audience: Arc::clone(audience),
                    token: self.sign(session, audience, now),
                    reuse_until: now + (self.config.lifetime / 2).as_secs() as i64,
                });
                self.minted.insert(key, Arc::clone(&minted));
                minted
            }
        };
        session.keep_assertion(Arc::new(SignedAssertion {
            audience: Arc::clone(audience),
            token: minted.token.clone(),
            reuse_until: minted.reuse_until,
        }));
        minted.token.clone()
    }

    /// A new assertion for `session` at `audience`, issued at `now`.
    fn sign(&self, session: &AuthenticatedSession, audience: &Arc<str>, now: i64) -> HeaderValue {
        let org = self
            .active_organization
            .and_then(|at| session.field(at))
            .and_then(|v| v.as_str());
        let mut claims = serde_json::json!({
            "iss": self.config.issuer,
            "sub": session.user_id(),
            "aud": audience.as_ref(),
            "iat": now,
            "exp": now + self.config.lifetime.as_secs() as i64,
            "sid": session.session_id(),
            "email": session.email(),
            "name": session.name(),
        });
        if let Some(role) = session.role() {
            claims["role"] = role.into();
        }
        if let Some(org) = org {
            claims["org_id"] = org.into();
        }
        let current = Arc::clone(&self.keys.read().unwrap_or_else(|e| e.into_inner()).current);
        HeaderValue::from_str(&current.sign(&claims))
            .expect("a JWS is base64url and dots: a valid header value")
    }

    /// The JWKS document: the signing key and every replaced key whose tokens may still be
    /// unexpired at `now`.
    pub(crate) fn jwks(&self, now: i64) -> String {
        let keys = self.keys.read().unwrap_or_else(|e| e.into_inner());
        let mut list = vec![keys.current.jwk.clone()];
        list.extend(
            keys.retiring
                .iter()
                .filter(|(_, until)| *until > now)
                .map(|(k, _)| k.jwk.clone()),
        );
        serde_json::json!({ "keys": list }).to_string()
    }

    /// The JWKS as an HTTP answer (`/.well-known/jwks.json`).
    pub(crate) fn jwks_response(&self, now: i64) -> http::Response<bytes::Bytes> {
        let mut response = http::Response::new(bytes::Bytes::from(self.jwks(now)));
        let headers = response.headers_mut();
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/jwk-set+json"),
        );
        // Verifiers may cache it briefly; a rotated key is published a lifetime ahead of need.
        headers.insert(
            http::header::CACHE_CONTROL,
            HeaderValue::from_static("max-age=60"),
        );
        response
    }

    /// With `key_dir`: makes a new signing key once the current one is `rotate_every` old.
    /// Returns whether it did.
    pub(crate) fn rotate_if_due(&self, now: i64) -> Result<bool, AssertionError> {
        let AssertionKeys::Dir { path, rotate_every } = &self.config.keys else {
            return Ok(false);
        };
        let created = self
            .keys
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .current
            .created;
        if now - created < rotate_every.as_secs() as i64 {
            return Ok(false);
        }
        let fresh = Arc::new(make_key(path, self.config.algorithm, now)?);
        let retire_at = now + self.config.lifetime.as_secs() as i64;
        let mut keys = self.keys.write().unwrap_or_else(|e| e.into_inner());
        let old = std::mem::replace(&mut keys.current, fresh);
        keys.retiring.retain(|(_, until)| *until > now);
        keys.retiring.push((old, retire_at));
        tracing::info!(kid = %keys.current.kid, "identity assertion key rotated");
        Ok(true)
    }
}

fn read_key(path: &Path, created: i64) -> Result<SigningKey, AssertionError> {
    let pem = std::fs::read(path).map_err(|source| AssertionError::Io {
        path: path.into(),
        source,
    })?;
    match PrivateKeyDer::from_pem_slice(&pem) {
        Ok(PrivateKeyDer::Pkcs8(der)) => {
            SigningKey::from_pkcs8(der.secret_pkcs8_der(), created, path)
        }
        _ => Err(AssertionError::Key {
            path: path.into(),
            message: "holds no PKCS#8 private key (-----BEGIN PRIVATE KEY-----)".into(),
        }),
    }
}

/// The keys in `dir` (`<created>.pem`): the newest signs unless it is `rotate_every` old, in
/// which case a new one is made; older ones verify until their successor's start plus the
/// tokens' lifetime. Files past that are deleted.
fn load_dir(
    dir: &Path,
    algorithm: AssertionAlgorithm,
    config: &AssertionConfig,
    now: i64,
) -> Result<KeySet, AssertionError> {
    std::fs::create_dir_all(dir).map_err(|source| AssertionError::Io {
        path: dir.into(),
        source,
    })?;
    let mut found: Vec<(i64, PathBuf)> = std::fs::read_dir(dir)
        .map_err(|source| AssertionError::Io {
            path: dir.into(),
            source,
        })?
        .filter_map(Result::ok)
        .filter_map(|e| {
            let path = e.path();
            let created = path.file_stem()?.to_str()?.parse().ok()?;
            (path.extension()? == "pem").then_some((created, path))
        })
        .collect();
    found.sort();
    let lifetime = config.lifetime.as_secs() as i64;
    let rotate_every = match &config.keys {
        AssertionKeys::Dir { rotate_every, .. } => rotate_every.as_secs() as i64,
        AssertionKeys::File(_) => i64::MAX,
    };
    let current = match found.last() {
        Some((created, path)) if now - created < rotate_every => read_key(path, *created)?,
        _ => {
            let key = make_key(dir, algorithm, now)?;
            found.push((now, dir.join(format!("{now}.pem"))));
            key
        }
    };
    let mut retiring = Vec::new();
    for pair in found.windows(2) {
        let ((created, path), (successor, _)) = (&pair[0], &pair[1]);
        let until = successor + lifetime;
        if until > now {
            retiring.push((Arc::new(read_key(path, *created)?), until));
        } else {
            let _ = std::fs::remove_file(path);
        }
    }
    Ok(KeySet {
        current: Arc::new(current),
        retiring,
    })
}

/// Makes an `algorithm` key, persists it in `dir` as `<now>.pem`, and loads it.
fn make_key(
    dir: &Path,
    algorithm: AssertionAlgorithm,
    now: i64,
) -> Result<SigningKey, AssertionError> {
    let rng = SystemRandom::new();
    let path = dir.join(format!("{now}.pem"));
    let pkcs8 = match algorithm {
        AssertionAlgorithm::EdDSA => {
            Ed25519KeyPair::generate_pkcs8(&rng).map(|d| d.as_ref().to_vec())
        }
        AssertionAlgorithm::ES256 => {
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                .map(|d| d.as_ref().to_vec())
        }
        AssertionAlgorithm::RS256 => {
            return Err(AssertionError::Key {
                path,
                message: "RS256 keys are not made here: give one in key_file".into(),
            })
        }
    }
    .map_err(|_| AssertionError::Key {
        path: path.clone(),
        message: "could not make a key".into(),
    })?;
    let body = base64::engine::general_purpose::STANDARD.encode(&pkcs8);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap_or_default())
        .collect();
    let pem = format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        lines.join("\n")
    );
    write_private(&path, pem.as_bytes())?;
    SigningKey::from_pkcs8(&pkcs8, now, &path)
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), AssertionError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let io = |source| AssertionError::Io {
        path: path.into(),
        source,
    };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(io)?;
    file.write_all(bytes).map_err(io)
}

/// How often to check whether the key is due for rotation.
pub(crate) fn check_interval(rotate_every: Duration) -> Duration {
    (rotate_every / 10).clamp(Duration::from_secs(1), Duration::from_secs(60))
}

/// Seconds since the Unix epoch now.
pub(crate) fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(dir: &Path, algorithm: AssertionAlgorithm) -> AssertionConfig {
        AssertionConfig {
            header: HeaderName::from_static("x-auth-assertion"),
            algorithm,
            issuer: "gatehouse-test".into(),
            lifetime: Duration::from_secs(300),
            keys: AssertionKeys::Dir {
                path: dir.into(),
                rotate_every: Duration::from_secs(3600),
            },
            serve_jwks_on_proxy: false,
        }
    }

    fn record(user: &str, session: &str) -> crate::session::SessionRecord {
        use crate::session::{Session, User};
        use crate::time::Timestamp;
        let now = Timestamp::from_millis(0);
        crate::session::SessionRecord {
            session: Session {
                id: session.into(),
                token: "t".into(),
                user_id: user.into(),
                expires_at: now,
                created_at: now,
                updated_at: now,
                ip_address: None,
                user_agent: None,
                impersonated_by: None,
                additional: Vec::new(),
                active_member_role: None,
            },
            user: User {
                id: user.into(),
                name: "Ada".into(),
                email: "ada@example.com".into(),
                email_verified: true,
                image: None,
                created_at: now,
                updated_at: now,
                role: Some("admin".into()),
                banned: None,
                ban_reason: None,
                ban_expires: None,
                extra: Vec::new(),
                additional: Vec::new(),
            },
        }
    }

    fn parts(token: &str) -> (serde_json::Value, serde_json::Value) {
        let p: Vec<&str> = token.split('.').collect();
        assert_eq!(p.len(), 3);
        let decode = |s: &str| serde_json::from_slice(&URL_SAFE_NO_PAD.decode(s).unwrap()).unwrap();
        (decode(p[0]), decode(p[1]))
    }

    #[test]
    fn keys_are_made_persisted_reloaded_and_rotated_with_the_old_one_kept_until_its_tokens_expire()
    {
        let dir = tempfile::tempdir().unwrap();
        for algorithm in [AssertionAlgorithm::EdDSA, AssertionAlgorithm::ES256] {
            let dir = dir.path().join(format!("{algorithm:?}"));
            let a = Assertions::new(config(&dir, algorithm), None, 100, 1_000).unwrap();
            let jwks: serde_json::Value = serde_json::from_str(&a.jwks(1_000)).unwrap();
            let kid = jwks["keys"][0]["kid"].as_str().unwrap().to_string();
            // A second start finds the same key.
            let again = Assertions::new(config(&dir, algorithm), None, 100, 1_500).unwrap();
            let jwks2: serde_json::Value = serde_json::from_str(&again.jwks(1_500)).unwrap();
            assert_eq!(jwks2["keys"][0]["kid"], kid.as_str());
            // Past rotate_every: a new key signs, the old one stays for the tokens' lifetime.
            assert!(again.rotate_if_due(1_000 + 3_600).unwrap());
            let rotated: serde_json::Value =
                serde_json::from_str(&again.jwks(1_000 + 3_600)).unwrap();
            assert_eq!(rotated["keys"].as_array().unwrap().len(), 2);
            assert_ne!(rotated["keys"][0]["kid"], kid.as_str());
            assert_eq!(rotated["keys"][1]["kid"], kid.as_str());
            let later: serde_json::Value =
                serde_json::from_str(&again.jwks(1_000 + 3_600 + 300)).unwrap();
            assert_eq!(later["keys"].as_array().unwrap().len(), 1, "{algorithm:?}");
            let mode = std::fs::metadata(dir.join("1000.pem")).unwrap();
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(mode.permissions().mode() & 0o777, 0o600);
        }
    }

    #[test]
    fn a_token_carries_the_identity_and_is_minted_once_per_half_life() {
        let dir = tempfile::tempdir().unwrap();
        let a = Assertions::new(
            config(dir.path(), AssertionAlgorithm::EdDSA),
            None,
            100,
            1_000,
        )
        .unwrap();
        let record = AuthenticatedSession::with_default_headers(record("user-1", "session-1"));
        let aud: Arc<str> = Arc::from("orders");
        let token = a.token(&record, &aud, 1_000);
        let (header, claims) = parts(token.to_str().unwrap());
        assert_eq!(header["alg"], "EdDSA");
        assert_eq!(claims["sub"], "user-1");
        assert_eq!(claims["sid"], "session-1");
        assert_eq!(claims["aud"], "orders");
        assert_eq!(claims["iss"], "gatehouse-test");
        assert_eq!(claims["exp"], 1_300);
        assert_eq!(
            a.token(&record, &aud, 1_010),
            token,
            "cached, not signed again"
        );
        let other: Arc<str> = Arc::from("billing");
        let billing = a.token(&record, &other, 1_010);
        assert_ne!(billing, token, "per audience");
        assert_eq!(
            a.token(&record, &aud, 1_020),
            token,
            "the session keeps only its last token; the other comes from the cache"
        );
        assert_eq!(
            record.signed_assertion(&aud, 1_020),
            Some(token.clone()),
            "kept with the session"
        );
        let refetched =
            AuthenticatedSession::with_default_headers(self::record("user-1", "session-1"));
        assert_eq!(
            a.token(&refetched, &other, 1_030),
            billing,
            "a session read again reuses the token signed for it"
        );
        let renewed = a.token(&record, &aud, 1_150);
        assert_ne!(renewed, token, "signed again after half its lifetime");
        assert_eq!(parts(renewed.to_str().unwrap()).1["iat"], 1_150);
        assert_eq!(record.signed_assertion(&aud, 1_150), Some(renewed));
    }
}
