//! The authentication gate for proxied routes: what a request on a route gets, given its
//! policy (`public`, `optional`, `required`), the credential it carries (checked by the
//! validator: cookie signature, cache, cookie cache, database) and the route's session rules
//! (`fresh_age`, `roles`, `bind_ip`, ...). CORS preflights are forwarded without a session
//! check unless the route says otherwise. The answer is a [`Decision`] value: forward (with or
//! without an identity) or respond here. No Pingora, no sockets.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::request::Parts;
use http::{header, HeaderMap, Method, Response, StatusCode};
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};

use crate::auth::validator::ValidateOptions;
use crate::auth::{AuthOutcome, AuthenticatedSession, SessionValidator};
use crate::config::{Config, FieldRef, Policy, Unauthenticated};
use crate::decision::{Action, ClientAddr, Decision, ForwardPlan, Outcome};
use crate::metrics::Metrics;
use crate::reply::{
    cookie_headers, json_response, session_not_fresh, store_unavailable, with_cookies,
};
use crate::route_table::RouteMatch;
use crate::time::{Clock, Timestamp};

/// The gate, with only what it reads: the validator, the clock for session rules, the
/// credential-check timer, and the config for the sign-in redirect.
pub(crate) struct Gate {
    config: Arc<Config>,
    validator: Arc<SessionValidator>,
    clock: Arc<dyn Clock>,
    metrics: Arc<Metrics>,
    /// Where the organization plugin's `activeOrganizationId` is in a record, if it is read.
    active_organization: Option<FieldRef>,
}

impl Gate {
    /// A gate checking credentials with `validator`.
    pub(crate) fn new(
        config: Arc<Config>,
        validator: Arc<SessionValidator>,
        clock: Arc<dyn Clock>,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            active_organization: config.better_auth.additional_fields.active_organization(),
            config,
            validator,
            clock,
            metrics,
        }
    }

    /// Decides what happens to a request with head `req` from `client` on a proxied `route`.
    pub(crate) async fn decide(
        &self,
        route: RouteMatch<'_>,
        req: &Parts,
        client: &ClientAddr,
    ) -> Decision {
        let path = req.uri.path();
        let decision = |outcome, source, action| Decision {
            route: route.name.clone(),
            outcome,
            source,
            action,
        };
        let forward = |session, set_cookies| {
            Action::Forward(ForwardPlan {
                upstream: Arc::clone(route.upstream),
                session,
                strip_auth_cookies: self.config.proxy.strip_auth_cookies && !route.is_better_auth(),
                set_cookies,
                assertion_audience: route.rules.and_then(|r| r.assertion_audience.clone()),
            })
        };
        if route.policy == Policy::Public {
            return decision(Outcome::Public, None, forward(None, Vec::new()));
        }
        let forwards_preflights = route.rules.is_none_or(|r| r.forward_preflights);
        if forwards_preflights && is_cors_preflight(&req.method, &req.headers) {
            return decision(Outcome::Preflight, None, forward(None, Vec::new()));
        }
        let cookies = cookie_headers(req);
        let started = Instant::now();
        let outcome = self
            .validator
            .validate(&cookies, ValidateOptions::default())
            .await;
        self.metrics
            .auth_duration
            .observe(started.elapsed().as_secs_f64());
        match outcome {
            Ok(AuthOutcome::Authenticated(auth)) => {
                let client_ip = client.ip;
                let now = self.clock.now();
                let source = Some(auth.source);
                let session = &*auth.session;
                let active_organization = self
                    .active_organization
                    .and_then(|at| session.field(at))
                    .is_some_and(|v| !v.is_null());
                match session_rules_violation(&route, session, active_organization, client_ip, now)
                {
                    None => decision(
                        Outcome::Authenticated,
                        source,
                        forward(Some(auth.session), auth.set_cookies),
                    ),
                    Some(forbidden) => decision(
                        Outcome::Forbidden,
                        source,
                        Action::Respond(with_cookies(forbidden, &auth.set_cookies)),
                    ),
                }
            }
            Ok(AuthOutcome::Anonymous { set_cookies, .. }) if route.policy == Policy::Optional => {
                decision(Outcome::Anonymous, None, forward(None, set_cookies))
            }
            Ok(AuthOutcome::Anonymous {
                reason,
                set_cookies,
            }) => {
                tracing::debug!(
                    route = &*route.name,
                    reason = reason.as_str(),
                    "unauthenticated"
                );
                let target = req.uri.path_and_query().map_or(path, |pq| pq.as_str());
                let response =
                    unauthenticated(&route, &req.method, &req.headers, target, &self.config);
                decision(
                    Outcome::Unauthenticated,
                    None,
                    Action::Respond(with_cookies(response, &set_cookies)),
                )
            }
            Err(e) => decision(
                Outcome::StoreUnavailable,
                None,
                Action::Respond(store_unavailable(&route.name, &e)),
            ),
        }
    }
}

/// Headers some frameworks read as the request's real method (in CGI spelling, so
/// `x_http_method_override` counts too).
const METHOD_OVERRIDES: [&str; 3] = [
    "x-http-method-override",
    "x-http-method",
    "x-method-override",
];

/// A CORS preflight: `OPTIONS` with `Origin` and `Access-Control-Request-Method`, which a browser
/// sends without credentials before a cross-origin request.
///
/// SECURITY: it passes without a session, so it must be a request the upstream can only read
/// as an `OPTIONS`: no body, and no method-override header in any spelling (a framework
/// honouring `X-HTTP-Method-Override: DELETE` would otherwise run a DELETE unauthenticated).
pub(crate) fn is_cors_preflight(method: &Method, headers: &HeaderMap) -> bool {
    if method != Method::OPTIONS {
        return false;
    }
    // Names are lowercase; `_` is how some servers (CGI, nginx's `$http_`) spell `-`.
    let spelt_as = |name: &str, wanted: &str| {
        name.len() == wanted.len()
            && name
                .bytes()
                .zip(wanted.bytes())
                .all(|(n, w)| n == w || (n == b'_' && w == b'-'))
    };
    let overrides_method = headers
        .keys()
        .any(|name| METHOD_OVERRIDES.iter().any(|o| spelt_as(name.as_str(), o)));
    let has_body = headers.contains_key(header::TRANSFER_ENCODING)
        || headers
            .get_all(header::CONTENT_LENGTH)
            .iter()
            .any(|v| v.as_bytes() != b"0");
    headers.contains_key(header::ORIGIN)
        && headers.contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
        && !overrides_method
        && !has_body
}

/// Whether the client is a browser navigating (and so should be redirected to sign in) rather
/// than a script calling an API.
fn is_browser_navigation(method: &Method, headers: &HeaderMap) -> bool {
    if method != Method::GET && method != Method::HEAD {
        return false;
    }
    if headers.contains_key("x-requested-with") {
        return false;
    }
    if let Some(mode) = headers.get("sec-fetch-mode") {
        return mode.as_bytes().eq_ignore_ascii_case(b"navigate");
    }
    headers
        .get_all(header::ACCEPT)
        .iter()
        .any(|v| v.to_str().is_ok_and(|s| s.contains("text/html")))
}

/// The answer to a request without a valid session on a `required` route.
fn unauthenticated(
    route: &RouteMatch<'_>,
    method: &Method,
    headers: &HeaderMap,
    path_and_query: &str,
    config: &Config,
) -> Response<Bytes> {
    let redirect = match route.unauthenticated {
        Unauthenticated::Status => false,
        Unauthenticated::Redirect => method == Method::GET || method == Method::HEAD,
        Unauthenticated::Auto => is_browser_navigation(method, headers),
    };
    if !redirect {
        return json_response(StatusCode::UNAUTHORIZED, r#"{"error":"unauthenticated"}"#);
    }
    let login = &config.proxy.login_url;
    let separator = if login.contains('?') { '&' } else { '?' };
    let location = format!(
        "{login}{separator}{}={}",
        config.proxy.login_redirect_param,
        utf8_percent_encode(path_and_query, NON_ALPHANUMERIC)
    );
    let mut response = Response::new(Bytes::new());
    *response.status_mut() = StatusCode::FOUND;
    if let Ok(value) = location.parse() {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        http::HeaderValue::from_static("no-store"),
    );
    response
}

/// The 403 to send when an authenticated request breaks one of its route's session rules
/// (`fresh_age`, `roles`, `bind_ip`, `refuse_impersonated`, `require_active_organization`,
/// `organization_roles`); `None` when it keeps them all.
fn session_rules_violation(
    route: &RouteMatch<'_>,
    session: &AuthenticatedSession,
    active_organization: bool,
    client_ip: Option<IpAddr>,
    now: Timestamp,
) -> Option<Response<Bytes>> {
    let rules = route.rules?;
    let forbidden = |error: &'static str| Some(json_response(StatusCode::FORBIDDEN, error));
    if rules.refuse_impersonated && session.impersonated_by().is_some() {
        return forbidden(r#"{"error":"impersonated_session"}"#);
    }
    if rules.require_active_organization && !active_organization {
        return forbidden(r#"{"error":"no_active_organization"}"#);
    }
    let member_role_ok =
        active_organization && session.has_any_member_role(&rules.organization_roles);
    if !rules.organization_roles.is_empty() && !member_role_ok {
        return forbidden(r#"{"error":"forbidden"}"#);
    }
    if let Some(fresh_age) = rules.fresh_age {
        if !session.is_fresh(fresh_age, now) {
            return Some(session_not_fresh());
        }
    }
    if !rules.roles.is_empty() && !session.has_any_role(&rules.roles) {
        return Some(json_response(
            StatusCode::FORBIDDEN,
            r#"{"error":"forbidden"}"#,
        ));
    }
    if rules.bind_ip {
        let bound = session
            .ip_address()
            .and_then(|ip| ip.parse::<IpAddr>().ok());
        if bound.is_none() || bound != client_ip {
            return Some(json_response(
                StatusCode::FORBIDDEN,
                r#"{"error":"session_ip_mismatch"}"#,
            ));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use http::{HeaderMap, HeaderValue, Method};

    use super::*;
    use crate::config::{parse_toml, MapEnv};
    use crate::route_table::RouteTable;

    fn config(toml: &str) -> Config {
        let env = MapEnv::from_pairs(&[("BETTER_AUTH_SECRET", "s")]);
        Config::from_file(parse_toml(toml).unwrap(), &env).unwrap()
    }

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

    #[test]
    fn only_a_bodiless_options_without_method_overrides_is_a_preflight() {
        let options = Method::OPTIONS;
        let base = [
            ("origin", "https://app.example.com"),
            ("access-control-request-method", "DELETE"),
        ];
        assert!(is_cors_preflight(&options, &headers(&base)));
        assert!(!is_cors_preflight(&Method::GET, &headers(&base)));
        assert!(!is_cors_preflight(&options, &headers(&base[..1])));
        for extra in [
            ("x-http-method-override", "DELETE"),
            ("x_http_method_override", "DELETE"),
            ("x-http-method", "PUT"),
            ("x-method-override", "POST"),
            ("x_method_override", "POST"),
            ("x-http_method", "PATCH"),
            ("content-length", "5"),
            ("transfer-encoding", "chunked"),
        ] {
            let mut with = base.to_vec();
            with.push(extra);
            assert!(!is_cors_preflight(&options, &headers(&with)), "{extra:?}");
        }
        let mut empty_body = base.to_vec();
        empty_body.push(("content-length", "0"));
        assert!(is_cors_preflight(&options, &headers(&empty_body)));
        for near_miss in ["x-http-methods", "x-method", "x-http-method-overrid"] {
            let mut with = base.to_vec();
            with.push((near_miss, "DELETE"));
            assert!(is_cors_preflight(&options, &headers(&with)), "{near_miss}");
        }
    }

    #[test]
    fn browser_navigation_is_told_apart_from_api_calls() {
        let get = Method::GET;
        assert!(is_browser_navigation(
            &get,
            &headers(&[("sec-fetch-mode", "navigate")])
        ));
        assert!(!is_browser_navigation(
            &get,
            &headers(&[("sec-fetch-mode", "cors"), ("accept", "text/html")])
        ));
        assert!(is_browser_navigation(
            &get,
            &headers(&[("accept", "text/html,application/xhtml+xml")])
        ));
        assert!(!is_browser_navigation(
            &get,
            &headers(&[("accept", "application/json")])
        ));
        assert!(!is_browser_navigation(
            &get,
            &headers(&[
                ("accept", "text/html"),
                ("x-requested-with", "XMLHttpRequest")
            ])
        ));
        assert!(!is_browser_navigation(
            &Method::POST,
            &headers(&[("sec-fetch-mode", "navigate")])
        ));
        assert!(!is_browser_navigation(&get, &HeaderMap::new()));
    }

    #[test]
    fn unauthenticated_browsers_are_redirected_with_the_original_url() {
        let c = config("[proxy]\nlogin_url = \"/sign-in?app=1\"\n");
        let table = RouteTable::new(&c);
        let route = table.classify(None, "/docs");
        let r = unauthenticated(
            &route,
            &Method::GET,
            &headers(&[("sec-fetch-mode", "navigate")]),
            "/docs?a=1&b=2",
            &c,
        );
        assert_eq!(r.status(), StatusCode::FOUND);
        assert_eq!(
            r.headers()["location"],
            "/sign-in?app=1&callbackURL=%2Fdocs%3Fa%3D1%26b%3D2"
        );
    }

    #[test]
    fn unauthenticated_api_calls_get_401_json() {
        let c = config("");
        let table = RouteTable::new(&c);
        let route = table.classify(None, "/api/data");
        let r = unauthenticated(
            &route,
            &Method::GET,
            &headers(&[("accept", "application/json")]),
            "/api/data",
            &c,
        );
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(r.body().as_ref(), br#"{"error":"unauthenticated"}"#);
        assert_eq!(r.headers()["content-type"], "application/json");
    }

    #[test]
    fn route_overrides_decide_the_answer() {
        let c = config("[[routes]]\nprefix = \"/s\"\nunauthenticated = \"status\"\n[[routes]]\nprefix = \"/r\"\nunauthenticated = \"redirect\"\n");
        let table = RouteTable::new(&c);
        let nav = headers(&[("sec-fetch-mode", "navigate")]);
        let status = table.classify(None, "/s");
        assert_eq!(
            unauthenticated(&status, &Method::GET, &nav, "/s", &c).status(),
            StatusCode::UNAUTHORIZED
        );
        let redirect = table.classify(None, "/r");
        let empty = HeaderMap::new();
        assert_eq!(
            unauthenticated(&redirect, &Method::GET, &empty, "/r", &c).status(),
            StatusCode::FOUND
        );
        assert_eq!(
            unauthenticated(&redirect, &Method::POST, &empty, "/r", &c).status(),
            StatusCode::UNAUTHORIZED
        );
    }
}
