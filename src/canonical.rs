//! The one canonical form of a request, computed before any decision and forwarded as is, so
//! that Gatehouse and the upstream act on the same path and host.
//!
//! SECURITY: every route policy is a decision about a path and a host. When Gatehouse matches
//! the raw target while the upstream resolves a normalised one (`/%61dmin`, `/x/..;/admin`,
//! `//admin`), a prefix match can be walked around. So the target is rewritten once, here:
//! what has one meaning is put in one spelling, what has several is refused.
//!
//! | in the path | becomes |
//! |---|---|
//! | `%41`-style escapes of unreserved characters (`A-Z a-z 0-9 - . _ ~`) | the character |
//! | other escapes | kept, hex in upper case (`%c3%a9` -> `%C3%A9`) |
//! | empty segments (`//`) | collapsed (`/a//b` -> `/a/b`) |
//! | `.` and `..` segments, in any spelling (`%2e`, `..;`, `..%00`) | 400 |
//! | a segment ending in `.` or a space (`/admin.`, `/admin%20`), which Windows and IIS drop | 400 |
//! | escaped `/`, `\`, `;`, `%` (`%2F`, `%5C`, `%3B`, `%25`: double encoding) | 400 |
//! | a raw `\`, `;` (path parameters: servlet containers strip them before matching), `#`, or any other character outside RFC 3986's `pchar` | 400 |
//! | NUL and control characters, raw or escaped | 400 |
//! | a `%` not followed by two hex digits (`%u002e`), escapes that are not UTF-8 (`%c0%ae`) | 400 |
//! | raw bytes above 0x7F | 400 |
//!
//! The host a request is routed by is the authority Pingora forwards: the absolute-form
//! target's, else the `Host` header's, lower-cased with one trailing dot and the port removed.
//! Two `Host` headers, a malformed authority, or a target authority that differs from `Host`
//! are 400. The forwarded request then carries the canonical target in origin-form and the
//! canonical `Host`.

use std::borrow::Cow;
use std::net::Ipv6Addr;

use http::{header, HeaderMap, HeaderValue};

/// Why a request was refused before any decision; each is a 400 with this code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The path has no single meaning.
    Path,
    /// The host is malformed, doubled, or contradicts the target.
    Host,
    /// Contradictory framing headers (`Content-Length`, `Transfer-Encoding`).
    Framing,
    /// A `Cookie` header that is not plain text, which Gatehouse and an upstream could read
    /// differently.
    Cookie,
}

impl Refusal {
    /// The JSON body of the 400 answer.
    pub fn body(self) -> &'static str {
        match self {
            Refusal::Path => r#"{"error":"bad_path"}"#,
            Refusal::Host => r#"{"error":"bad_host"}"#,
            Refusal::Framing => r#"{"error":"bad_framing"}"#,
            Refusal::Cookie => r#"{"error":"bad_cookie_header"}"#,
        }
    }
}

/// The edits that make a request canonical; `None` fields are already canonical.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rewrite {
    /// A new origin-form target: the canonical path and the query as received.
    pub target: Option<http::Uri>,
    /// A new `Host` value (with its port, if any): the canonical form of the one sent, or the
    /// absolute-form target's authority.
    pub host: Option<HeaderValue>,
    /// One `Content-Length` in its plain spelling, replacing the client's.
    pub content_length: Option<HeaderValue>,
}

impl Rewrite {
    /// What turns a request with target `raw_target` (bytes as received) and `headers` into its
    /// canonical form, or why it has none.
    pub fn of(raw_target: &[u8], headers: &HeaderMap) -> Result<Self, Refusal> {
        let (target_authority, path_and_query) = split_target(raw_target)?;
        let (raw_path, query) = match path_and_query.iter().position(|&b| b == b'?') {
            Some(i) => path_and_query.split_at(i),
            None => (path_and_query, &b""[..]),
        };
        let path = canonical_path(raw_path).ok_or(Refusal::Path)?;
        if !is_plain_query(query) {
            return Err(Refusal::Path);
        }
        let target = match path {
            Cow::Borrowed(_) if target_authority.is_none() => None,
            path => {
                let mut target = path.into_owned().into_bytes();
                target.extend_from_slice(query);
                Some(http::Uri::try_from(target).map_err(|_| Refusal::Path)?)
            }
        };
        let cookies_are_text = headers
            .get_all(header::COOKIE)
            .iter()
            .all(|v| v.to_str().is_ok());
        if !cookies_are_text {
            return Err(Refusal::Cookie);
        }
        Ok(Self {
            target,
            host: canonical_host(target_authority, headers)?,
            content_length: canonical_content_length(headers)?,
        })
    }
}

/// The authority of an absolute-form target (if it is one) and the path-and-query.
fn split_target(raw: &[u8]) -> Result<(Option<&[u8]>, &[u8]), Refusal> {
    if raw.starts_with(b"/") {
        return Ok((None, raw));
    }
    let rest = strip_prefix_ignore_case(raw, b"http://")
        .or_else(|| strip_prefix_ignore_case(raw, b"https://"))
        .ok_or(Refusal::Path)?;
    let end = rest
        .iter()
        .position(|&b| b == b'/' || b == b'?')
        .unwrap_or(rest.len());
    let (authority, path) = rest.split_at(end);
    let path: &[u8] = match path {
        b"" => b"/",
        // `http://host?q`: rare enough to refuse rather than rebuild.
        p if p.starts_with(b"?") => return Err(Refusal::Path),
        p => p,
    };
    Ok((Some(authority), path))
}

fn strip_prefix_ignore_case<'a>(raw: &'a [u8], prefix: &[u8]) -> Option<&'a [u8]> {
    (raw.len() >= prefix.len() && raw[..prefix.len()].eq_ignore_ascii_case(prefix))
        .then(|| &raw[prefix.len()..])
}

/// The canonical spelling of `raw` (a path without its query), or `None` if it has no single
/// meaning. See the module's table.
pub fn canonical_path(raw: &[u8]) -> Option<Cow<'_, str>> {
    if is_plainly_canonical_path(raw) {
        return std::str::from_utf8(raw).ok().map(Cow::Borrowed);
    }
    canonical_path_in_general(raw)
}

/// Whether `raw` is a path the general rules would keep as it is, decided in one pass: path
/// characters only (so no escapes), no empty segment and no segment ending in `.`. Most paths
/// are; `tests::plain_paths_are_what_the_general_rules_keep` holds it to the general rules.
fn is_plainly_canonical_path(raw: &[u8]) -> bool {
    let mut previous = 0;
    for &b in raw {
        let segment_ends_badly = b == b'/' && (previous == b'/' || previous == b'.');
        if !is_raw_path_char(b) || segment_ends_badly {
            return false;
        }
        previous = b;
    }
    raw.first() == Some(&b'/') && previous != b'.'
}

fn canonical_path_in_general(raw: &[u8]) -> Option<Cow<'_, str>> {
    if !raw.starts_with(b"/") {
        return None;
    }
    // The common path has no escapes: it is its own decoded form, and nothing is copied.
    let decoded: Cow<'_, str> = if memchr::memchr(b'%', raw).is_some() {
        Cow::Owned(normalize_escapes(raw)?)
    } else if raw.iter().all(|&b| is_raw_path_char(b)) {
        Cow::Borrowed(std::str::from_utf8(raw).ok()?)
    } else {
        return None;
    };
    // `.`, `..`, `...` and `name.`; `name%20`.
    if decoded
        .split('/')
        .any(|segment| segment.ends_with('.') || segment.ends_with("%20"))
    {
        return None;
    }
    let canonical = if decoded.contains("//") {
        // Empty segments go; a trailing slash stays.
        let mut canonical = String::with_capacity(decoded.len());
        for segment in decoded.split('/').filter(|s| !s.is_empty()) {
            canonical.push('/');
            canonical.push_str(segment);
        }
        if canonical.is_empty() || decoded.ends_with('/') {
            canonical.push('/');
        }
        Cow::Owned(canonical)
    } else {
        decoded
    };
    match canonical {
        Cow::Owned(changed) if changed.as_bytes() != raw => Some(Cow::Owned(changed)),
        // Nothing to change: no new string kept.
        _ => Some(Cow::Borrowed(std::str::from_utf8(raw).ok()?)),
    }
}

/// `raw` with its escapes in one spelling: unreserved characters decoded, the rest as
/// uppercase `%XX`; `None` for an escape that is malformed, hides a separator (`/`, `\`, `;`,
/// `%`) or a control character, or spells invalid UTF-8, and for a byte no path may hold.
fn normalize_escapes(raw: &[u8]) -> Option<String> {
    let mut out = String::with_capacity(raw.len());
    // The path as an upstream decodes it, to check that escapes spell UTF-8.
    let mut decoded_high = false;
    let mut i = 0;
    while i < raw.len() {
        let b = raw[i];
        if b == b'%' {
            let hex = raw.get(i + 1..i + 3)?;
            let value = (hex_value(hex[0])? << 4) | hex_value(hex[1])?;
            match value {
                v if is_unreserved(v) => out.push(v as char),
                b'/' | b'\\' | b';' | b'%' => return None,
                v if v < 0x20 || v == 0x7f => return None,
                v => {
                    decoded_high |= v >= 0x80;
                    out.push('%');
                    out.push(HEX[usize::from(v >> 4)] as char);
                    out.push(HEX[usize::from(v & 0xf)] as char);
                }
            }
            i += 3;
            continue;
        }
        if !is_raw_path_char(b) {
            return None;
        }
        out.push(b as char);
        i += 1;
    }
    if decoded_high && !escapes_spell_utf8(&out) {
        return None;
    }
    Some(out)
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// RFC 3986's `pchar` and `/`, less `;` (path parameters): everything else, from controls and
/// `\\` to `#`, `"` or bytes above 0x7F, has no place unescaped in a path.
fn is_raw_path_char(b: u8) -> bool {
    is_unreserved(b)
        || matches!(
            b,
            b'/' | b'!'
                | b'$'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b'='
                | b':'
                | b'@'
        )
}

/// A query as forwarded: visible ASCII without `#` (which would cut it short at the upstream).
fn is_plain_query(query: &[u8]) -> bool {
    query.iter().all(|&b| b.is_ascii_graphic() && b != b'#')
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// Whether the escapes in `path` (already checked to be `%XX`) decode to UTF-8.
fn escapes_spell_utf8(path: &str) -> bool {
    let bytes: Vec<u8> = percent_encoding::percent_decode_str(path).collect();
    std::str::from_utf8(&bytes).is_ok()
}

/// A new `Host` if the canonical one differs from what was sent: the absolute-form authority
/// if there is one (a `Host` header must then agree), else the one `Host` header, canonical.
fn canonical_host(
    target_authority: Option<&[u8]>,
    headers: &HeaderMap,
) -> Result<Option<HeaderValue>, Refusal> {
    let mut host_headers = headers.get_all(header::HOST).iter();
    let header_value = host_headers.next();
    if host_headers.next().is_some() {
        return Err(Refusal::Host);
    }
    let from_header = header_value
        .map(|v| canonical_authority(v.as_bytes()).ok_or(Refusal::Host))
        .transpose()?;
    let from_target = target_authority
        .map(|a| canonical_authority(a).ok_or(Refusal::Host))
        .transpose()?;
    let host = match (from_target, from_header) {
        (Some(target), Some(header)) if target != header => return Err(Refusal::Host),
        (Some(host), _) => host,
        (None, Some(host)) if header_value.is_some_and(|v| v.as_bytes() == host.as_bytes()) => {
            return Ok(None)
        }
        (None, Some(host)) => host,
        (None, None) => return Ok(None),
    };
    HeaderValue::try_from(host.into_owned())
        .map(Some)
        .map_err(|_| Refusal::Host)
}

/// `host[:port]` lower-cased with one trailing dot removed, or `None` if it is not a valid
/// authority: a DNS name (letters, digits, `-`, `_`, non-empty labels), an IPv4 address or a
/// bracketed IPv6 address, and an optional decimal port. No user info, no escapes.
/// Borrowed when `raw` is already canonical (the usual `Host`), so nothing is allocated.
pub fn canonical_authority(raw: &[u8]) -> Option<Cow<'_, str>> {
    if is_plainly_canonical_authority(raw) {
        return std::str::from_utf8(raw).ok().map(Cow::Borrowed);
    }
    canonical_authority_in_general(raw)
}

/// Whether `raw` is an authority the general rules would keep as it is, decided in one pass: a
/// lowercase name or IPv4 address without empty labels or a trailing dot, and an optional port
/// of one to five digits, below 65536, without a leading zero. The usual `Host` is;
/// `tests::plain_authorities_are_what_the_general_rules_keep` holds it to the general rules.
fn is_plainly_canonical_authority(raw: &[u8]) -> bool {
    let (host, port) = match memchr::memchr(b':', raw) {
        Some(i) => (&raw[..i], Some(&raw[i + 1..])),
        None => (raw, None),
    };
    let mut previous = b'.';
    for &b in host {
        let empty_label = b == b'.' && previous == b'.';
        if empty_label || !(b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.".contains(&b)) {
            return false;
        }
        previous = b;
    }
    let host_ok = previous != b'.';
    let port_ok = port.is_none_or(|p| {
        (1..=5).contains(&p.len())
            && p.iter().all(u8::is_ascii_digit)
            && (p.len() == 1 || p[0] != b'0')
            && (p.len() < 5 || p <= &b"65535"[..])
    });
    host_ok && port_ok
}

fn canonical_authority_in_general(raw: &[u8]) -> Option<Cow<'_, str>> {
    let text = std::str::from_utf8(raw).ok()?;
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let (inside, after) = rest.split_once(']')?;
        inside.parse::<Ipv6Addr>().ok()?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':')?),
        };
        (
            Cow::Owned(format!("[{}]", inside.to_ascii_lowercase())),
            port,
        )
    } else {
        let (host, port) = match text.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (text, None),
        };
        let host = host.strip_suffix('.').unwrap_or(host);
        let labels_ok = !host.is_empty()
            && host.split('.').all(|label| {
                !label.is_empty()
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            });
        if !labels_ok {
            return None;
        }
        let lowercase = !host.bytes().any(|b| b.is_ascii_uppercase());
        (
            if lowercase {
                Cow::Borrowed(host)
            } else {
                Cow::Owned(host.to_ascii_lowercase())
            },
            port,
        )
    };
    match port {
        None => Some(host),
        Some(p) if !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()) => {
            let port: u16 = p.parse().ok()?;
            let unchanged = matches!(host, Cow::Borrowed(h) if h.len() + 1 + p.len() == text.len())
                && (p.len() == 1 || !p.starts_with('0'));
            if unchanged {
                Some(Cow::Borrowed(text))
            } else {
                Some(Cow::Owned(format!("{host}:{port}")))
            }
        }
        Some(_) => None,
    }
}

/// One `Content-Length` in its plain spelling, if the client sent it in another (`05`, two equal
/// headers, `5, 5`); `Err` for different lengths, non-digits, or a `Transfer-Encoding` beside it.
fn canonical_content_length(headers: &HeaderMap) -> Result<Option<HeaderValue>, Refusal> {
    let values: Vec<&HeaderValue> = headers.get_all(header::CONTENT_LENGTH).iter().collect();
    if values.is_empty() {
        return Ok(None);
    }
    if headers.contains_key(header::TRANSFER_ENCODING) {
        return Err(Refusal::Framing);
    }
    let mut length: Option<u64> = None;
    for item in values
        .iter()
        .flat_map(|v| v.as_bytes().split(|&b| b == b','))
    {
        let digits = item.trim_ascii();
        if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
            return Err(Refusal::Framing);
        }
        let n: u64 = std::str::from_utf8(digits)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or(Refusal::Framing)?;
        if length.is_some_and(|l| l != n) {
            return Err(Refusal::Framing);
        }
        length = Some(n);
    }
    let plain = length.map(HeaderValue::from);
    let already_plain = values.len() == 1 && plain.as_ref() == Some(values[0]);
    Ok(if already_plain { None } else { plain })
}

#[cfg(test)]
mod tests;
