//! Cost of the signed session-cookie check that runs on every `required` request, before the
//! cache: finding `better-auth.session_token` in a realistic `Cookie` header, percent-decoding
//! it, and verifying its HMAC-SHA256 signature; with a valid and a tampered signature.
//!
//! Run: `cargo bench --bench cookie -- --warm-up-time 1 --measurement-time 3`.

#![allow(clippy::unwrap_used)]

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use gatehouse::auth::cookie::{find_cookie, SigningKey};

const SECRET: &str = "bench-secret-bench-secret-bench-secret-0123";
const COOKIE_NAME: &str = "better-auth.session_token";
/// 32 characters from `[A-Za-z0-9]`, as Better Auth makes session tokens.
const TOKEN: &str = "kgkgA28pJNWPyf6bl5FNujooXTtdAXT7";

/// A browser-like `Cookie` header with five cookies: analytics, a preference, the session token
/// (third, URI-encoded as Better Auth writes it), Better Auth's session-data cookie and a locale.
fn cookie_header(session_value: &str) -> String {
    const SESSION_DATA: &str = concat!(
        "eyJzZXNzaW9uIjp7ImlkIjoiYWJjIiwidXNlcklkIjoieHl6In0sImV4cGlyZXNBdCI6",
        "MTcwMDAwMDAwMH0.c2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dXJl",
    );
    format!(
        "_ga=GA1.1.1234567890.1700000000; theme=dark; {COOKIE_NAME}={session_value}; \
         better-auth.session_data={SESSION_DATA}; locale=en-US"
    )
}

/// `value` with one base64 character of its signature changed (still well-formed, wrong MAC).
fn tamper_signature(value: &str) -> String {
    let i = value.rfind('.').unwrap() + 5;
    let replacement = if &value[i..=i] == "A" { "B" } else { "A" };
    let mut out = value.to_string();
    out.replace_range(i..=i, replacement);
    out
}

fn benches(c: &mut Criterion) {
    let key = SigningKey::new(SECRET);
    let encoded = key.sign_cookie_value(TOKEN);
    let valid_header = cookie_header(&encoded);
    let tampered_header = cookie_header(&tamper_signature(&encoded));
    let decoded = find_cookie([valid_header.as_str()], COOKIE_NAME)
        .unwrap()
        .into_owned();
    let tampered = tamper_signature(&decoded);

    // Sanity: the cases are what their names say.
    assert_eq!(key.verify_cookie_value(&decoded), Some(TOKEN));
    assert_eq!(key.verify_cookie_value(&tampered), None);
    assert!(
        encoded.contains('%'),
        "the signed value is URI-encoded: {encoded}"
    );

    let mut g = c.benchmark_group("cookie");

    // (a) Locating cookies in the header. The session token contains `%3D`, so this includes
    // its percent-decoding; `theme` is found without decoding.
    g.bench_function("find_cookie/session_token (with percent-decode)", |b| {
        b.iter(|| find_cookie([black_box(valid_header.as_str())], black_box(COOKIE_NAME)))
    });
    g.bench_function("find_cookie/plain value (no decode)", |b| {
        b.iter(|| find_cookie([black_box(valid_header.as_str())], black_box("theme")))
    });
    g.bench_function("find_cookie/absent", |b| {
        b.iter(|| find_cookie([black_box(valid_header.as_str())], black_box("missing")))
    });

    // (b) HMAC-SHA256 verification of an already decoded value.
    g.bench_function("verify_cookie_value/valid", |b| {
        b.iter(|| {
            key.verify_cookie_value(black_box(decoded.as_str()))
                .is_some()
        })
    });
    g.bench_function("verify_cookie_value/tampered signature", |b| {
        b.iter(|| {
            key.verify_cookie_value(black_box(tampered.as_str()))
                .is_some()
        })
    });

    // (c) The whole step as the validator runs it: find + percent-decode + verify.
    let full_step = |header: &str| {
        let raw = find_cookie([header], COOKIE_NAME)?;
        key.verify_cookie_value(&raw).map(str::len)
    };
    g.bench_function("full_step/valid", |b| {
        b.iter(|| full_step(black_box(valid_header.as_str())))
    });
    g.bench_function("full_step/tampered signature", |b| {
        b.iter(|| full_step(black_box(tampered_header.as_str())))
    });
    assert_eq!(full_step(&valid_header), Some(TOKEN.len()));
    assert_eq!(full_step(&tampered_header), None);

    g.finish();
}

criterion_group!(cookie, benches);
criterion_main!(cookie);
