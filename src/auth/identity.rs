//! The identity a valid session carries upstream: header names from config, values from the
//! session and user rows, built once per cache entry rather than per request. Both are shared
//! buffers, so a request that sends them clones reference counts, not strings.

use http::{HeaderName, HeaderValue};

use crate::config::HeadersConfig;
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
    ];
    let extra = config
        .user_columns
        .iter()
        .zip(&user.extra)
        .map(|((name, _), value)| (name, value.as_deref()));
    fixed
        .into_iter()
        .chain(extra)
        .filter_map(|(name, value)| {
            let value = HeaderValue::from_bytes(value?.as_bytes()).ok()?;
            Some((name.clone(), value))
        })
        .collect()
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
