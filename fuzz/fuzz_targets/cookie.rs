//! The signed session cookie: `Cookie` header parsing (`find_cookie`, `cookie_pairs`) and the
//! HMAC check (`SigningKey::verify_cookie_value`).
//!
//! Input: text, one `Cookie` header value per line. Invariants: nothing panics; a value signed
//! with `sign_cookie_value(t)` (t = the whole input, and every found cookie value) verifies back
//! to `t` through `find_cookie`, encoded or raw.
#![no_main]

use gatehouse::auth::cookie::{cookie_pairs, find_cookie, SigningKey};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

const SECRET: &str = "gatehouse-fuzz-secret-0123456789abcdef";
const NAME: &str = "better-auth.session_token";

fn key() -> &'static SigningKey {
    static KEY: OnceLock<SigningKey> = OnceLock::new();
    KEY.get_or_init(|| SigningKey::new(SECRET))
}

/// `sign_cookie_value(token)` read back as a request would carry it must give `token`.
fn round_trip(token: &str) {
    let key = key();
    let signed = key.sign_cookie_value(token);
    let header = format!("a=1; {NAME}={signed}; b=2");
    let found = find_cookie([header.as_str()], NAME).expect("signed cookie not found");
    let verified = key.verify_cookie_value(&found);
    if token.is_empty() {
        // `.signature` has no token: refused by design.
        assert_eq!(verified, None);
    } else {
        assert_eq!(verified, Some(token), "signed {signed:?} read as {found:?}");
    }
    // Better Auth also accepts the unencoded `token.signature`, when `token` has no `;`, no
    // surrounding blanks, no `%` and no quotes (which the header syntax would change).
    let raw = &*found;
    if !token.is_empty() && !token.contains([';', '%', '"', '\n']) && token.trim() == token {
        let header = format!("{NAME}={raw}");
        let again = find_cookie([header.as_str()], NAME).expect("raw cookie not found");
        assert_eq!(key.verify_cookie_value(&again), Some(token));
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let key = key();

    // The whole input as a decoded cookie value.
    if let Some(token) = key.verify_cookie_value(&text) {
        assert!(text.starts_with(token));
    }

    let headers: Vec<&str> = text.split('\n').collect();
    for header in &headers {
        for (name, value) in cookie_pairs(header) {
            assert_eq!(name, name.trim());
            assert_eq!(value, value.trim());
            assert!(!name.contains([';', '=']), "{name:?}");
            assert!(!value.contains(';'), "{value:?}");
        }
    }

    // The cookie under its usual name, and under the first name the input carries.
    let first_name = headers
        .first()
        .and_then(|h| cookie_pairs(h).next())
        .map(|(n, _)| n.to_owned());
    for name in std::iter::once(NAME).chain(first_name.as_deref()) {
        let found = find_cookie(headers.iter().copied(), name);
        // The first occurrence wins: the value `cookie_pairs` lists first for `name`, as is
        // when it is neither quoted nor escaped.
        let first = headers
            .iter()
            .flat_map(|h| cookie_pairs(h))
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v);
        assert_eq!(found.is_some(), first.is_some());
        if let (Some(found), Some(first)) = (&found, first) {
            if !first.contains(['%', '"']) {
                assert_eq!(found, first);
            }
        }
        if let Some(value) = found {
            let _ = key.verify_cookie_value(&value);
            round_trip(&value);
        }
    }

    round_trip(&text);
});
