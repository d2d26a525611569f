//! Chunked cookies (`name.0`, `name.1`, ...), as Better Auth's session store reads and writes them
//! (`cookies/session-store.ts`: 4050-byte ceiling per serialized cookie, at most 100 chunks).

use std::collections::BTreeMap;

use percent_encoding::utf8_percent_encode;

use crate::auth::cookie::{expire_cookie, find_cookie, set_cookie, URI_COMPONENT};
use crate::config::CookieAttributes;

/// Better Auth's per-cookie byte ceiling (`MAX_COOKIE_SIZE`).
const MAX_COOKIE_SIZE: usize = 4050;
/// Better Auth's chunk limit (`MAX_COOKIE_CHUNKS`); a larger value is not stored at all.
const MAX_COOKIE_CHUNKS: usize = 100;
/// `Number.MAX_SAFE_INTEGER`: larger chunk indexes are not canonical to Better Auth.
const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// The value of cookie `name`, or of its chunks `name.0`, `name.1`, ... when `name` itself is
/// absent or empty: chunks with a canonical non-negative integer index, sorted by index and
/// concatenated (Better Auth's `getChunkedCookie`). Values are read as
/// [`find_cookie`](crate::auth::cookie::find_cookie) reads them: first occurrence of a name wins,
/// surrounding quotes are removed, `%` escapes are decoded. `None` when nothing (non-empty) is
/// there.
pub fn read_chunked(cookie_header_values: &[&str], name: &str) -> Option<String> {
    if let Some(whole) = find_cookie(cookie_header_values.iter().copied(), name) {
        if !whole.is_empty() {
            return Some(whole.into_owned());
        }
    }
    let mut chunks: BTreeMap<u64, String> = BTreeMap::new();
    for header in cookie_header_values {
        for pair in header.split(';') {
            let Some((n, _)) = pair.split_once('=') else {
                continue;
            };
            let Some(index) = chunk_index(name, n.trim()) else {
                continue;
            };
            if chunks.contains_key(&index) {
                continue;
            }
            // Decode exactly as `find_cookie` does, on this one pair.
            if let Some(value) = find_cookie([pair], n.trim()) {
                chunks.insert(index, value.into_owned());
            }
        }
    }
    let joined: String = chunks.into_values().collect();
    (!joined.is_empty()).then_some(joined)
}

/// The names among `name` and its canonical chunks `name.<n>` that the request carries, first
/// occurrence order, without duplicates: the `stale_chunks` to pass to [`set_cookie_headers`].
pub fn chunk_names(cookie_header_values: &[&str], name: &str) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for header in cookie_header_values {
        for pair in header.split(';') {
            let Some((n, _)) = pair.split_once('=') else {
                continue;
            };
            let n = n.trim();
            let wanted = n == name || chunk_index(name, n).is_some();
            if wanted && !names.iter().any(|seen| seen == n) {
                names.push(n.to_owned());
            }
        }
    }
    names
}

/// The chunk index of `cookie` as a chunk of `name`: `name.<n>` with `n` written canonically
/// (`String(Number(n)) === n`, a safe non-negative integer).
fn chunk_index(name: &str, cookie: &str) -> Option<u64> {
    let suffix = cookie.strip_prefix(name)?.strip_prefix('.')?;
    let canonical = !suffix.is_empty()
        && suffix.bytes().all(|b| b.is_ascii_digit())
        && (suffix == "0" || !suffix.starts_with('0'));
    if !canonical {
        return None;
    }
    suffix
        .parse::<u64>()
        .ok()
        .filter(|&n| n <= MAX_SAFE_INTEGER)
}

/// The `Set-Cookie` header values that store `name=value` as Better Auth does, with the cookie's
/// `attributes` (and `Max-Age` when given), the value percent-encoded as `encodeURIComponent`
/// would.
///
/// When the value is longer than what fits in 4050 bytes next to the worst-case name `name.99`
/// and the attributes, it is split into `name.0`, `name.1`, ...; when that would take more than
/// 100 chunks, the value is not stored at all. Every name in `stale_chunks` (the `name` and
/// `name.<n>` cookies the request carried, see [`chunk_names`]) that is not set again gets a
/// `name=; Max-Age=0; ...` deletion. The order is Better Auth's: the request's names first (each
/// deleted or re-set), then the new names.
pub fn set_cookie_headers(
    name: &str,
    value: &str,
    max_age: Option<u64>,
    attributes: &CookieAttributes,
    stale_chunks: &[String],
) -> Vec<String> {
    // The attributes as `set_cookie` writes them: everything after `name=value`.
    let attrs_len = set_cookie("", "", max_age, attributes).len() - "=".len();
    // `getMaxCookieValueSize(name + ".99", options)`: 4050 minus `name.99=` and the attributes.
    let chunk_size = MAX_COOKIE_SIZE.saturating_sub(name.len() + ".99=".len() + attrs_len);

    let mut new: Vec<(String, &str)> = Vec::new();
    if chunk_size > 0 && value.len() <= chunk_size {
        new.push((name.to_owned(), value));
    } else if chunk_size > 0 {
        let pieces = split_at_most(value, chunk_size);
        if pieces.len() <= MAX_COOKIE_CHUNKS {
            new.extend(
                pieces
                    .into_iter()
                    .enumerate()
                    .map(|(i, piece)| (format!("{name}.{i}"), piece)),
            );
        }
    }

    let set = |n: &str, v: &str| {
        set_cookie(
            n,
            &utf8_percent_encode(v, URI_COMPONENT).to_string(),
            max_age,
            attributes,
        )
    };
    let mut out = Vec::with_capacity(new.len() + stale_chunks.len());
    let mut emitted: Vec<&str> = Vec::new();
    for stale in stale_chunks {
        if emitted.contains(&stale.as_str()) {
            continue;
        }
        emitted.push(stale.as_str());
        match new.iter().find(|(n, _)| n == stale) {
            Some((n, v)) => out.push(set(n, v)),
            None => out.push(expire_cookie(stale, attributes)),
        }
    }
    for (n, v) in &new {
        if !emitted.contains(&n.as_str()) {
            out.push(set(n, v));
        }
    }
    out
}

/// `value` cut into consecutive pieces of at most `size` bytes, on character boundaries
/// (Better Auth cuts by UTF-16 units; cache values are ASCII, where the two agree).
fn split_at_most(value: &str, size: usize) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut rest = value;
    while !rest.is_empty() {
        let mut end = size.min(rest.len());
        while !rest.is_char_boundary(end) {
            end -= 1;
        }
        if end == 0 {
            // A character longer than `size` bytes: take it whole rather than loop forever.
            end = rest.chars().next().map_or(rest.len(), char::len_utf8);
        }
        let (piece, tail) = rest.split_at(end);
        pieces.push(piece);
        rest = tail;
    }
    pieces
}
