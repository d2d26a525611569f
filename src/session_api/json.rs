//! The JSON shapes of Better Auth's session endpoints, and of the snake_case `GET /session`.
//!
//! SECURITY: where Better Auth puts the raw session token (`session.token`), Gatehouse puts the
//! session's `id`. The token never leaves in a body; `revoke-session` accepts the id in its
//! place, so Better Auth's client (`listSessions` then `revokeSession({ token })`) still works.

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};
use serde_json::Value;

use crate::config::{AdditionalField, AdditionalFields};
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
    #[serde(flatten)]
    additional: Additional<'a>,
    id: &'a str,
}

/// Additional fields as Better Auth returns them: by name, `returned = false` ones left out.
#[derive(Debug)]
pub(crate) struct Additional<'a> {
    fields: &'a [AdditionalField],
    values: &'a [Value],
}

impl Serialize for Additional<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        for (field, value) in self.fields.iter().zip(self.values) {
            if field.returned {
                map.serialize_entry(&field.name, value)?;
            }
        }
        map.end()
    }
}

impl<'a> SessionJson<'a> {
    /// Session `s` with its additional `fields`.
    pub(crate) fn new(s: &'a Session, fields: &'a [AdditionalField]) -> Self {
        Self {
            expires_at: s.expires_at,
            token: &s.id,
            created_at: s.created_at,
            updated_at: s.updated_at,
            ip_address: s.ip_address.as_deref(),
            user_agent: s.user_agent.as_deref(),
            user_id: &s.user_id,
            impersonated_by: s.impersonated_by.as_deref(),
            additional: Additional {
                fields,
                values: &s.additional,
            },
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
    #[serde(flatten)]
    additional: Additional<'a>,
    id: &'a str,
}

impl<'a> UserJson<'a> {
    /// User `u` with its additional `fields`.
    fn new(u: &'a User, fields: &'a [AdditionalField]) -> Self {
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
            additional: Additional {
                fields,
                values: &u.additional,
            },
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

impl<'a> SessionWithUser<'a> {
    /// `r` with the additional `fields` Better Auth returns.
    pub(crate) fn new(r: &'a SessionRecord, fields: &'a AdditionalFields) -> Self {
        Self {
            session: SessionJson::new(&r.session, &fields.session),
            user: UserJson::new(&r.user, &fields.user),
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
    /// The app's own user fields (`type`, `profession`, `isActive`, ... in seed 004), by name.
    #[serde(flatten)]
    additional: Additional<'a>,
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
    /// The answer for `record` (with the user's additional `fields`), or the signed-out answer.
    pub(crate) fn new(record: Option<&'a SessionRecord>, fields: &'a AdditionalFields) -> Self {
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
                additional: Additional {
                    fields: &fields.user,
                    values: &u.additional,
                },
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
        let fields = AdditionalFields::default();
        let json = serde_json::to_string(&SessionWithUser::new(&r, &fields)).unwrap();
        assert!(!json.contains(r#""secret-token""#), "{json}");
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["session"]["token"], "sess-secret-token");
        assert_eq!(v["session"]["expiresAt"], "2026-11-23T00:58:21.238Z");
        assert_eq!(v["session"]["userId"], "user-1");
        assert_eq!(v["user"]["emailVerified"], true);
        assert_eq!(v["user"]["banExpires"], serde_json::Value::Null);
    }

    #[test]
    fn additional_fields_are_returned_by_name_unless_returned_is_false() {
        use crate::config::FieldType;
        let field = |name: &str, returned| AdditionalField {
            name: name.into(),
            column: name.into(),
            field_type: FieldType::String,
            returned,
        };
        let fields = AdditionalFields {
            user: vec![field("profession", true), field("salary", false)],
            session: vec![field("activeOrganizationId", true)],
        };
        let mut r = record("t", Timestamp::from_millis(0));
        r.user.additional = vec![serde_json::json!("pilot"), serde_json::json!(99)];
        r.session.additional = vec![Value::Null];
        let v = serde_json::to_value(SessionWithUser::new(&r, &fields)).unwrap();
        assert_eq!(v["user"]["profession"], "pilot");
        assert!(
            v["user"].get("salary").is_none(),
            "returned = false never leaves"
        );
        assert_eq!(v["session"]["activeOrganizationId"], Value::Null);
        assert!(v["session"]
            .as_object()
            .unwrap()
            .contains_key("activeOrganizationId"));
    }

    #[test]
    fn snake_case_shape_and_signed_out_answer() {
        let r = record("secret-token", Timestamp::from_millis(0));
        let v = serde_json::to_value(SnakeSessionWithUser::new(
            Some(&r),
            &AdditionalFields::default(),
        ))
        .unwrap();
        assert_eq!(v["session"]["user_id"], "user-1");
        assert_eq!(v["session"]["expires_at"], "1970-01-01T00:00:00.000Z");
        assert_eq!(v["session"]["ip_address"], "203.0.113.7");
        assert_eq!(v["user"]["isEmailVerified"], true);
        assert!(!v.to_string().contains(r#""secret-token""#));
        let out = serde_json::to_string(&SnakeSessionWithUser::new(
            None,
            &AdditionalFields::default(),
        ))
        .unwrap();
        assert_eq!(out, r#"{"session":null,"user":null}"#);
    }
}
