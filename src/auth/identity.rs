//! The identity a valid session carries upstream: header names from config, values from the
//! session and user rows, built once per cache entry rather than per request. Both are shared
//! buffers, so a request that sends them clones reference counts, not strings.

use http::{HeaderName, HeaderValue};

use serde_json::Value;

use crate::config::{FieldRef, FieldTable, HeadersConfig};
use crate::session::SessionRecord;

/// A validated session and the identity headers it puts on forwarded requests.
#[derive(Debug)]
pub(crate) struct AuthenticatedSession {
    pub(crate) record: SessionRecord,
    /// The configured names and the values.
    pub(crate) headers: Vec<(HeaderName, HeaderValue)>,
}

impl AuthenticatedSession {
    /// Builds the headers for `record` as `config` names them.
    pub(crate) fn new(record: SessionRecord, config: &HeadersConfig) -> Self {
        let headers = identity_headers(&record, config);
        Self { record, headers }
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

/// The identity headers for a session. Values that cannot be sent (control characters) are
/// left out; everything else, UTF-8 included, is sent as its raw bytes.
pub(crate) fn identity_headers(
    record: &SessionRecord,
    config: &HeadersConfig,
) -> Vec<(HeaderName, HeaderValue)> {
    let (session, user) = (&record.session, &record.user);
    let fixed = [
        (&config.user_id, Some(user.id.as_str())),
        (&config.user_email, Some(user.email.as_str())),
        (&config.user_name, Some(user.name.as_str())),
        (&config.user_role, user.role.as_deref()),
        (&config.session_id, Some(session.id.as_str())),
        (&config.impersonated_by, session.impersonated_by.as_deref()),
    ];
    let extra = config
        .user_columns
        .iter()
        .zip(&user.extra)
        .map(|((name, _), value)| (name, value.as_deref()));
    let mut headers: Vec<(HeaderName, HeaderValue)> = fixed
        .into_iter()
        .chain(extra)
        .filter_map(|(name, value)| {
            let value = HeaderValue::from_bytes(value?.as_bytes()).ok()?;
            Some((name.clone(), value))
        })
        .collect();
    for (name, field) in &config.fields {
        let text = match field_value(record, *field) {
            None | Some(Value::Null) => continue,
            Some(Value::String(s)) => s.clone(),
            // Numbers, booleans, arrays and objects as their JSON text.
            Some(other) => other.to_string(),
        };
        if let Ok(value) = HeaderValue::from_bytes(text.as_bytes()) {
            headers.push((name.clone(), value));
        }
    }
    headers
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, MapEnv};
    use crate::session::fixtures::record;
    use crate::time::Timestamp;

    fn headers_config(toml: &str) -> HeadersConfig {
        let env = MapEnv::from_pairs(&[("BETTER_AUTH_SECRET", "s")]);
        Config::from_file(crate::config::parse_toml(toml).unwrap(), &env)
            .unwrap()
            .headers
    }

    fn find<'a>(headers: &'a [(HeaderName, HeaderValue)], name: &str) -> Option<&'a [u8]> {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_bytes())
    }

    #[test]
    fn default_names_carry_user_and_session() {
        let r = record("t", Timestamp::from_millis(1));
        let h = identity_headers(&r, &headers_config(""));
        assert_eq!(find(&h, "x-auth-user-id"), Some(&b"user-1"[..]));
        assert_eq!(
            find(&h, "x-auth-user-email"),
            Some(&b"alice@example.com"[..])
        );
        assert_eq!(find(&h, "x-auth-user-name"), Some(&b"Alice"[..]));
        assert_eq!(find(&h, "x-auth-user-role"), Some(&b"user"[..]));
        assert_eq!(find(&h, "x-auth-session-id"), Some(&b"sess-t"[..]));
        assert!(
            h.iter().all(|(_, v)| v.as_bytes() != b"t"),
            "the token is never a header value"
        );
        assert_eq!(find(&h, "x-auth-impersonated-by"), None);
        let mut impersonated = r.clone();
        impersonated.session.impersonated_by = Some("admin-1".into());
        let h = identity_headers(&impersonated, &headers_config(""));
        assert_eq!(find(&h, "x-auth-impersonated-by"), Some(&b"admin-1"[..]));
    }

    #[test]
    fn renamed_headers_and_user_columns() {
        let cfg = headers_config("[headers]\nuser_id = \"X-Remote-User\"\n[headers.user_columns]\n\"x-dept\" = \"department\"\n");
        let mut r = record("t", Timestamp::from_millis(1));
        r.user.extra = vec![Some("R&D".into())];
        let h = identity_headers(&r, &cfg);
        assert_eq!(find(&h, "x-remote-user"), Some(&b"user-1"[..]));
        assert_eq!(find(&h, "x-dept"), Some(&b"R&D"[..]));
    }

    #[test]
    fn additional_fields_become_headers_as_text() {
        let cfg = headers_config(
            "[better_auth.user.additional_fields]\nisActive = { type = \"boolean\" }\n\
             tags = { type = \"string[]\" }\n\
             [better_auth.plugins]\norganization = true\n\
             [headers.fields]\n\"x-active\" = \"user.isActive\"\n\"x-tags\" = \"user.tags\"\n\
             \"x-org\" = \"session.activeOrganizationId\"\n",
        );
        let mut r = record("t", Timestamp::from_millis(1));
        // Config order: isActive, tags (sorted by name).
        r.user.additional = vec![serde_json::json!(true), serde_json::json!(["a", "b"])];
        r.session.additional = vec![serde_json::json!("org-1")];
        let h = identity_headers(&r, &cfg);
        assert_eq!(find(&h, "x-active"), Some(&b"true"[..]));
        assert_eq!(find(&h, "x-tags"), Some(&br#"["a","b"]"#[..]));
        assert_eq!(find(&h, "x-org"), Some(&b"org-1"[..]));
        r.session.additional = vec![Value::Null];
        assert_eq!(
            find(&identity_headers(&r, &cfg), "x-org"),
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
        let h = identity_headers(&r, &headers_config(""));
        assert_eq!(find(&h, "x-auth-user-name"), Some("José ☃".as_bytes()));
        assert_eq!(find(&h, "x-auth-user-email"), None);
        assert_eq!(find(&h, "x-auth-user-role"), None);
    }
}
