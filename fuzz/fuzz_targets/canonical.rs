//! The canonical request: `canonical_path`, `canonical_authority` and `Rewrite::of`.
//!
//! Input: the whole input is tried as a path and as an authority; then it is read as a request
//! head: the first line is the raw target, each further line a `Name: value` header (lines that
//! are not a valid header are skipped).
//!
//! Invariants: nothing panics; an accepted path is canonical again unchanged (`Borrowed`), means
//! the same segments as the raw path, and has no dot segment in any spelling (see `check_path`);
//! an accepted authority is lower-case without a trailing dot and canonical again unchanged; a
//! `Rewrite` only produces such paths and hosts, and leaves the query as received.
#![no_main]

use std::borrow::Cow;

use gatehouse::canonical::{canonical_authority, canonical_path, Rewrite};
use http::{HeaderMap, HeaderName, HeaderValue};
use libfuzzer_sys::fuzz_target;

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// `raw` with every `%XX` decoded (a `%` without two hex digits kept).
fn percent_decode(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'%' && i + 2 < raw.len() {
            if let (Some(h), Some(l)) = (hex(raw[i + 1]), hex(raw[i + 2])) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(raw[i]);
        i += 1;
    }
    out
}

/// The non-empty segments of a decoded path.
fn segments(decoded: &[u8]) -> Vec<&[u8]> {
    decoded
        .split(|&b| b == b'/')
        .filter(|s| !s.is_empty())
        .collect()
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// Everything an accepted path satisfies; `raw` is what it was computed from.
fn check_path(raw: &[u8], out: &str) {
    let b = out.as_bytes();
    assert!(out.starts_with('/'), "{out:?}");
    assert!(!out.contains("//"), "{out:?}");
    assert!(
        b.iter()
            .all(|&c| c.is_ascii_graphic() && !matches!(c, b';' | b'\\' | b'?' | b'#')),
        "{out:?}"
    );
    // Escapes: two upper-case hex digits, never of an unreserved character (`%2E`, `%41`).
    let mut i = 0;
    while let Some(p) = b[i..].iter().position(|&c| c == b'%') {
        let at = i + p;
        let digits = b.get(at + 1..at + 3).expect("truncated escape");
        assert!(
            digits
                .iter()
                .all(|d| d.is_ascii_digit() || (b'A'..=b'F').contains(d)),
            "{out:?}"
        );
        let v = hex(digits[0]).unwrap() << 4 | hex(digits[1]).unwrap();
        assert!(!is_unreserved(v), "escaped unreserved byte in {out:?}");
        i = at + 3;
    }
    let decoded = percent_decode(b);
    assert!(std::str::from_utf8(&decoded).is_ok(), "{out:?}");
    assert_eq!(
        decoded.iter().filter(|&&c| c == b'/').count(),
        b.iter().filter(|&&c| c == b'/').count(),
        "an escaped slash in {out:?}"
    );
    assert!(
        !decoded
            .iter()
            .any(|&c| c < 0x20 || c == 0x7f || matches!(c, b';' | b'\\' | b'%')),
        "{out:?}"
    );
    for seg in segments(&decoded) {
        assert!(
            !seg.ends_with(b"."),
            "dot segment or trailing dot in {out:?}"
        );
        assert!(!seg.ends_with(b" "), "trailing space in {out:?}");
    }
    // Canonical again, unchanged and without a copy.
    match canonical_path(b) {
        Some(Cow::Borrowed(again)) => assert_eq!(again, out),
        other => panic!("{out:?} canonicalises again to {other:?}"),
    }
    // The same meaning: the raw path decodes to the same segments.
    assert_eq!(
        segments(&percent_decode(raw)),
        segments(&decoded),
        "{raw:?} -> {out:?}"
    );
}

fn check_authority(out: &str) {
    assert_eq!(out, out.to_ascii_lowercase());
    let host = if out.starts_with('[') {
        &out[..=out.find(']').expect("bracketed")]
    } else {
        out.split(':').next().unwrap_or(out)
    };
    assert!(!host.is_empty() && !host.ends_with('.'), "{out:?}");
    assert_eq!(canonical_authority(out.as_bytes()).as_deref(), Some(out));
}

fuzz_target!(|data: &[u8]| {
    if let Some(out) = canonical_path(data) {
        check_path(data, &out);
        if let Cow::Borrowed(s) = out {
            assert_eq!(s.as_bytes(), data);
        }
    }
    if let Some(out) = canonical_authority(data) {
        check_authority(&out);
    }

    let mut lines = data.split(|&b| b == b'\n');
    let target = lines.next().unwrap_or_default();
    let mut headers = HeaderMap::new();
    for line in lines {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let (name, value) = (&line[..colon], line[colon + 1..].trim_ascii());
        if let (Ok(name), Ok(value)) =
            (HeaderName::from_bytes(name), HeaderValue::from_bytes(value))
        {
            headers.append(name, value);
        }
    }
    let Ok(rewrite) = Rewrite::of(target, &headers) else {
        return;
    };
    let (raw_path, raw_query) = {
        let start = if target.starts_with(b"/") {
            0
        } else {
            // `scheme://authority` then the path.
            let after = target
                .windows(3)
                .position(|w| w == b"://")
                .expect("absolute form")
                + 3;
            after
                + target[after..]
                    .iter()
                    .position(|&b| b == b'/')
                    .unwrap_or(target.len() - after)
        };
        let pq = &target[start..];
        match pq.iter().position(|&b| b == b'?') {
            Some(q) => (&pq[..q], &pq[q..]),
            None => (pq, &b""[..]),
        }
    };
    match &rewrite.target {
        Some(uri) => {
            assert!(uri.scheme().is_none() && uri.authority().is_none(), "{uri}");
            let raw = if raw_path.is_empty() {
                &b"/"[..]
            } else {
                raw_path
            };
            check_path(raw, uri.path());
            let query = uri.query().map(|q| format!("?{q}")).unwrap_or_default();
            assert_eq!(query.as_bytes(), raw_query, "query changed");
        }
        None => {
            assert!(target.starts_with(b"/"));
            assert!(matches!(canonical_path(raw_path), Some(Cow::Borrowed(_))));
        }
    }
    if let Some(host) = &rewrite.host {
        check_authority(host.to_str().expect("ASCII host"));
    } else if let Some(sent) = headers.get(http::header::HOST) {
        assert!(target.starts_with(b"/"));
        let sent = sent.to_str().expect("an accepted Host is ASCII");
        check_authority(sent);
    }
    if let Some(len) = &rewrite.content_length {
        assert!(len.as_bytes().iter().all(u8::is_ascii_digit));
    }
});
