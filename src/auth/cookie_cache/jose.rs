//! Strategies `jwt` (HS256 JWS, raw secret) and `jwe` (`dir` + `A256CBC-HS512`, HKDF key), as
//! Better Auth mints them with jose and checks them with `jwtVerify` / `jwtDecrypt`.

use aes::Aes256;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockModeDecrypt, BlockModeEncrypt, KeyIvInit};
use hkdf::Hkdf;
use hmac::{Hmac, KeyInit, Mac};
use rand::RngCore;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256, Sha512};

use super::payload::{with_claims, ClaimValue};
use super::CacheRejected;
use crate::auth::cookie::SigningKey;
use crate::time::Timestamp;

/// `base64url({"alg":"HS256"})`: jose writes exactly this protected header for Better Auth.
const JWT_HEADER: &str = "eyJhbGciOiJIUzI1NiJ9";
/// Better Auth's HKDF salt and info for the session cache key.
const HKDF_SALT: &[u8] = b"better-auth-session";
const HKDF_INFO: &[u8] = b"BetterAuth.js Generated Encryption Key";
/// `jwtDecrypt`'s `clockTolerance` in Better Auth's `symmetricDecodeJWT`.
const JWE_CLOCK_TOLERANCE_SECS: i64 = 15;
const CBC_IV_LEN: usize = 16;
const CBC_HS512_TAG_LEN: usize = 32;

/// The 64-byte `A256CBC-HS512` key (MAC half, then encryption half) and its RFC 7638 `kid`.
pub(super) struct JweKey {
    mac_key: [u8; 32],
    enc_key: [u8; 32],
    kid: String,
}

impl JweKey {
    /// HKDF-SHA256(secret, salt `better-auth-session`, info `BetterAuth.js Generated Encryption
    /// Key`, 64 bytes), and `kid = base64url(SHA-256({"k":"<base64url(key)>","kty":"oct"}))`.
    pub(super) fn derive(secret: &str) -> Self {
        let mut okm = [0u8; 64];
        Hkdf::<Sha256>::new(Some(HKDF_SALT), secret.as_bytes())
            .expand(HKDF_INFO, &mut okm)
            .unwrap_or_else(|_| unreachable!("64 bytes is within HKDF-SHA256's output limit"));
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

    /// The key's thumbprint, the JWE `kid`.
    pub(super) fn kid(&self) -> &str {
        &self.kid
    }

    /// The `A256CBC-HS512` tag: HMAC-SHA512 over `aad || iv || ct || be64(bits(aad))`, first
    /// 32 bytes (RFC 7518 §5.2.2), as a MAC ready to finalize or verify.
    /// The compact serialization of a `dir` JWE: `header..iv.ciphertext.tag`, with the tag the
    /// first half of HMAC-SHA512 over the header, iv, ciphertext and AAD length.
    fn compact(&self, header: &str, iv: &[u8], ct: &[u8]) -> String {
        let tag = self
            .tag_mac(header.as_bytes(), iv, ct)
            .finalize()
            .into_bytes();
        format!(
            "{header}..{}.{}.{}",
            URL_SAFE_NO_PAD.encode(iv),
            URL_SAFE_NO_PAD.encode(ct),
            URL_SAFE_NO_PAD.encode(&tag[..CBC_HS512_TAG_LEN])
        )
    }

    fn tag_mac(&self, aad: &[u8], iv: &[u8], ct: &[u8]) -> Hmac<Sha512> {
        let mut mac = <Hmac<Sha512> as KeyInit>::new_from_slice(&self.mac_key)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(aad);
        mac.update(iv);
        mac.update(ct);
        let aad_bits = u64::try_from(aad.len())
            .unwrap_or(u64::MAX)
            .saturating_mul(8);
        mac.update(&aad_bits.to_be_bytes());
        mac
    }
}

/// `iat = floor(now / 1000)` as jose's `setIssuedAt()`.
fn iat(now: Timestamp) -> i64 {
    now.millis().div_euclid(1000)
}

fn exp(iat: i64, ttl_secs: u64) -> i64 {
    iat.saturating_add(i64::try_from(ttl_secs).unwrap_or(i64::MAX))
}

/// `new SignJWT(P).setProtectedHeader({alg:"HS256"}).setIssuedAt().setExpirationTime(..)`.
pub(super) fn sign_jwt(p: &str, now: Timestamp, ttl_secs: u64, key: &SigningKey) -> String {
    let iat = iat(now);
    let claims = with_claims(
        p,
        &[
            ("iat", ClaimValue::Int(iat)),
            ("exp", ClaimValue::Int(exp(iat, ttl_secs))),
        ],
    );
    let signing_input = format!("{JWT_HEADER}.{}", URL_SAFE_NO_PAD.encode(claims));
    let signature = URL_SAFE_NO_PAD.encode(key.mac(signing_input.as_bytes()));
    format!("{signing_input}.{signature}")
}

/// jose `jwtVerify(token, secret)` (HS256 only, no clock tolerance); returns the claims and
/// `exp * 1000`.
pub(super) fn verify_jwt(
    token: &str,
    key: &SigningKey,
    now: Timestamp,
) -> Result<(Map<String, Value>, Timestamp), CacheRejected> {
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(CacheRejected::Malformed);
    };
    let header = json_object(h)?;
    if header.get("alg").and_then(Value::as_str) != Some("HS256")
        || header.contains_key("crit")
        || header.get("b64").is_some_and(|b| b != &Value::Bool(true))
    {
        return Err(CacheRejected::UnsupportedAlgorithm);
    }
    let signature = URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|_| CacheRejected::BadSignature)?;
    let signing_input = token
        .get(..h.len() + 1 + p.len())
        .ok_or(CacheRejected::Malformed)?;
    // SECURITY: constant-time comparison (`SigningKey::verify`).
    if !key.verify(signing_input.as_bytes(), &signature) {
        return Err(CacheRejected::BadSignature);
    }
    let claims = json_object(p)?;
    let expires_at = check_times(&claims, now, 0)?;
    Ok((claims, expires_at))
}

/// `new EncryptJWT(P).setProtectedHeader({alg:"dir", enc:"A256CBC-HS512", kid})
/// .setIssuedAt().setExpirationTime(..).setJti(randomUUID()).encrypt(key)`.
pub(super) fn encrypt_jwe(p: &str, now: Timestamp, ttl_secs: u64, key: &JweKey) -> String {
    let header = URL_SAFE_NO_PAD.encode(format!(
        "{{\"alg\":\"dir\",\"enc\":\"A256CBC-HS512\",\"kid\":\"{}\"}}",
        key.kid()
    ));
    let mut rng = rand::thread_rng();
    let mut iv = [0u8; CBC_IV_LEN];
    rng.fill_bytes(&mut iv);
    let mut uuid = [0u8; 16];
    rng.fill_bytes(&mut uuid);
    let jti = uuid_v4(uuid);
    let iat = iat(now);
    let claims = with_claims(
        p,
        &[
            ("iat", ClaimValue::Int(iat)),
            ("exp", ClaimValue::Int(exp(iat, ttl_secs))),
            ("jti", ClaimValue::Str(&jti)),
        ],
    );
    let ct = cbc::Encryptor::<Aes256>::new(&key.enc_key.into(), &iv.into())
        .encrypt_padded_vec::<Pkcs7>(claims.as_bytes());
    key.compact(&header, &iv, &ct)
}

/// Better Auth's `symmetricDecodeJWT`: jose `jwtDecrypt` with `alg: dir` and a 64-byte key,
/// 15 s clock tolerance; returns the claims and `exp * 1000`. `keys` are the current secret's
/// first, then the older ones (`secrets` rotation): a token with a `kid` is decrypted only with
/// the key of that thumbprint, one without with the first key whose tag verifies.
///
/// Better Auth also lists `A256GCM`, but jose refuses a 64-byte key for it, so such a token can
/// never decrypt there; it is rejected here too.
pub(super) fn decrypt_jwe(
    token: &str,
    keys: &[JweKey],
    now: Timestamp,
) -> Result<(Map<String, Value>, Timestamp), CacheRejected> {
    let parts: Vec<&str> = token.splitn(6, '.').collect();
    let &[h, encrypted_key, iv, ct, tag] = parts.as_slice() else {
        return Err(CacheRejected::Malformed);
    };
    let header = json_object(h)?;
    if header.get("alg").and_then(Value::as_str) != Some("dir")
        || header.get("enc").and_then(Value::as_str) != Some("A256CBC-HS512")
        || header.contains_key("zip")
        || header.contains_key("crit")
    {
        return Err(CacheRejected::UnsupportedAlgorithm);
    }
    let candidates: Vec<&JweKey> = match header.get("kid") {
        Some(kid) => {
            let key = keys
                .iter()
                .find(|k| kid.as_str() == Some(k.kid()))
                .ok_or(CacheRejected::UnknownKey)?;
            vec![key]
        }
        None => keys.iter().collect(),
    };
    if !encrypted_key.is_empty() {
        return Err(CacheRejected::Malformed);
    }
    let decode = |part: &str| {
        URL_SAFE_NO_PAD
            .decode(part)
            .map_err(|_| CacheRejected::Malformed)
    };
    let (iv, ct, tag) = (decode(iv)?, decode(ct)?, decode(tag)?);
    if iv.len() != CBC_IV_LEN
        || ct.is_empty()
        || ct.len() % 16 != 0
        || tag.len() != CBC_HS512_TAG_LEN
    {
        return Err(CacheRejected::Malformed);
    }
    // SECURITY: the tag is checked (constant time) before anything is decrypted.
    let key = candidates
        .into_iter()
        .find(|key| {
            key.tag_mac(h.as_bytes(), &iv, &ct)
                .verify_truncated_left(&tag)
                .is_ok()
        })
        .ok_or(CacheRejected::BadSignature)?;
    let plaintext = cbc::Decryptor::<Aes256>::new_from_slices(&key.enc_key, &iv)
        .map_err(|_| CacheRejected::Malformed)?
        .decrypt_padded_vec::<Pkcs7>(&ct)
        .map_err(|_| CacheRejected::BadSignature)?;
    let claims: Map<String, Value> =
        serde_json::from_slice(&plaintext).map_err(|_| CacheRejected::Malformed)?;
    let expires_at = check_times(&claims, now, JWE_CLOCK_TOLERANCE_SECS)?;
    Ok((claims, expires_at))
}

/// jose's claim-time checks (`iat`/`nbf`/`exp` numbers, `nbf <= now + tol`, `exp > now - tol`,
/// with `now` in whole seconds). `exp` is required here (Better Auth always sets it); returns
/// `exp * 1000`.
fn check_times(
    claims: &Map<String, Value>,
    now: Timestamp,
    tolerance_secs: i64,
) -> Result<Timestamp, CacheRejected> {
    let now_s = iat(now);
    let number = |name: &str| match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => Ok(n.as_f64()),
        Some(_) => Err(CacheRejected::Malformed),
    };
    number("iat")?;
    if let Some(nbf) = number("nbf")? {
        if nbf > (now_s + tolerance_secs) as f64 {
            return Err(CacheRejected::NotYetValid);
        }
    }
    let exp = claims
        .get("exp")
        .and_then(Value::as_i64)
        .ok_or(CacheRejected::Malformed)?;
    if exp <= now_s - tolerance_secs {
        return Err(CacheRejected::Expired);
    }
    let ms = exp.checked_mul(1000).ok_or(CacheRejected::Malformed)?;
    Ok(Timestamp::from_millis(ms))
}

/// A JSON object from a base64url segment.
fn json_object(segment: &str) -> Result<Map<String, Value>, CacheRejected> {
    let bytes = URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|_| CacheRejected::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| CacheRejected::Malformed)
}

/// `crypto.randomUUID()` form: version 4, RFC 4122 variant, lowercase hex.
fn uuid_v4(mut b: [u8; 16]) -> String {
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let mut out = String::with_capacity(36);
    for (i, byte) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out.push('-');
        }
        out.push_str(&format!("{byte:02x}"));
    }
    out
}

#[cfg(test)]
impl JweKey {
    /// A compact JWE of `plaintext` under any protected header, sealed with this key. Without
    /// `pad`, `plaintext` must be block-aligned and is encrypted as is (to test bad padding).
    pub(super) fn seal(&self, header_json: &str, plaintext: &[u8], pad: bool) -> String {
        use cbc::cipher::block_padding::NoPadding;
        let header = URL_SAFE_NO_PAD.encode(header_json);
        let iv = [7u8; CBC_IV_LEN];
        let enc = cbc::Encryptor::<Aes256>::new(&self.enc_key.into(), &iv.into());
        let ct = if pad {
            enc.encrypt_padded_vec::<Pkcs7>(plaintext)
        } else {
            enc.encrypt_padded_vec::<NoPadding>(plaintext)
        };
        self.compact(&header, &iv, &ct)
    }
}
