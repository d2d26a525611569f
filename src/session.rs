//! Better Auth's `session` and `user` rows as Gatehouse reads them, the pure checks on them,
//! and ids made as Better Auth makes them. Below both `auth` and `store`, which share these rows.

use rand::distributions::{Alphanumeric, DistString};
use serde_json::Value;

use crate::time::Timestamp;

/// A random id as Better Auth makes them: 32 characters from `[A-Za-z0-9]`.
pub fn random_id() -> String {
    Alphanumeric.sample_string(&mut rand::thread_rng(), 32)
}

/// A `session` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: String,
    /// The secret token from the cookie. Never log it or return it to a client.
    pub token: String,
    pub user_id: String,
    pub expires_at: Timestamp,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    /// Admin plugin: the admin impersonating this user.
    pub impersonated_by: Option<String>,
    /// Values of `better_auth.additional_fields.session`, in config order, as Better Auth's JSON
    /// gives them (dates as ISO strings); `Null` for SQL NULL.
    pub additional: Vec<Value>,
    /// Organization plugin: the user's `member.role` in the active organization (possibly
    /// comma-separated), read with the session; `None` without one, or when not read.
    pub active_member_role: Option<String>,
}

/// A `user` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: String,
    pub name: String,
    pub email: String,
    pub email_verified: bool,
    pub image: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// Admin plugin: comma-separated roles.
    pub role: Option<String>,
    pub banned: Option<bool>,
    pub ban_reason: Option<String>,
    pub ban_expires: Option<Timestamp>,
    /// Extra columns read for `headers.user_columns`, in config order.
    pub extra: Vec<Option<String>>,
    /// Values of `better_auth.additional_fields.user`, in config order (see
    /// [`Session::additional`]).
    pub additional: Vec<Value>,
}

/// A session joined with its user: what one store lookup returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    pub session: Session,
    pub user: User,
}

impl SessionRecord {
    /// Whether the session has expired at `now` (Better Auth: `expiresAt < now`).
    pub fn is_expired(&self, now: Timestamp) -> bool {
        self.session.expires_at < now
    }

    /// Whether the user is banned at `now`: `banned` set and `banExpires` unset or in the future.
    pub fn is_banned(&self, now: Timestamp) -> bool {
        banned_at(self.user.banned, self.user.ban_expires, now)
    }

    /// Better Auth's freshness test: created less than `fresh_age` ago; a zero age turns it off.
    pub fn is_fresh(&self, fresh_age: std::time::Duration, now: Timestamp) -> bool {
        fresh_at(self.session.created_at, fresh_age, now)
    }

    /// Whether the user's member role in the active organization includes one of `wanted`.
    pub fn has_any_member_role(&self, wanted: &[String]) -> bool {
        roles_include(self.session.active_member_role.as_deref(), wanted)
    }

    /// Whether the user has one of `wanted` among the admin plugin's comma-separated roles.
    pub fn has_any_role(&self, wanted: &[String]) -> bool {
        roles_include(self.user.role.as_deref(), wanted)
    }
}

/// Whether a user with these `banned` and `banExpires` values is banned at `now`.
pub fn banned_at(banned: Option<bool>, ban_expires: Option<Timestamp>, now: Timestamp) -> bool {
    banned == Some(true) && ban_expires.is_none_or(|until| until > now)
}

/// Whether a session created at `created_at` is fresh at `now` (a zero `fresh_age`: always).
pub fn fresh_at(created_at: Timestamp, fresh_age: std::time::Duration, now: Timestamp) -> bool {
    fresh_age.is_zero() || created_at.plus(fresh_age) >= now
}

/// Whether the comma-separated role `list` (`None`: no roles) includes one of `wanted`.
pub fn roles_include(list: Option<&str>, wanted: &[String]) -> bool {
    list.unwrap_or_default()
        .split(',')
        .map(str::trim)
        .any(|role| wanted.iter().any(|want| want == role))
}

#[cfg(test)]
pub(crate) mod fixtures {
    use super::*;

    /// A record for tests: session `sess-<token>`, user `user-1`, valid until `expires_at`.
    pub fn record(token: &str, expires_at: Timestamp) -> SessionRecord {
        SessionRecord {
            session: Session {
                id: format!("sess-{token}"),
                token: token.into(),
                user_id: "user-1".into(),
                expires_at,
                created_at: Timestamp::from_millis(0),
                updated_at: Timestamp::from_millis(0),
                ip_address: Some("203.0.113.7".into()),
                user_agent: None,
                impersonated_by: None,
                additional: Vec::new(),
                active_member_role: None,
            },
            user: User {
                id: "user-1".into(),
                name: "Alice".into(),
                email: "alice@example.com".into(),
                email_verified: true,
                image: None,
                created_at: Timestamp::from_millis(0),
                updated_at: Timestamp::from_millis(0),
                role: Some("user".into()),
                banned: Some(false),
                ban_reason: None,
                ban_expires: None,
                extra: Vec::new(),
                additional: Vec::new(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::record;
    use super::*;

    #[test]
    fn expiry_is_strict() {
        let r = record("t", Timestamp::from_millis(1_000));
        assert!(!r.is_expired(Timestamp::from_millis(1_000)));
        assert!(r.is_expired(Timestamp::from_millis(1_001)));
    }

    #[test]
    fn bans_with_and_without_expiry() {
        let now = Timestamp::from_millis(5_000);
        let mut r = record("t", Timestamp::from_millis(10_000));
        assert!(!r.is_banned(now));
        r.user.banned = Some(true);
        assert!(r.is_banned(now), "no banExpires: banned for good");
        r.user.ban_expires = Some(Timestamp::from_millis(6_000));
        assert!(r.is_banned(now));
        r.user.ban_expires = Some(Timestamp::from_millis(4_000));
        assert!(!r.is_banned(now), "ban has run out");
        r.user.banned = None;
        r.user.ban_expires = None;
        assert!(!r.is_banned(now));
    }

    #[test]
    fn roles_are_the_admin_plugins_comma_separated_list() {
        let mut r = record("t", Timestamp::from_millis(10_000));
        let admin = ["admin".to_string()];
        r.user.role = None;
        assert!(!r.has_any_role(&admin));
        r.user.role = Some("user, admin".into());
        assert!(r.has_any_role(&admin));
        r.user.role = Some("administrator".into());
        assert!(!r.has_any_role(&admin), "whole roles only");
        assert!(!r.has_any_role(&[]));
    }
}
