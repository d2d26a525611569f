//! The forward-auth decision endpoint (`[forward_auth]`): a proxy a team already runs asks
//! Gatehouse about a request it is about to forward, and Gatehouse decides for that *original*
//! request exactly as its own proxy would (same route table, policies, rules, credential
//! check, cache and refresh), answering in the shape the caller understands:
//!
//! | caller | original request from | allowed | refused |
//! |---|---|---|---|
//! | nginx `auth_request` (ingress-nginx `auth-url`) | `X-Original-URI`, `X-Original-Method` | 200 + identity headers | 401/403 (a login redirect becomes 401 with `Location`, for `error_page`) |
//! | Traefik ForwardAuth, Caddy `forward_auth` | `X-Forwarded-Uri`, `-Method`, `-Host`, `-Proto` | 200 + identity headers | the answer itself (302 to the login page, 401, 403) |
//! | Envoy `ext_authz` (HTTP) | the path after the endpoint's, the method, the headers | 200 + identity headers | the answer itself |
//!
//! This module reads the caller's request and shapes the answer; `App` runs the gate between.
//! SECURITY: only configured callers may ask (peer in `callers`, or the shared secret); an
//! original target that is not already canonical is refused, since the calling proxy, not
//! Gatehouse, sends the upstream its target; the identity headers in an answer are only ever
//! Gatehouse's own.

use std::net::IpAddr;

use bytes::Bytes;
use http::request::Parts;
use http::{header, HeaderMap, HeaderName, HeaderValue, Method, Response, StatusCode};
use subtle::ConstantTimeEq;

use crate::canonical::Rewrite;
use crate::config::ForwardAuthConfig;
use crate::decision::Action;
use crate::reply::json_response;

/// The header a caller may prove itself with (`GATEHOUSE_FORWARD_AUTH_SECRET`).
pub(crate) const SECRET_HEADER: HeaderName = HeaderName::from_static("x-forward-auth-secret");
const X_ORIGINAL_URI: HeaderName = HeaderName::from_static("x-original-uri");
const X_ORIGINAL_METHOD: HeaderName = HeaderName::from_static("x-original-method");
const X_FORWARDED_URI: HeaderName = HeaderName::from_static("x-forwarded-uri");
const X_FORWARDED_METHOD: HeaderName = HeaderName::from_static("x-forwarded-method");
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");

/// Which proxy's conventions a request follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Caller {
    /// nginx `auth_request`: `X-Original-URI`.
    Nginx,
    /// Traefik, Caddy: `X-Forwarded-Uri`.
    Forwarded,
    /// Envoy `ext_authz`: the original path appended to the endpoint's.
    Envoy,
}

/// The endpoint.
pub(crate) struct ForwardAuth {
    config: ForwardAuthConfig,
    /// Every identity header name (`HeadersConfig::identity_names`): an allowed answer carries
    /// each one, empty when the request has no such value, so that a proxy told to copy it
    /// never falls back to the client's own (or, Caddy 2.6, to a literal placeholder).
    identity: Vec<HeaderName>,
}

impl ForwardAuth {
    pub(crate) fn new(config: ForwardAuthConfig, identity: Vec<HeaderName>) -> Self {
        Self { config, identity }
    }

    /// Whether a request for `path` is for the endpoint (exactly, or under it, for Envoy).
    pub(crate) fn matches(&self, path: &str) -> bool {
        path.strip_prefix(self.config.path.as_str())
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    }

    /// Whether the caller may ask: its address is in `callers`, or it presents the secret.
    pub(crate) fn admits(&self, peer: Option<IpAddr>, headers: &HeaderMap) -> bool {
        let by_address = peer.is_some_and(|ip| self.config.callers.iter().any(|n| n.contains(&ip)));
        let by_secret = match (&self.config.secret, headers.get(SECRET_HEADER)) {
            (Some(secret), Some(sent)) => {
                bool::from(secret.expose().as_bytes().ct_eq(sent.as_bytes()))
            }
            _ => false,
        };
        by_address || by_secret
    }

    /// The original request `req` describes, in canonical form, or the JSON body of the 400
    /// that refuses it ([`refusal`]).
    pub(crate) fn original(&self, req: &Parts) -> Result<(Caller, Parts), &'static str> {
        let text = |name: &HeaderName| req.headers.get(name).and_then(|v| v.to_str().ok());
        let (caller, target, method) = if let Some(uri) = text(&X_ORIGINAL_URI) {
            (Caller::Nginx, uri.to_string(), text(&X_ORIGINAL_METHOD))
        } else if let Some(uri) = text(&X_FORWARDED_URI) {
            (
                Caller::Forwarded,
                uri.to_string(),
                text(&X_FORWARDED_METHOD),
            )
        } else {
            let rest = &req.uri.path()[self.config.path.len().min(req.uri.path().len())..];
            if rest.is_empty() {
                return Err(r#"{"error":"no_original_request"}"#);
            }
            let target = match req.uri.query() {
                Some(q) => format!("{rest}?{q}"),
                None => rest.to_string(),
            };
            (Caller::Envoy, target, Some(req.method.as_str()))
        };
        let method = match method {
            Some(m) => Method::from_bytes(m.as_bytes())
                .map_err(|_| r#"{"error":"bad_original_method"}"#)?,
            None => Method::GET,
        };
        let mut headers = req.headers.clone();
        for meta in [
            &X_ORIGINAL_URI,
            &X_ORIGINAL_METHOD,
            &X_FORWARDED_URI,
            &X_FORWARDED_METHOD,
            &SECRET_HEADER,
        ] {
            headers.remove(meta);
        }
        if let Some(host) = headers.remove(X_FORWARDED_HOST) {
            headers.insert(header::HOST, host);
        }
        // The calling proxy sends the upstream this target as it is: decide on it only if it
        // is already the one canonical form Gatehouse routes by.
        let rewrite = Rewrite::of(target.as_bytes(), &headers).map_err(|refusal| refusal.body())?;
        if rewrite.target.is_some() {
            return Err(r#"{"error":"bad_path"}"#);
        }
        if let Some(host) = rewrite.host {
            headers.insert(header::HOST, host);
        }
        let mut original = http::Request::builder()
            .method(method)
            .uri(target.as_str())
            .body(())
            .map_err(|_| r#"{"error":"bad_path"}"#)?
            .into_parts()
            .0;
        original.headers = headers;
        Ok((caller, original))
    }

    /// The answer to `caller` for the gate's `action` on the original request.
    pub(crate) fn answer(&self, caller: Caller, action: Action) -> Response<Bytes> {
        match action {
            Action::Forward(plan) => {
                let mut response = Response::new(Bytes::new());
                let headers = response.headers_mut();
                for name in &self.identity {
                    headers.insert(name.clone(), HeaderValue::from_static(""));
                }
                if let Some(session) = &plan.session {
                    for (name, value) in session.headers() {
                        headers.insert(name.clone(), value);
                    }
                }
                for cookie in &plan.set_cookies {
                    if let Ok(v) = HeaderValue::from_str(cookie) {
                        headers.append(header::SET_COOKIE, v);
                    }
                }
                headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
                response
            }
            Action::Respond(mut response) => {
                // nginx's auth_request knows only 2xx, 401 and 403 (anything else is its own
                // 500): a login redirect becomes 401, its Location kept for `error_page`.
                if caller == Caller::Nginx && response.status().is_redirection() {
                    *response.status_mut() = StatusCode::UNAUTHORIZED;
                }
                response
            }
        }
    }
}

/// The 400 for a request [`ForwardAuth::original`] refused with `body`.
pub(crate) fn refusal(body: &'static str) -> Response<Bytes> {
    json_response(StatusCode::BAD_REQUEST, body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    fn endpoint(secret: Option<&str>) -> ForwardAuth {
        ForwardAuth::new(
            ForwardAuthConfig {
                path: "/_gatehouse/forward-auth".into(),
                listen: None,
                callers: vec!["10.0.0.0/8".parse().unwrap()],
                secret: secret.map(|s| Secret::new(s.to_string())),
            },
            vec![HeaderName::from_static("x-auth-user-id")],
        )
    }

    fn request(path: &str, method: &str, headers: &[(&str, &str)]) -> Parts {
        let mut builder = http::Request::builder().method(method).uri(path);
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        builder.body(()).unwrap().into_parts().0
    }

    #[test]
    fn only_configured_callers_may_ask() {
        let fa = endpoint(Some("a-long-enough-shared-secret"));
        let none = HeaderMap::new();
        assert!(fa.admits(Some("10.1.2.3".parse().unwrap()), &none));
        assert!(!fa.admits(Some("192.0.2.1".parse().unwrap()), &none));
        let mut with = HeaderMap::new();
        with.insert(
            SECRET_HEADER,
            HeaderValue::from_static("a-long-enough-shared-secret"),
        );
        assert!(fa.admits(Some("192.0.2.1".parse().unwrap()), &with));
        with.insert(
            SECRET_HEADER,
            HeaderValue::from_static("a-long-enough-shared-secreT"),
        );
        assert!(!fa.admits(Some("192.0.2.1".parse().unwrap()), &with));
        assert!(!endpoint(None).admits(None, &with));
    }

    #[test]
    fn each_caller_s_original_request_is_read() {
        let fa = endpoint(None);
        let (caller, o) = fa
            .original(&request(
                "/_gatehouse/forward-auth",
                "GET",
                &[
                    ("host", "auth.internal"),
                    ("x-original-uri", "/orders?id=1"),
                    ("x-original-method", "POST"),
                    ("x-forwarded-host", "app.example.com"),
                    ("cookie", "a=b"),
                ],
            ))
            .unwrap();
        assert_eq!(caller, Caller::Nginx);
        assert_eq!(
            (o.method.as_str(), o.uri.to_string().as_str()),
            ("POST", "/orders?id=1")
        );
        assert_eq!(o.headers["host"], "app.example.com");
        assert_eq!(o.headers["cookie"], "a=b");
        assert!(o.headers.get("x-original-uri").is_none());

        let (caller, o) = fa
            .original(&request(
                "/_gatehouse/forward-auth",
                "GET",
                &[
                    ("x-forwarded-uri", "/a/b"),
                    ("x-forwarded-method", "DELETE"),
                    ("x-forwarded-host", "app.example.com"),
                ],
            ))
            .unwrap();
        assert_eq!(caller, Caller::Forwarded);
        assert_eq!((o.method.as_str(), o.uri.path()), ("DELETE", "/a/b"));

        let (caller, o) = fa
            .original(&request(
                "/_gatehouse/forward-auth/api/items?x=1",
                "PUT",
                &[("host", "app.example.com")],
            ))
            .unwrap();
        assert_eq!(caller, Caller::Envoy);
        assert_eq!(
            (o.method.as_str(), o.uri.to_string().as_str()),
            ("PUT", "/api/items?x=1")
        );
    }

    #[test]
    fn a_target_that_is_not_canonical_is_refused() {
        let fa = endpoint(None);
        for target in ["/public/../admin", "/a/%2e%2e/b", "/a//b", "/a;b"] {
            let err = fa
                .original(&request(
                    "/_gatehouse/forward-auth",
                    "GET",
                    &[("host", "a"), ("x-original-uri", target)],
                ))
                .unwrap_err();
            assert!(err.contains("bad_path"), "{target}: {err}");
        }
        let bare = fa.original(&request(
            "/_gatehouse/forward-auth",
            "GET",
            &[("host", "a")],
        ));
        assert_eq!(bare.unwrap_err(), r#"{"error":"no_original_request"}"#);
        assert!(fa.matches("/_gatehouse/forward-auth"));
        assert!(fa.matches("/_gatehouse/forward-auth/x"));
        assert!(!fa.matches("/_gatehouse/forward-authx"));
    }

    #[test]
    fn nginx_gets_a_401_where_others_get_the_login_redirect() {
        let redirect = || {
            let mut r = json_response(StatusCode::FOUND, "{}");
            r.headers_mut().insert(
                header::LOCATION,
                HeaderValue::from_static("/login?callbackURL=%2Fx"),
            );
            Action::Respond(r)
        };
        let fa = endpoint(None);
        let nginx = fa.answer(Caller::Nginx, redirect());
        assert_eq!(nginx.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(nginx.headers()["location"], "/login?callbackURL=%2Fx");
        let traefik = fa.answer(Caller::Forwarded, redirect());
        assert_eq!(traefik.status(), StatusCode::FOUND);
    }
}
