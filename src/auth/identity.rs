//! What the session cache holds for a valid session, and the identity it carries upstream.
//!
//! One cached session is one compact value: every string of the session and user rows in one
//! shared buffer, in a fixed order, with their ends; the timestamps and flags inline; the
//! additional fields only when there are any. Identity headers are not stored per session:
//! their names are config-wide ([`IdentityLayout`]) and their values are slices of the buffer,
//! made into `HeaderValue`s per request without copying. The full [`SessionRecord`] is rebuilt,
//! exactly as it was read, for the paths that need all of it (a `session_data` cookie, a
//! get-session answer, a refresh).

use std::sync::Arc;

use arc_swap::ArcSwapOption;
use bytes::Bytes;
use http::{HeaderName, HeaderValue};
use serde_json::Value;

use crate::config::{FieldRef, FieldTable, HeadersConfig};
use crate::session::{banned_at, fresh_at, roles_include, Session, SessionRecord, User};
use crate::time::Timestamp;

/// The identity headers' names, in the order they are sent: the six fixed ones, then
/// `headers.user_columns`, then `headers.fields`. Shared by every cached session.
#[derive(Debug)]
pub(crate) struct IdentityLayout {
    names: Vec<HeaderName>,
    fields: Vec<FieldRef>,
}

impl IdentityLayout {
    /// The layout `config` names.
    pub(crate) fn new(config: &HeadersConfig) -> Self {
        let fixed = [
            &config.user_id,
            &config.user_email,
            &config.user_name,
            &config.user_role,
            &config.session_id,
            &config.impersonated_by,
        ];
        let names = fixed
            .into_iter()
            .chain(config.user_columns.iter().map(|(n, _)| n))
            .chain(config.fields.iter().map(|(n, _)| n))
            .cloned()
            .collect();
        let fields = config.fields.iter().map(|(_, at)| *at).collect();
        Self { names, fields }
    }

    fn user_columns(&self) -> usize {
        self.names.len() - FIXED_HEADERS - self.fields.len()
    }
}

// The buffer's segments, in order: the six fixed header values, then the rendered `fields`
// (one per `headers.fields` entry), then the rest of the rows (`TAIL`), then `user.extra`.
const USER_ID: usize = 0;
const EMAIL: usize = 1;
const NAME: usize = 2;
const ROLE: usize = 3;
const SESSION_ID: usize = 4;
const IMPERSONATED_BY: usize = 5;
const FIXED_HEADERS: usize = 6;
/// Offsets after the fields: `session.userId` (absent when it equals `user.id`, the usual case),
/// and the strings no header carries.
const SESSION_USER_ID: usize = 0;
const IP_ADDRESS: usize = 1;
const USER_AGENT: usize = 2;
const ACTIVE_MEMBER_ROLE: usize = 3;
const IMAGE: usize = 4;
const BAN_REASON: usize = 5;
const TAIL: usize = 6;

/// Set in an end for a segment that is `None` (it is then empty).
const ABSENT: u32 = 1 << 31;

/// A validated session, as the cache holds it.
#[derive(Debug)]
pub(crate) struct AuthenticatedSession {
    /// Every string, concatenated (UTF-8).
    text: Bytes,
    /// Where each segment ends in `text`, `ABSENT` set for a `None`.
    ends: Box<[u32]>,
    layout: Arc<IdentityLayout>,
    expires_at: Timestamp,
    created_at: Timestamp,
    updated_at: Timestamp,
    user_created_at: Timestamp,
    user_updated_at: Timestamp,
    ban_expires: Option<Timestamp>,
    email_verified: bool,
    banned: Option<bool>,
    /// `session.additional` and `user.additional`; `None` when both are empty.
    additional: Option<Box<[Vec<Value>; 2]>>,
    /// The identity assertion last signed for this session, if any (8 bytes when empty).
    assertion: ArcSwapOption<SignedAssertion>,
}

/// An identity assertion signed for a session (`crate::assertion` signs it), kept with the
/// cached session so that a warm request sends it again without looking it up.
#[derive(Debug)]
pub(crate) struct SignedAssertion {
    pub(crate) audience: Arc<str>,
    pub(crate) token: HeaderValue,
    /// Unix seconds from which it is signed afresh instead (half its lifetime).
    pub(crate) reuse_until: i64,
}

impl AuthenticatedSession {
    /// The compact form of `record`, with headers named by `layout`.
    pub(crate) fn new(record: SessionRecord, layout: &Arc<IdentityLayout>) -> Self {
        let (session, user) = (&record.session, &record.user);
        let fields: Vec<Option<String>> = layout
            .fields
            .iter()
            .map(|at| match field_value(&record, *at) {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) => Some(s.clone()),
                // Numbers, booleans, arrays and objects as their JSON text.
                Some(other) => Some(other.to_string()),
            })
            .collect();
        let session_user_id = (session.user_id != user.id).then_some(session.user_id.as_str());
        let segments: Vec<Option<&str>> = [
            Some(user.id.as_str()),
            Some(user.email.as_str()),
            Some(user.name.as_str()),
            user.role.as_deref(),
            Some(session.id.as_str()),
            session.impersonated_by.as_deref(),
        ]
        .into_iter()
        .chain(fields.iter().map(Option::as_deref))
        .chain([
            session_user_id,
            session.ip_address.as_deref(),
            session.user_agent.as_deref(),
            session.active_member_role.as_deref(),
            user.image.as_deref(),
            user.ban_reason.as_deref(),
        ])
        .chain(user.extra.iter().map(Option::as_deref))
        .collect();
        let mut text = String::with_capacity(segments.iter().flatten().map(|s| s.len()).sum());
        let ends = segments
            .iter()
            .map(|segment| {
                text.push_str(segment.unwrap_or_default());
                let end = u32::try_from(text.len())
                    .unwrap_or(ABSENT - 1)
                    .min(ABSENT - 1);
                if segment.is_some() {
                    end
                } else {
                    end | ABSENT
                }
            })
            .collect();
        let additional = (!session.additional.is_empty() || !user.additional.is_empty())
            .then(|| Box::new([session.additional.clone(), user.additional.clone()]));
        Self {
            text: Bytes::from(text),
            ends,
            layout: layout.clone(),
            expires_at: session.expires_at,
            created_at: session.created_at,
            updated_at: session.updated_at,
            user_created_at: user.created_at,
            user_updated_at: user.updated_at,
            ban_expires: user.ban_expires,
            email_verified: user.email_verified,
            banned: user.banned,
            additional,
            assertion: ArcSwapOption::empty(),
        }
    }

    /// The assertion kept for `audience`, if one is kept and `now` (unix seconds) is before
    /// its `reuse_until`.
    pub(crate) fn signed_assertion(&self, audience: &Arc<str>, now: i64) -> Option<HeaderValue> {
        let kept = self.assertion.load();
        let kept = kept.as_ref()?;
        (now < kept.reuse_until && kept.audience == *audience).then(|| kept.token.clone())
    }

    /// Keeps `assertion` with this session, replacing the one kept before.
    pub(crate) fn keep_assertion(&self, assertion: Arc<SignedAssertion>) {
        self.assertion.store(Some(assertion));
    }

    /// Where segment `i` lies in `text`, if it is present.
    fn span(&self, i: usize) -> Option<std::ops::Range<usize>> {
        let end = *self.ends.get(i)?;
        let start = match i {
            0 => 0,
            _ => self.ends[i - 1] & !ABSENT,
        };
        (end & ABSENT == 0).then_some(start as usize..end as usize)
    }

    /// Segment `i` as text.
    fn segment(&self, i: usize) -> Option<&str> {
        // Segments are whole strings of a UTF-8 buffer, so this never fails.
        std::str::from_utf8(&self.text[self.span(i)?]).ok()
    }

    fn tail(&self, offset: usize) -> Option<&str> {
        self.segment(self.layout.names.len() - self.layout.user_columns() + offset)
    }

    pub(crate) fn user_id(&self) -> &str {
        self.segment(USER_ID).unwrap_or_default()
    }

    pub(crate) fn session_id(&self) -> &str {
        self.segment(SESSION_ID).unwrap_or_default()
    }

    pub(crate) fn email(&self) -> &str {
        self.segment(EMAIL).unwrap_or_default()
    }

    pub(crate) fn name(&self) -> &str {
        self.segment(NAME).unwrap_or_default()
    }

    pub(crate) fn role(&self) -> Option<&str> {
        self.segment(ROLE)
    }

    pub(crate) fn impersonated_by(&self) -> Option<&str> {
        self.segment(IMPERSONATED_BY)
    }

    pub(crate) fn ip_address(&self) -> Option<&str> {
        self.tail(IP_ADDRESS)
    }

    pub(crate) fn expires_at(&self) -> Timestamp {
        self.expires_at
    }

    /// See [`SessionRecord::is_expired`].
    pub(crate) fn is_expired(&self, now: Timestamp) -> bool {
        self.expires_at < now
    }

    /// See [`SessionRecord::is_banned`].
    pub(crate) fn is_banned(&self, now: Timestamp) -> bool {
        banned_at(self.banned, self.ban_expires, now)
    }

    /// See [`SessionRecord::is_fresh`].
    pub(crate) fn is_fresh(&self, fresh_age: std::time::Duration, now: Timestamp) -> bool {
        fresh_at(self.created_at, fresh_age, now)
    }

    /// See [`SessionRecord::has_any_role`].
    pub(crate) fn has_any_role(&self, wanted: &[String]) -> bool {
        roles_include(self.role(), wanted)
    }

    /// See [`SessionRecord::has_any_member_role`].
    pub(crate) fn has_any_member_role(&self, wanted: &[String]) -> bool {
        roles_include(self.tail(ACTIVE_MEMBER_ROLE), wanted)
    }

    /// The value of the additional or plugin field `at` (`None` when it was not read).
    pub(crate) fn field(&self, at: FieldRef) -> Option<&Value> {
        let [session, user] = self.additional.as_deref()?;
        match at.table {
            FieldTable::Session => session.get(at.index),
            FieldTable::User => user.get(at.index),
        }
    }

    /// The identity headers, in order. Values that cannot be sent (control characters) are
    /// left out; everything else, UTF-8 included, is sent as its raw bytes.
    pub(crate) fn headers(&self) -> impl Iterator<Item = (&HeaderName, HeaderValue)> + '_ {
        let layout = &*self.layout;
        let columns = layout.user_columns();
        let extra_start = layout.names.len() - columns + TAIL;
        let fields_start = FIXED_HEADERS + columns;
        layout
            .names
            .iter()
            .enumerate()
            .filter_map(move |(slot, name)| {
                let segment = match slot {
                    s if s < FIXED_HEADERS => s,
                    s if s < fields_start => extra_start + (s - FIXED_HEADERS),
                    s => FIXED_HEADERS + (s - fields_start),
                };
                let value = HeaderValue::from_maybe_shared(self.text.slice(self.span(segment)?));
                Some((name, value.ok()?))
            })
    }

    /// The session and user rows as they were read, with the session's `token`.
    pub(crate) fn record(&self, token: &str) -> SessionRecord {
        let owned = |s: Option<&str>| s.map(str::to_owned);
        let text = |i| self.segment(i).unwrap_or_default().to_owned();
        let extra_start = self.layout.names.len() - self.layout.user_columns() + TAIL;
        let (session_additional, user_additional) = match self.additional.as_deref() {
            Some([session, user]) => (session.clone(), user.clone()),
            None => (Vec::new(), Vec::new()),
        };
        SessionRecord {
            session: Session {
                id: text(SESSION_ID),
                token: token.to_owned(),
                user_id: self
                    .tail(SESSION_USER_ID)
                    .unwrap_or(self.user_id())
                    .to_owned(),
                expires_at: self.expires_at,
                created_at: self.created_at,
                updated_at: self.updated_at,
                ip_address: owned(self.tail(IP_ADDRESS)),
                user_agent: owned(self.tail(USER_AGENT)),
                impersonated_by: owned(self.impersonated_by()),
                additional: session_additional,
                active_member_role: owned(self.tail(ACTIVE_MEMBER_ROLE)),
            },
            user: User {
                id: text(USER_ID),
                name: text(NAME),
                email: text(EMAIL),
                email_verified: self.email_verified,
                image: owned(self.tail(IMAGE)),
                created_at: self.user_created_at,
                updated_at: self.user_updated_at,
                role: owned(self.role()),
                banned: self.banned,
                ban_reason: owned(self.tail(BAN_REASON)),
                ban_expires: self.ban_expires,
                extra: (extra_start..self.ends.len())
                    .map(|i| owned(self.segment(i)))
                    .collect(),
                additional: user_additional,
            },
        }
    }
}

#[cfg(test)]
impl AuthenticatedSession {
    /// `record` with the default header names, for tests elsewhere.
    pub(crate) fn with_default_headers(record: SessionRecord) -> Self {
        let env = crate::config::MapEnv::from_pairs(&[("BETTER_AUTH_SECRET", "s")]);
        let toml = crate::config::parse_toml("").expect("empty TOML parses");
        let config = crate::config::Config::from_file(toml, &env).expect("defaults are valid");
        Self::new(record, &Arc::new(IdentityLayout::new(&config.headers)))
    }
}

/// The value of the additional or plugin field `at` in `record` (`None` when it was not read).
pub(crate) fn field_value(record: &SessionRecord, at: FieldRef) -> Option<&Value> {
    let values = match at.table {
        FieldTable::User => &record.user.additional,
        FieldTable::Session => &record.session.additional,
    };
    values.get(at.index)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, MapEnv};
    use crate::session::fixtures::record;

    fn headers_config(toml: &str) -> HeadersConfig {
        let env = MapEnv::from_pairs(&[("BETTER_AUTH_SECRET", "s")]);
        Config::from_file(crate::config::parse_toml(toml).unwrap(), &env)
            .unwrap()
            .headers
    }

    fn compact(record: &SessionRecord, config: &HeadersConfig) -> AuthenticatedSession {
        AuthenticatedSession::new(record.clone(), &Arc::new(IdentityLayout::new(config)))
    }

    fn headers(s: &AuthenticatedSession) -> Vec<(String, Vec<u8>)> {
        s.headers()
            .map(|(n, v)| (n.to_string(), v.as_bytes().to_vec()))
            .collect()
    }

    fn find(s: &AuthenticatedSession, name: &str) -> Option<Vec<u8>> {
        headers(s)
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
    }

    #[test]
    fn default_names_carry_user_and_session_in_order() {
        let r = record("t", Timestamp::from_millis(1));
        let s = compact(&r, &headers_config(""));
        let names: Vec<String> = headers(&s).into_iter().map(|(n, _)| n).collect();
        assert_eq!(
            names,
            [
                "x-auth-user-id",
                "x-auth-user-email",
                "x-auth-user-name",
                "x-auth-user-role",
                "x-auth-session-id"
            ]
        );
        assert_eq!(find(&s, "x-auth-user-id").as_deref(), Some(&b"user-1"[..]));
        assert_eq!(
            find(&s, "x-auth-user-email").as_deref(),
            Some(&b"alice@example.com"[..])
        );
        assert_eq!(find(&s, "x-auth-user-name").as_deref(), Some(&b"Alice"[..]));
        assert_eq!(find(&s, "x-auth-user-role").as_deref(), Some(&b"user"[..]));
        assert_eq!(
            find(&s, "x-auth-session-id").as_deref(),
            Some(&b"sess-t"[..])
        );
        assert!(
            headers(&s).iter().all(|(_, v)| v != b"t"),
            "the token is never a header value"
        );
        let mut impersonated = r.clone();
        impersonated.session.impersonated_by = Some("admin-1".into());
        let s = compact(&impersonated, &headers_config(""));
        assert_eq!(
            find(&s, "x-auth-impersonated-by").as_deref(),
            Some(&b"admin-1"[..])
        );
    }

    #[test]
    fn renamed_headers_and_user_columns() {
        let cfg = headers_config("[headers]\nuser_id = \"X-Remote-User\"\n[headers.user_columns]\n\"x-dept\" = \"department\"\n");
        let mut r = record("t", Timestamp::from_millis(1));
        r.user.extra = vec![Some("R&D".into())];
        let s = compact(&r, &cfg);
        assert_eq!(find(&s, "x-remote-user").as_deref(), Some(&b"user-1"[..]));
        assert_eq!(find(&s, "x-dept").as_deref(), Some(&b"R&D"[..]));
        r.user.extra = vec![None];
        assert_eq!(
            find(&compact(&r, &cfg), "x-dept"),
            None,
            "NULL sends nothing"
        );
    }

    #[test]
    fn additional_fields_become_headers_as_text_after_the_others() {
        let cfg = headers_config(
            "[better_auth.user.additional_fields]\nisActive = { type = \"boolean\" }\n\
             tags = { type = \"string[]\" }\n\
             [better_auth.plugins]\norganization = true\n\
             [headers.user_columns]\n\"x-dept\" = \"department\"\n\
             [headers.fields]\n\"x-active\" = \"user.isActive\"\n\"x-tags\" = \"user.tags\"\n\
             \"x-org\" = \"session.activeOrganizationId\"\n",
        );
        let mut r = record("t", Timestamp::from_millis(1));
        // Config order: isActive, tags (sorted by name).
        r.user.additional = vec![serde_json::json!(true), serde_json::json!(["a", "b"])];
        r.session.additional = vec![serde_json::json!("org-1")];
        r.user.extra = vec![Some("R&D".into())];
        let s = compact(&r, &cfg);
        assert_eq!(find(&s, "x-active").as_deref(), Some(&b"true"[..]));
        assert_eq!(find(&s, "x-tags").as_deref(), Some(&br#"["a","b"]"#[..]));
        assert_eq!(find(&s, "x-org").as_deref(), Some(&b"org-1"[..]));
        let names: Vec<String> = headers(&s).into_iter().map(|(n, _)| n).collect();
        let at = |n: &str| names.iter().position(|x| x == n).unwrap();
        assert!(at("x-auth-session-id") < at("x-dept") && at("x-dept") < at("x-active"));
        assert_eq!(
            s.field(FieldRef {
                table: FieldTable::User,
                index: 0
            }),
            Some(&serde_json::json!(true))
        );
        r.session.additional = vec![Value::Null];
        assert_eq!(
            find(&compact(&r, &cfg), "x-org"),
            None,
            "null sends nothing"
        );
    }

    #[test]
    fn utf8_is_kept_and_control_characters_drop_the_header() {
        let mut r = record("t", Timestamp::from_millis(1));
        r.user.name = "José ☃".into();
        r.user.role = None;
        r.user.email = "evil@example.com\r\nx-auth-user-role: admin".into();
        let s = compact(&r, &headers_config(""));
        assert_eq!(
            find(&s, "x-auth-user-name").as_deref(),
            Some("José ☃".as_bytes())
        );
        assert_eq!(find(&s, "x-auth-user-email"), None);
        assert_eq!(find(&s, "x-auth-user-role"), None);
        assert_eq!(s.name(), "José ☃");
    }

    #[test]
    fn the_record_comes_back_exactly_as_it_was_read() {
        let cfg = headers_config(
            "[better_auth.session.additional_fields]\nplan = { type = \"string\" }\n\
             [headers.user_columns]\n\"x-dept\" = \"department\"\n\"x-site\" = \"site\"\n",
        );
        let plain = record("tok", Timestamp::from_millis(77));
        let mut full = plain.clone();
        full.session.user_id = "USER-1".into();
        full.session.ip_address = None;
        full.session.user_agent = Some("Mozilla/5.0 ☃".into());
        full.session.impersonated_by = Some(String::new());
        full.session.active_member_role = Some("owner,admin".into());
        full.session.additional = vec![serde_json::json!("pro")];
        full.user.image = Some("https://img/a.png".into());
        full.user.banned = None;
        full.user.ban_reason = Some("spam".into());
        full.user.ban_expires = Some(Timestamp::from_millis(5));
        full.user.email_verified = false;
        full.user.extra = vec![None, Some("Lyon".into())];
        full.user.additional = vec![serde_json::json!(3)];
        for r in [&plain, &full] {
            let s = compact(r, &cfg);
            assert_eq!(&s.record("tok"), r);
            assert_eq!(s.user_id(), r.user.id);
            assert_eq!(s.session_id(), r.session.id);
            assert_eq!(s.ip_address(), r.session.ip_address.as_deref());
        }
        let s = compact(&full, &cfg);
        assert_eq!(
            s.impersonated_by(),
            Some(""),
            "an empty string is not a None"
        );
        assert!(s.has_any_member_role(&["admin".to_string()]));
        assert_eq!(find(&s, "x-site").as_deref(), Some(&b"Lyon"[..]));
        assert_eq!(find(&s, "x-dept"), None);
    }

    #[test]
    fn checks_read_the_compact_fields() {
        let now = Timestamp::from_millis(5_000);
        let mut r = record("t", Timestamp::from_millis(5_000));
        r.user.banned = Some(true);
        r.user.role = Some("user, admin".into());
        let s = compact(&r, &headers_config(""));
        assert!(!s.is_expired(now) && s.is_expired(Timestamp::from_millis(5_001)));
        assert!(s.is_banned(now));
        assert!(s.has_any_role(&["admin".to_string()]));
        assert!(!s.has_any_member_role(&["admin".to_string()]));
        assert!(s.is_fresh(std::time::Duration::from_secs(10), now));
        assert!(!s.is_fresh(
            std::time::Duration::from_secs(1),
            Timestamp::from_millis(2_000)
        ));
        assert_eq!(
            s.field(FieldRef {
                table: FieldTable::User,
                index: 0
            }),
            None
        );
    }
}
