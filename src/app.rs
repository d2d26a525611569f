//! Everything a request needs, independent of Pingora: [`App::decide`] turns a request head into
//! a [`Decision`] (forward, with or without an identity, or answer here).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use bytes::Bytes;
use http::request::Parts;
use http::{header, HeaderValue, Response, StatusCode};

use crate::auth::validator::ValidateOptions;
use crate::auth::{AuthOutcome, AuthenticatedSession, SessionValidator};
use crate::config::{Config, Policy};
use crate::endpoints::{Endpoint, RateLimiter};
use crate::routing::{self, json_response, RouteTable};
use crate::store::SessionStore;
use crate::time::Clock;

/// What to do with a request.
#[derive(Debug)]
pub enum Decision {
    /// Proxy it.
    Forward(ForwardPlan),
    /// Answer the client directly; the upstream never sees the request.
    Respond(Response<Bytes>),
}

/// How to proxy a request.
#[derive(Debug, Clone)]
pub struct ForwardPlan {
    pub upstream: SocketAddr,
    /// The identity to inject, if the request has a valid session.
    pub session: Option<Arc<AuthenticatedSession>>,
    /// Remove Better Auth's cookies (never on Better Auth's own routes, which need them).
    pub strip_auth_cookies: bool,
    /// `Set-Cookie` values to add to the upstream's response (a refreshed session cookie).
    pub set_cookies: Vec<String>,
}

/// The gateway's state, shared by every request.
pub struct App {
    pub config: Arc<Config>,
    pub routes: RouteTable,
    pub validator: SessionValidator,
    pub store: Arc<dyn SessionStore>,
    pub clock: Arc<dyn Clock>,
    pub rate_limiter: RateLimiter,
}

impl App {
    /// An app for `config` reading sessions from `store`.
    pub fn new(config: Config, store: Arc<dyn SessionStore>, clock: Arc<dyn Clock>) -> Self {
        let config = Arc::new(config);
        Self {
            routes: RouteTable::new(&config),
            validator: SessionValidator::new(config.clone(), store.clone(), clock.clone()),
            rate_limiter: RateLimiter::new(&config.rate_limit),
            store,
            clock,
            config,
        }
    }

    /// Decides what happens to a request with head `req` from `peer`.
    pub async fn decide(&self, req: &Parts, peer: Option<IpAddr>) -> Decision {
        let path = req.uri.path();
        if !routing::path_is_canonical(path) {
            return Decision::Respond(json_response(
                StatusCode::BAD_REQUEST,
                r#"{"error":"bad_path"}"#,
            ));
        }
        let host = req
            .headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .or_else(|| req.uri.host());
        let route = self.routes.classify(host, path);
        let forward = |session, set_cookies| {
            Decision::Forward(ForwardPlan {
                upstream: route.upstream.addr,
                session,
                strip_auth_cookies: self.config.proxy.strip_auth_cookies && !route.is_better_auth(),
                set_cookies,
            })
        };
        if route.policy == Policy::Public {
            return forward(None, Vec::new());
        }
        let cookies = cookie_headers(req);
        match self
            .validator
            .validate(&cookies, ValidateOptions::default())
            .await
        {
            Ok(AuthOutcome::Authenticated(auth)) => {
                let client_ip = peer.map(|p| self.client_ip(req, p));
                let now = self.clock.now();
                match routing::session_rules_violation(&route, &auth.session.record, client_ip, now)
                {
                    None => forward(Some(auth.session), auth.set_cookies),
                    Some(forbidden) => {
                        Decision::Respond(with_cookies(forbidden, &auth.set_cookies))
                    }
                }
            }
            Ok(AuthOutcome::Anonymous { set_cookies, .. }) if route.policy == Policy::Optional => {
                forward(None, set_cookies)
            }
            Ok(AuthOutcome::Anonymous {
                reason,
                set_cookies,
            }) => {
                tracing::debug!(
                    route = route.name,
                    reason = reason.as_str(),
                    "unauthenticated"
                );
                let target = req.uri.path_and_query().map_or(path, |pq| pq.as_str());
                let response = routing::unauthenticated(
                    &route,
                    &req.method,
                    &req.headers,
                    target,
                    &self.config,
                );
                Decision::Respond(with_cookies(response, &set_cookies))
            }
            Err(e) => Decision::Respond(store_unavailable(route.name, &e)),
        }
    }

    /// The endpoint Gatehouse serves itself for this request, if any.
    pub fn endpoint(&self, req: &Parts) -> Option<Endpoint> {
        Endpoint::matching(
            &req.method,
            req.uri.path(),
            &self.config.better_auth.base_path,
        )
    }

    /// The client's address as the forwarding rules see it.
    pub fn client_ip(&self, req: &Parts, peer: IpAddr) -> IpAddr {
        crate::forwarding::client_ip(&req.headers, peer, &self.config)
    }
}

/// The request's `Cookie` header values that are valid text.
pub fn cookie_headers(req: &Parts) -> Vec<&str> {
    req.headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect()
}

/// `response` with `Set-Cookie` headers added.
pub fn with_cookies(mut response: Response<Bytes>, set_cookies: &[String]) -> Response<Bytes> {
    for cookie in set_cookies {
        if let Ok(value) = HeaderValue::from_str(cookie) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    response
}

/// 503 when a lookup needed the database and it did not answer.
///
/// SECURITY: fail closed; the logged error names the database, never the token.
pub fn store_unavailable(route: &str, error: &dyn std::fmt::Display) -> Response<Bytes> {
    tracing::warn!(route, error = %error, "session lookup failed");
    let mut response = json_response(
        StatusCode::SERVICE_UNAVAILABLE,
        r#"{"error":"session_store_unavailable"}"#,
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    response
}
