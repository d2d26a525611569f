//! The JSON shapes of Better Auth's session endpoints, and of the snake_case `GET /session`.
//!
//! SECURITY: where Better Auth puts the raw session token (`session.token`), Gatehouse puts the
//! session's `id`. The token never leaves in a body; `revoke-session` accepts the id in its
//! place, so Better Auth's client (`listSessions` then `revokeSession({ token })`) still works.

use serde::Serialize;

use crate::session::{Session, SessionRecord, User};
use crate::time::Timestamp;

fn iso(t: &Timestamp) -> String {
    t.to_iso()
}

/// A `session` row as Better Auth returns it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SessionJson<'a> {
    #[serde(with = "iso_date")]
    expires_at: Timestamp,
    /// The session id standing in for the token (see the module docs).
    token: &'a str,
    #[serde(with = "iso_date")]
    created_at: Timestamp,
    #[serde(with = "iso_date")]
    updated_at: Timestamp,
    ip_address: Option<&'a str>,
    user_agent: Option<&'a str>,
    user_id: &'a str,
    impersonated_by: Option<&'a str>,
    id: &'a str,
}

impl<'a> From<&'a Session> for SessionJson<'a> {
    fn from(s: &'a Session) -> Self {
        Self {
            expires_at: s.expires_at,
            token: &s.id,
            created_at: s.created_at,
            updated_at: s.updated_at,
            ip_address: s.ip_address.as_deref(),
            user_agent: s.user_agent.as_deref(),
            user_id: &s.user_id,
            impersonated_by: s.impersonated_by.as_deref(),
            id: &s.id,
        }
    }
}

/// A `user` row as Better Auth returns it (admin plugin fields included).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UserJson<'a> {
    name: &'a str,
    email: &'a str,
    email_verified: bool,
    image: Option<&'a str>,
    #[serde(with = "iso_date")]
    created_at: Timestamp,
    #[serde(with = "iso_date")]
    updated_at: Timestamp,
    role: Option<&'a str>,
    banned: Option<bool>,
    ban_reason: Option<&'a str>,
    #[serde(with = "iso_date_opt")]
    ban_expires: Option<Timestamp>,
    id: &'a str,
}

impl<'a> From<&'a User> for UserJson<'a> {
    fn from(u: &'a User) -> Self {
        Self {
            name: &u.name,
            email: &u.email,
            email_verified: u.email_verified,
            image: u.image.as_deref(),
            created_at: u.created_at,
            updated_at: u.updated_at,
            role: u.role.as_deref(),
            banned: u.banned,
            ban_reason: u.ban_reason.as_deref(),
            ban_expires: u.ban_expires,
            id: &u.id,
        }
    }
}

/// `get-session`'s answer: `{"session": {...}, "user": {...}}`.
#[derive(Debug, Serialize)]
pub(crate) struct SessionWithUser<'a> {
    session: SessionJson<'a>,
    user: UserJson<'a>,
}

impl<'a> From<&'a SessionRecord> for SessionWithUser<'a> {
    fn from(r: &'a SessionRecord) -> Self {
        Self {
            session: (&r.session).into(),
            user: (&r.user).into(),
        }
    }
}

/// The snake_case session of `GET /session` (the app API shape Gatehouse also serves).
#[derive(Debug, Serialize)]
pub(crate) struct SnakeSession<'a> {
    user_id: &'a str,
    /// The session id standing in for the token (see the module docs).
    token: &'a str,
    expires_at: String,
    ip_address: Option<&'a str>,
    user_agent: Option<&'a str>,
    created_at: String,
    updated_at: String,
}

/// The user of `GET /session`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SnakeUser<'a> {
    id: &'a str,
    email: &'a str,
    name: &'a str,
    image: Option<&'a str>,
    is_email_verified: bool,
    role: Option<&'a str>,
    created_at: String,
    updated_at: String,
}

/// `GET /session`: `{"session": {...} | null, "user": {...} | null}`.
#[derive(Debug, Serialize)]
pub(crate) struct SnakeSessionWithUser<'a> {
    session: Option<SnakeSession<'a>>,
    user: Option<SnakeUser<'a>>,
}

impl<'a> SnakeSessionWithUser<'a> {
    /// The answer for `record`, or the signed-out answer.
    pub(crate) fn new(record: Option<&'a SessionRecord>) -> Self {
        let Some(r) = record else {
            return Self {
                session: None,
                user: None,
            };
        };
        let (s, u) = (&r.session, &r.user);
        Self {
            session: Some(SnakeSession {
                user_id: &s.user_id,
                token: &s.id,
                expires_at: iso(&s.expires_at),
                ip_address: s.ip_address.as_deref(),
                user_agent: s.user_agent.as_deref(),
                created_at: iso(&s.created_at),
                updated_at: iso(&s.updated_at),
            }),
            user: Some(SnakeUser {
                id: &u.id,
                email: &u.email,
                name: &u.name,
                image: u.image.as_deref(),
                is_email_verified: u.email_verified,
                role: u.role.as_deref(),
                created_at: iso(&u.created_at),
                updated_at: iso(&u.updated_at),
            }),
        }
    }
}

mod iso_date {
    use serde::Serializer;

    use crate::time::Timestamp;

    pub(crate) fn serialize<S: Serializer>(t: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&t.to_iso())
    }
}

mod iso_date_opt {
    use serde::Serializer;

    use crate::time::Timestamp;

    pub(crate) fn serialize<S: Serializer>(t: &Option<Timestamp>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => s.serialize_str(&t.to_iso()),
            None => s.serialize_none(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::fixtures::record;

    #[test]
    fn better_auth_shape_never_carries_the_token() {
        let r = record("secret-token", Timestamp::from_millis(1_795_395_501_238));
        let json = serde_json::to_string(&SessionWithUser::from(&r)).unwrap();
        assert!(!json.contains(r#""secret-token""#), "{json}");
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["session"]["token"], "sess-secret-token");
        assert_eq!(v["session"]["expiresAt"], "2026-11-23T00:58:21.238Z");
        assert_eq!(v["session"]["userId"], "user-1");
        assert_eq!(v["user"]["emailVerified"], true);
        assert_eq!(v["user"]["banExpires"], serde_json::Value::Null);
    }

    #[test]
    fn snake_case_shape_and_signed_out_answer() {
        let r = record("secret-token", Timestamp::from_millis(0));
        let v = serde_json::to_value(SnakeSessionWithUser::new(Some(&r))).unwrap();
        assert_eq!(v["session"]["user_id"], "user-1");
        assert_eq!(v["session"]["expires_at"], "1970-01-01T00:00:00.000Z");
        assert_eq!(v["session"]["ip_address"], "203.0.113.7");
        assert_eq!(v["user"]["isEmailVerified"], true);
        assert!(!v.to_string().contains(r#""secret-token""#));
        let out = serde_json::to_string(&SnakeSessionWithUser::new(None)).unwrap();
        assert_eq!(out, r#"{"session":null,"user":null}"#);
    }
}
