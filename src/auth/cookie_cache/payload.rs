//! The cache payload `P = {session, user, updatedAt, version}`: writing it as JavaScript's
//! `JSON.stringify` would, reading it as Better Auth's zod schema does, and finding the exact
//! source text of a top-level JSON member (for the compact signature).

use serde_json::{Map, Value};

use super::CacheRejected;
use crate::config::{AdditionalField, AdditionalFields};
use crate::session::{Session, SessionRecord, User};
use crate::time::Timestamp;

/// A verified payload, mapped to Gatehouse's types.
pub(super) struct Payload {
    pub record: SessionRecord,
    pub minted_at: Timestamp,
    /// `P.version || "1"`.
    pub version: String,
}

// ---- writing -----------------------------------------------------------------------------------

/// `JSON.stringify(P)` for `record` minted at `now`, with Better Auth's key order (additional
/// fields after the core and plugin ones, `returned = false` ones left out).
pub(super) fn write(
    record: &SessionRecord,
    now: Timestamp,
    version: &str,
    fields: &AdditionalFields,
) -> String {
    let (s, u) = (&record.session, &record.user);
    let mut out = String::with_capacity(768);
    out.push_str("{\"session\":{");
    member_date(&mut out, "expiresAt", s.expires_at, true);
    member_str(&mut out, "token", Some(&s.token));
    member_date(&mut out, "createdAt", s.created_at, false);
    member_date(&mut out, "updatedAt", s.updated_at, false);
    member_str(&mut out, "ipAddress", s.ip_address.as_deref());
    member_str(&mut out, "userAgent", s.user_agent.as_deref());
    member_str(&mut out, "userId", Some(&s.user_id));
    member_str(&mut out, "impersonatedBy", s.impersonated_by.as_deref());
    members_additional(&mut out, &fields.session, &s.additional);
    member_str(&mut out, "id", Some(&s.id));
    out.push_str("},\"user\":{");
    key(&mut out, "name", true);
    json_string(&mut out, &u.name);
    member_str(&mut out, "email", Some(&u.email));
    member_raw(
        &mut out,
        "emailVerified",
        if u.email_verified { "true" } else { "false" },
    );
    member_str(&mut out, "image", u.image.as_deref());
    member_date(&mut out, "createdAt", u.created_at, false);
    member_date(&mut out, "updatedAt", u.updated_at, false);
    member_str(&mut out, "role", u.role.as_deref());
    let banned = match u.banned {
        Some(true) => "true",
        Some(false) => "false",
        None => "null",
    };
    member_raw(&mut out, "banned", banned);
    member_str(&mut out, "banReason", u.ban_reason.as_deref());
    match u.ban_expires {
        Some(t) => member_date(&mut out, "banExpires", t, false),
        None => member_raw(&mut out, "banExpires", "null"),
    }
    members_additional(&mut out, &fields.user, &u.additional);
    member_str(&mut out, "id", Some(&u.id));
    out.push_str("},\"updatedAt\":");
    out.push_str(&now.millis().to_string());
    out.push_str(",\"version\":");
    json_string(&mut out, version);
    out.push('}');
    out
}

fn key(out: &mut String, name: &str, first: bool) {
    if !first {
        out.push(',');
    }
    out.push('"');
    out.push_str(name);
    out.push_str("\":");
}

/// The returned additional fields, each `"name":<JSON value>`.
fn members_additional(out: &mut String, fields: &[AdditionalField], values: &[Value]) {
    for (field, value) in fields.iter().zip(values) {
        if field.returned {
            key(out, &field.name, false);
            out.push_str(&value.to_string());
        }
    }
}

fn member_raw(out: &mut String, name: &str, raw: &str) {
    key(out, name, false);
    out.push_str(raw);
}

fn member_str(out: &mut String, name: &str, value: Option<&str>) {
    key(out, name, false);
    match value {
        Some(v) => json_string(out, v),
        None => out.push_str("null"),
    }
}

fn member_date(out: &mut String, name: &str, t: Timestamp, first: bool) {
    key(out, name, first);
    out.push('"');
    out.push_str(&t.to_iso());
    out.push('"');
}

/// A JSON string exactly as `JSON.stringify` writes it: `"` `\` and the C0 controls escaped
/// (`\b \f \n \r \t`, others as lowercase `\u00xx`), everything else raw.
pub(super) fn json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                let b = c as usize;
                out.push_str("\\u00");
                out.push(char::from(HEX[b >> 4]));
                out.push(char::from(HEX[b & 0xf]));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// `P` with extra top-level numeric/string claims appended, as jose adds `iat`, `exp`, `jti`.
/// `payload` is an object written by [`write`], so it is never empty.
pub(super) fn with_claims(payload: &str, claims: &[(&str, ClaimValue<'_>)]) -> String {
    let mut out = String::with_capacity(payload.len() + 80);
    out.push_str(payload.strip_suffix('}').unwrap_or(payload));
    for (name, value) in claims {
        key(&mut out, name, false);
        match value {
            ClaimValue::Int(n) => out.push_str(&n.to_string()),
            ClaimValue::Str(s) => json_string(&mut out, s),
        }
    }
    out.push('}');
    out
}

/// A claim value for [`with_claims`].
pub(super) enum ClaimValue<'a> {
    Int(i64),
    Str(&'a str),
}

// ---- reading -----------------------------------------------------------------------------------

/// Maps a verified payload object to a record, applying Better Auth's schema
/// (`cookieCachePayloadSchema` after `safeJSONParse`'s date revival). Extra keys are ignored;
/// `createdAt`/`updatedAt` default to `now` when absent, as zod's `.default(() => new Date())`.
/// Additional fields are taken by name as they are (`null` when absent, as `returned = false`
/// ones always are).
pub(super) fn parse(
    p: &Map<String, Value>,
    now: Timestamp,
    fields: &AdditionalFields,
) -> Result<Payload, CacheRejected> {
    let bad = || CacheRejected::InvalidPayload;
    let s = p
        .get("session")
        .and_then(Value::as_object)
        .ok_or_else(bad)?;
    let u = p.get("user").and_then(Value::as_object).ok_or_else(bad)?;
    let minted_at = match p.get("updatedAt") {
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| {
                n.as_f64()
                    .filter(|f| f.is_finite())
                    .map(|f| f.floor() as i64)
            })
            .ok_or_else(bad)?,
        _ => return Err(bad()),
    };
    let version = match p.get("version") {
        None => "1".to_owned(),
        Some(Value::String(v)) if v.is_empty() => "1".to_owned(),
        Some(Value::String(v)) => v.clone(),
        Some(_) => return Err(bad()),
    };
    let session = Session {
        id: required_string(s, "id")?,
        token: required_string(s, "token")?,
        user_id: required_string(s, "userId")?,
        expires_at: date(s.get("expiresAt")).ok_or_else(bad)?,
        created_at: date_or_now(s, "createdAt", now)?,
        updated_at: date_or_now(s, "updatedAt", now)?,
        ip_address: nullish_string(s, "ipAddress")?,
        user_agent: nullish_string(s, "userAgent")?,
        impersonated_by: loose_string(s, "impersonatedBy"),
        additional: additional_values(s, &fields.session),
        active_member_role: None,
    };
    let user = User {
        id: required_string(u, "id")?,
        name: required_string(u, "name")?,
        // zod: `z.string().transform((val) => val.toLowerCase())`.
        email: required_string(u, "email")?.to_lowercase(),
        email_verified: match u.get("emailVerified") {
            None => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(bad()),
        },
        image: nullish_string(u, "image")?,
        created_at: date_or_now(u, "createdAt", now)?,
        updated_at: date_or_now(u, "updatedAt", now)?,
        role: loose_string(u, "role"),
        banned: u.get("banned").and_then(Value::as_bool),
        ban_reason: loose_string(u, "banReason"),
        ban_expires: date(u.get("banExpires")),
        extra: Vec::new(),
        additional: additional_values(u, &fields.user),
    };
    Ok(Payload {
        record: SessionRecord { session, user },
        minted_at: Timestamp::from_millis(minted_at),
        version,
    })
}

/// The values of `fields` in `obj`, by name.
fn additional_values(obj: &Map<String, Value>, fields: &[AdditionalField]) -> Vec<Value> {
    fields
        .iter()
        .map(|f| {
            f.returned
                .then(|| obj.get(&f.name).cloned())
                .flatten()
                .unwrap_or(Value::Null)
        })
        .collect()
}

/// A `z.string()` field. A string that Better Auth's JSON reviver turns into a `Date` fails it.
fn required_string(obj: &Map<String, Value>, name: &str) -> Result<String, CacheRejected> {
    match obj.get(name) {
        Some(Value::String(v)) if !is_revived_date(v) => Ok(v.clone()),
        _ => Err(CacheRejected::InvalidPayload),
    }
}

/// A `z.string().nullish()` field.
fn nullish_string(obj: &Map<String, Value>, name: &str) -> Result<Option<String>, CacheRejected> {
    match obj.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(v)) if !is_revived_date(v) => Ok(Some(v.clone())),
        Some(_) => Err(CacheRejected::InvalidPayload),
    }
}

/// A plugin field the schema does not check: a string, or nothing.
fn loose_string(obj: &Map<String, Value>, name: &str) -> Option<String> {
    obj.get(name).and_then(Value::as_str).map(str::to_owned)
}

/// A `z.date().default(now)` field.
fn date_or_now(
    obj: &Map<String, Value>,
    name: &str,
    now: Timestamp,
) -> Result<Timestamp, CacheRejected> {
    match obj.get(name) {
        None => Ok(now),
        v => date(v).ok_or(CacheRejected::InvalidPayload),
    }
}

fn date(v: Option<&Value>) -> Option<Timestamp> {
    parse_iso(v?.as_str()?)
}

fn is_revived_date(s: &str) -> bool {
    parse_iso(s).is_some()
}

/// Parses what Better Auth's reviver turns into a valid `Date`:
/// `^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$`, read as V8 reads it (month 1-12, day 1-31
/// rolling over into the next month, `24:00:00` allowed, fraction truncated to milliseconds).
pub(super) fn parse_iso(s: &str) -> Option<Timestamp> {
    let b = s.as_bytes();
    if b.len() < 20 || b.last() != Some(&b'Z') {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        let digits = b.get(range)?;
        digits.iter().try_fold(0i64, |acc, d| {
            d.is_ascii_digit().then(|| acc * 10 + i64::from(d - b'0'))
        })
    };
    let sep = |i: usize, c: u8| b.get(i) == Some(&c);
    if !(sep(4, b'-') && sep(7, b'-') && sep(10, b'T') && sep(13, b':') && sep(16, b':')) {
        return None;
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let fraction = &b[19..b.len() - 1];
    let millis = match fraction.split_first() {
        None => 0,
        Some((b'.', digits)) if !digits.is_empty() && digits.iter().all(u8::is_ascii_digit) => {
            let ms = digits
                .iter()
                .chain(std::iter::repeat(&b'0'))
                .take(3)
                .fold(0i64, |acc, d| acc * 10 + i64::from(d - b'0'));
            if hour == 24 && digits.iter().any(|&d| d != b'0') {
                return None;
            }
            ms
        }
        Some(_) => return None,
    };
    let time_ok =
        (hour < 24 || (hour == 24 && minute == 0 && second == 0)) && minute < 60 && second < 60;
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || !time_ok {
        return None;
    }
    let days = days_from_civil(year, month) + day - 1;
    let ms = ((days * 24 + hour) * 60 + minute) * 60_000 + second * 1000 + millis;
    Some(Timestamp::from_millis(ms))
}

/// Days from 1970-01-01 to the first of `month` in `year` (proleptic Gregorian; H. Hinnant).
fn days_from_civil(year: i64, month: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

// ---- raw JSON members ----------------------------------------------------------------------------

/// The exact source text of the value of top-level member `name` in the JSON object `json` (the
/// last one when repeated, as `JSON.parse` keeps the last). `json` should already have parsed as
/// JSON; anything unexpected gives `None`.
pub(super) fn raw_member<'a>(json: &'a str, name: &str) -> Option<&'a str> {
    let b = json.as_bytes();
    let mut i = skip_ws(b, 0);
    if b.get(i) != Some(&b'{') {
        return None;
    }
    i = skip_ws(b, i + 1);
    if b.get(i) == Some(&b'}') {
        return None;
    }
    let mut found = None;
    loop {
        let key_end = string_end(b, i)?;
        let key = json.get(i..key_end)?;
        i = skip_ws(b, key_end);
        if b.get(i) != Some(&b':') {
            return None;
        }
        i = skip_ws(b, i + 1);
        let value_end = value_end(b, i)?;
        if key_is(key, name) {
            found = Some(json.get(i..value_end)?);
        }
        i = skip_ws(b, value_end);
        match b.get(i) {
            Some(b',') => i = skip_ws(b, i + 1),
            Some(b'}') => return found,
            _ => return None,
        }
    }
}

/// Whether the quoted JSON string `raw` decodes to `name`.
fn key_is(raw: &str, name: &str) -> bool {
    if raw.contains('\\') {
        serde_json::from_str::<String>(raw).is_ok_and(|k| k == name)
    } else {
        raw.len() == name.len() + 2 && raw.get(1..raw.len() - 1) == Some(name)
    }
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while matches!(b.get(i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        i += 1;
    }
    i
}

/// The index just past the string starting at `b[i] == '"'`.
fn string_end(b: &[u8], i: usize) -> Option<usize> {
    if b.get(i) != Some(&b'"') {
        return None;
    }
    let mut j = i + 1;
    loop {
        match b.get(j)? {
            b'\\' => j += 2,
            b'"' => return Some(j + 1),
            _ => j += 1,
        }
    }
}

/// The index just past the JSON value starting at `b[i]`.
fn value_end(b: &[u8], i: usize) -> Option<usize> {
    match b.get(i)? {
        b'"' => string_end(b, i),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut j = i;
            loop {
                match b.get(j)? {
                    b'"' => {
                        j = string_end(b, j)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth = depth.checked_sub(1)?;
                        if depth == 0 {
                            return Some(j + 1);
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
        }
        _ => {
            let mut j = i;
            while !matches!(
                b.get(j),
                None | Some(b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r')
            ) {
                j += 1;
            }
            (j > i).then_some(j)
        }
    }
}
