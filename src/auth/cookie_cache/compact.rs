//! Strategy `compact`: `base64url(JSON{session: P, expiresAt: E, signature})` with
//! `signature = base64url(HMAC-SHA256(secret, JSON.stringify({...P, expiresAt: E})))`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{Map, Value};

use super::payload::raw_member;
use super::CacheRejected;
use crate::auth::cookie::SigningKey;
use crate::time::Timestamp;

/// The cookie value for payload text `p` (a JSON object) expiring at `expires_at`.
pub(super) fn mint(p: &str, expires_at: Timestamp, key: &SigningKey) -> String {
    let e = expires_at.millis();
    let signature = URL_SAFE_NO_PAD.encode(key.mac(signed_message(p, e).as_bytes()));
    let outer = format!("{{\"session\":{p},\"expiresAt\":{e},\"signature\":\"{signature}\"}}");
    URL_SAFE_NO_PAD.encode(outer)
}

/// Checks the signature; returns the payload object and the cache's own expiry.
pub(super) fn verify(
    value: &str,
    key: &SigningKey,
) -> Result<(Map<String, Value>, Timestamp), CacheRejected> {
    // Better Auth's decoder stops at `=`; it never writes padding, so only tolerate it at the end.
    let bytes = URL_SAFE_NO_PAD
        .decode(value.trim_end_matches('='))
        .map_err(|_| CacheRejected::Malformed)?;
    let text = std::str::from_utf8(&bytes).map_err(|_| CacheRejected::Malformed)?;
    let mut outer: Map<String, Value> =
        serde_json::from_str(text).map_err(|_| CacheRejected::Malformed)?;
    let (Some(Value::Object(p)), Some(Value::Number(e)), Some(Value::String(signature))) = (
        outer.remove("session"),
        outer.remove("expiresAt"),
        outer.remove("signature"),
    ) else {
        return Err(CacheRejected::Malformed);
    };
    // Integers only: Better Auth writes `Date.now() + ms`, and a float would re-serialize
    // differently in JavaScript.
    let e = e.as_i64().ok_or(CacheRejected::Malformed)?;
    let raw = raw_member(text, "session").ok_or(CacheRejected::Malformed)?;
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| CacheRejected::BadSignature)?;
    // SECURITY: constant-time comparison (`SigningKey::verify`), over the received bytes of P.
    if !key.verify(signed_message(raw, e).as_bytes(), &signature) {
        return Err(CacheRejected::BadSignature);
    }
    Ok((p, Timestamp::from_millis(e)))
}

/// `JSON.stringify({...P, expiresAt: e})` given P's JSON text: P without its closing brace, then
/// `,"expiresAt":e}` (no comma when P is `{}`).
fn signed_message(p: &str, e: i64) -> String {
    let body = p.strip_suffix('}').unwrap_or(p);
    let comma = if body.trim_end() == "{" { "" } else { "," };
    format!("{body}{comma}\"expiresAt\":{e}}}")
}
