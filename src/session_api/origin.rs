//! Better Auth's CSRF rule for state-changing requests that carry cookies: the `Origin` (or,
//! failing that, `Referer`) must be a trusted origin.

use http::{header, HeaderMap, Method};

use crate::config::origin_of;

/// Why a request's origin was refused, with Better Auth's error codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OriginRefused {
    /// No `Origin` or `Referer`, or the literal `null`.
    Missing,
    /// An origin that is not trusted.
    Invalid,
}

impl OriginRefused {
    /// Better Auth's JSON body for this refusal.
    pub(crate) fn body(self) -> &'static str {
        match self {
            OriginRefused::Missing => {
                r#"{"code":"MISSING_OR_NULL_ORIGIN","message":"Missing or null Origin"}"#
            }
            OriginRefused::Invalid => r#"{"code":"INVALID_ORIGIN","message":"Invalid origin"}"#,
        }
    }
}

/// Checks a request against `trusted` origins (`scheme://host[:port]`, lowercase). With none
/// configured, the origin must name the scheme (`scheme`: `http`, or what a trusted proxy
/// said) and the host the request was sent to.
///
/// SECURITY: only `GET`, `HEAD` and `OPTIONS`, and requests without cookies, skip the check.
pub(crate) fn check(
    method: &Method,
    headers: &HeaderMap,
    trusted: &[String],
    scheme: &str,
) -> Result<(), OriginRefused> {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
        || !headers.contains_key(header::COOKIE)
    {
        return Ok(());
    }
    let sent = headers
        .get(header::ORIGIN)
        .or_else(|| headers.get(header::REFERER))
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && *v != "null")
        .ok_or(OriginRefused::Missing)?;
    let origin = origin_of(sent).ok_or(OriginRefused::Invalid)?;
    let ok = if trusted.is_empty() {
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or_default();
        origin
            .split_once("://")
            .is_some_and(|(origin_scheme, authority)| {
                origin_scheme == scheme && authority.eq_ignore_ascii_case(host)
            })
    } else {
        trusted.contains(&origin)
    };
    ok.then_some(()).ok_or(OriginRefused::Invalid)
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| {
                (
                    http::HeaderName::from_static(k),
                    HeaderValue::from_static(v),
                )
            })
            .collect()
    }

    const TRUSTED: &[&str] = &["https://app.example.com"];

    fn trusted() -> Vec<String> {
        TRUSTED.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn safe_methods_and_cookieless_requests_pass() {
        assert!(check(
            &Method::GET,
            &headers(&[("cookie", "a=1")]),
            &trusted(),
            "http"
        )
        .is_ok());
        assert!(check(&Method::POST, &headers(&[]), &trusted(), "http").is_ok());
    }

    #[test]
    fn posts_with_cookies_need_a_trusted_origin() {
        let post = |h| check(&Method::POST, &headers(h), &trusted(), "http");
        assert_eq!(post(&[("cookie", "a=1")]), Err(OriginRefused::Missing));
        assert_eq!(
            post(&[("cookie", "a=1"), ("origin", "null")]),
            Err(OriginRefused::Missing)
        );
        assert_eq!(
            post(&[("cookie", "a=1"), ("origin", "https://evil.example")]),
            Err(OriginRefused::Invalid)
        );
        assert_eq!(
            post(&[("cookie", "a=1"), ("origin", "http://app.example.com")]),
            Err(OriginRefused::Invalid)
        );
        assert_eq!(
            post(&[("cookie", "a=1"), ("origin", "https://APP.example.com")]),
            Ok(())
        );
        assert_eq!(
            post(&[
                ("cookie", "a=1"),
                ("referer", "https://app.example.com/settings")
            ]),
            Ok(())
        );
    }

    #[test]
    fn without_trusted_origins_the_origin_must_be_the_host() {
        let h = headers(&[
            ("cookie", "a=1"),
            ("origin", "http://127.0.0.1:8080"),
            ("host", "127.0.0.1:8080"),
        ]);
        assert_eq!(check(&Method::POST, &h, &[], "http"), Ok(()));
        assert_eq!(
            check(&Method::POST, &h, &[], "https"),
            Err(OriginRefused::Invalid),
            "the scheme counts too"
        );
        let https = headers(&[
            ("cookie", "a=1"),
            ("origin", "https://127.0.0.1:8080"),
            ("host", "127.0.0.1:8080"),
        ]);
        assert_eq!(
            check(&Method::POST, &https, &[], "http"),
            Err(OriginRefused::Invalid)
        );
        assert_eq!(check(&Method::POST, &https, &[], "https"), Ok(()));
        let h = headers(&[
            ("cookie", "a=1"),
            ("origin", "http://127.0.0.1:9999"),
            ("host", "127.0.0.1:8080"),
        ]);
        assert_eq!(
            check(&Method::DELETE, &h, &[], "http"),
            Err(OriginRefused::Invalid)
        );
    }
}
