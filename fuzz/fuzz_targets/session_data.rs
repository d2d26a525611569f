//! The cookie cache (`session_data`): `CookieCache::decode` for the three strategies.
//!
//! The first input byte selects the mode (its value mod 4; the seeds use the digits `0`-`3`):
//!
//! - `0`: the rest, as text, is a cookie value handed to the compact, jwt and jwe decoders.
//! - `1`: the rest is the payload `P` (raw JSON text) of a compact value signed here with the
//!   secret: `base64url({"session":P,"expiresAt":E,"signature":S})`, so the fuzzer gets past the
//!   HMAC to the JSON parser, `raw_member` and the payload schema.
//! - `2`: the rest is the claims of an HS256 JWS signed here.
//! - `3`: the rest is the plaintext claims of a `dir` + `A256CBC-HS512` JWE sealed here.
//!
//! The signing for modes 1 and 3 is reproduced below (hmac/sha2/hkdf/aes/cbc/base64): the
//! crate's helpers (`compact::mint`/`signed_message`, `jose::JweKey`) are private. Mode 2 uses the
//! public `SigningKey::mac`. Invariants: nothing panics; a value signed here never fails its
//! signature check when its payload is a JSON object (the signed bytes are found again); an
//! accepted value is not expired at `NOW`.
#![no_main]

use std::sync::OnceLock;
use std::time::Duration;

use aes::Aes256;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockModeEncrypt, KeyIvInit};
use gatehouse::auth::cookie::SigningKey;
use gatehouse::auth::cookie_cache::{CacheRejected, CookieCache, DecodedCache};
use gatehouse::config::{CookieCacheConfig, CookieCacheStrategy};
use gatehouse::time::Timestamp;
use hkdf::Hkdf;
use hmac::{Hmac, KeyInit, Mac};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256, Sha512};

/// The secret and instant of src/auth/cookie_cache/tests.rs, so Better Auth's golden vectors
/// (in the seed corpus) decode successfully.
const SECRET: &str = "gatehouse-golden-secret-0123456789abcdef";
const NOW: Timestamp = Timestamp::from_millis(1_795_395_501_238);
/// base64url(`{"alg":"HS256"}`), the header jose writes for Better Auth.
const JWT_HEADER: &str = "eyJhbGciOiJIUzI1NiJ9";

struct Codecs {
    compact: CookieCache,
    jwt: CookieCache,
    jwe: CookieCache,
    key: SigningKey,
    jwe_key: JweKey,
}

fn codecs() -> &'static Codecs {
    static CODECS: OnceLock<Codecs> = OnceLock::new();
    CODECS.get_or_init(|| {
        let cache = |strategy| {
            CookieCache::new(
                &CookieCacheConfig {
                    strategy,
                    max_age: Duration::from_secs(300),
                    version: "1".to_owned(),
                    max_trust: Duration::from_secs(300),
                },
                SECRET,
            )
        };
        Codecs {
            compact: cache(CookieCacheStrategy::Compact),
            jwt: cache(CookieCacheStrategy::Jwt),
            jwe: cache(CookieCacheStrategy::Jwe),
            key: SigningKey::new(SECRET),
            jwe_key: JweKey::derive(SECRET),
        }
    })
}

/// What every accepted value satisfies.
fn check_accepted(result: &Result<DecodedCache, CacheRejected>) {
    if let Ok(d) = result {
        assert!(d.expires_at >= NOW, "accepted an expired cache: {d:?}");
        assert!(!d.record.is_expired(NOW), "accepted an expired session");
        assert_eq!(d.record.user.email, d.record.user.email.to_lowercase());
    }
}

/// A JSON object per serde_json, written without surrounding whitespace.
fn is_bare_object(text: &str) -> bool {
    text.trim_matches([' ', '\t', '\n', '\r']) == text
        && serde_json::from_str::<Map<String, Value>>(text).is_ok()
}

// ---- compact (reproduces src/auth/cookie_cache/compact.rs, whose helpers are private) --------

/// `JSON.stringify({...P, expiresAt: e})` from P's text, as compact.rs's `signed_message`.
fn signed_message(p: &str, e: i64) -> String {
    let body = p.strip_suffix('}').unwrap_or(p);
    let comma = if body.trim_end() == "{" { "" } else { "," };
    format!("{body}{comma}\"expiresAt\":{e}}}")
}

/// The outer JSON text and the cookie value, as compact.rs's `mint`.
fn mint_compact(p: &str, e: i64, key: &SigningKey) -> (String, String) {
    let signature = URL_SAFE_NO_PAD.encode(key.mac(signed_message(p, e).as_bytes()));
    let outer = format!("{{\"session\":{p},\"expiresAt\":{e},\"signature\":\"{signature}\"}}");
    let value = URL_SAFE_NO_PAD.encode(&outer);
    (outer, value)
}

// ---- jwe (reproduces src/auth/cookie_cache/jose.rs's private JweKey) ----------------------------

struct JweKey {
    mac_key: [u8; 32],
    enc_key: [u8; 32],
    kid: String,
}

impl JweKey {
    fn derive(secret: &str) -> Self {
        let mut okm = [0u8; 64];
        Hkdf::<Sha256>::new(Some(b"better-auth-session"), secret.as_bytes())
            .expand(b"BetterAuth.js Generated Encryption Key", &mut okm)
            .expect("64 bytes of HKDF-SHA256");
        let jwk = format!(
            "{{\"k\":\"{}\",\"kty\":\"oct\"}}",
            URL_SAFE_NO_PAD.encode(okm)
        );
        let kid = URL_SAFE_NO_PAD.encode(Sha256::digest(jwk.as_bytes()));
        let mut mac_key = [0u8; 32];
        let mut enc_key = [0u8; 32];
        mac_key.copy_from_slice(&okm[..32]);
        enc_key.copy_from_slice(&okm[32..]);
        Self {
            mac_key,
            enc_key,
            kid,
        }
    }

    /// `header..iv.ciphertext.tag` for `plaintext`, PKCS#7-padded, with a fixed IV.
    fn seal(&self, plaintext: &[u8]) -> String {
        let header = URL_SAFE_NO_PAD.encode(format!(
            "{{\"alg\":\"dir\",\"enc\":\"A256CBC-HS512\",\"kid\":\"{}\"}}",
            self.kid
        ));
        let iv = [7u8; 16];
        let ct = cbc::Encryptor::<Aes256>::new(&self.enc_key.into(), &iv.into())
            .encrypt_padded_vec::<Pkcs7>(plaintext);
        let mut mac = <Hmac<Sha512> as KeyInit>::new_from_slice(&self.mac_key).expect("any key");
        mac.update(header.as_bytes());
        mac.update(&iv);
        mac.update(&ct);
        mac.update(&(header.len() as u64 * 8).to_be_bytes());
        let tag = mac.finalize().into_bytes();
        format!(
            "{header}..{}.{}.{}",
            URL_SAFE_NO_PAD.encode(iv),
            URL_SAFE_NO_PAD.encode(&ct),
            URL_SAFE_NO_PAD.encode(&tag[..32])
        )
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let c = codecs();
    let text = String::from_utf8_lossy(rest);
    match mode % 4 {
        0 => {
            for codec in [&c.compact, &c.jwt, &c.jwe] {
                check_accepted(&codec.decode(&text, NOW));
            }
        }
        1 => {
            let e = NOW.millis() + 300_000;
            let (outer, value) = mint_compact(&text, e, &c.key);
            let result = c.compact.decode(&value, NOW);
            check_accepted(&result);
            if is_bare_object(&text) {
                assert_ne!(
                    result,
                    Err(CacheRejected::BadSignature),
                    "signed payload not verified"
                );
                // Malformed only if the outer object is too deep for serde_json.
                if result == Err(CacheRejected::Malformed) {
                    assert!(
                        serde_json::from_str::<Map<String, Value>>(&outer).is_err(),
                        "a well-formed compact value read as malformed"
                    );
                }
            }
        }
        2 => {
            let signing_input = format!("{JWT_HEADER}.{}", URL_SAFE_NO_PAD.encode(text.as_bytes()));
            let signature = URL_SAFE_NO_PAD.encode(c.key.mac(signing_input.as_bytes()));
            let result = c.jwt.decode(&format!("{signing_input}.{signature}"), NOW);
            check_accepted(&result);
            assert!(
                !matches!(
                    result,
                    Err(CacheRejected::BadSignature | CacheRejected::UnsupportedAlgorithm)
                ),
                "{result:?}"
            );
        }
        _ => {
            let result = c.jwe.decode(&c.jwe_key.seal(text.as_bytes()), NOW);
            check_accepted(&result);
            assert!(
                !matches!(
                    result,
                    Err(CacheRejected::BadSignature
                        | CacheRejected::UnsupportedAlgorithm
                        | CacheRejected::UnknownKey)
                ),
                "{result:?}"
            );
        }
    }
});
