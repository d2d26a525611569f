//! The composition root, independent of Pingora: [`App::new`] builds every part, [`App::route`]
//! classifies each canonical request once, [`App::answer`] answers what Gatehouse serves itself,
//! and [`App::decide`] turns a proxied request into a [`Decision`] (forward, with or without an
//! identity, or answer here), labelled with its route and outcome for metrics and the access log.

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use http::request::Parts;
use http::{header, HeaderMap, HeaderName, HeaderValue, Response, StatusCode};

use crate::access::AccessLog;
use crate::admin::{Admin, AdminRoute};
use crate::assertion::{AssertionError, Assertions};
use crate::auth::{Revocation, SessionValidator};
use crate::config::Config;
use crate::decision::{ClientAddr, Decision, ForwardPlan, Outcome};
use crate::forward_auth::ForwardAuth;
use crate::forwarding;
use crate::gate::Gate;
use crate::geo::{Geo, GeoError};
use crate::housekeeping::Housekeeping;
use crate::metrics::Metrics;
use crate::operations::Operations;
use crate::reply::json_response;
use crate::route_table::{RouteMatch, RouteTable};
use crate::session_api::{Endpoint, SessionApi};
use crate::spans::{SpanQueue, SpanSink};
use crate::store::{InstrumentedStore, SessionStore};
use crate::time::Clock;

/// Why the gateway cannot be built from a valid config.
#[derive(Debug, thiserror::Error)]
pub(crate) enum AppError {
    #[error("geo: {0}")]
    Geo(#[from] GeoError),
    #[error("identity_assertion: {0}")]
    Assertion(#[from] AssertionError),
}

/// The gateway's state, shared by every request.
pub(crate) struct App {
    config: Arc<Config>,
    routes: RouteTable,
    gate: Gate,
    forward_auth: Option<ForwardAuth>,
    /// The signed identity assertion, when `[identity_assertion]` is on.
    assertions: Option<Arc<Assertions>>,
    /// Where finished spans go, when `[tracing]` exports them; and, until the exporter takes it,
    /// the other end of that queue.
    spans: Option<SpanSink>,
    span_queue: std::sync::Mutex<Option<SpanQueue>>,
    metrics: Arc<Metrics>,
    session_api: SessionApi,
    admin: Admin,
    operations: Operations,
    access_log: AccessLog,
    housekeeping: Housekeeping,
    /// Whether the "proxied but no trusted_proxies" warning was logged (once per process).
    warned_untrusted_proxy: AtomicBool,
    /// The client headers never forwarded as sent.
    strip_list: forwarding::StripList,
}

impl App {
    /// The configuration it was built from.
    pub(crate) fn config(&self) -> &Arc<Config> {
        &self.config
    }

    /// The client headers never forwarded as sent (`forwarding::upstream_edits`).
    pub(crate) fn strip_list(&self) -> &forwarding::StripList {
        &self.strip_list
    }

    /// Who sent a request with `headers` over a connection from `peer` (computed once per
    /// request). The first request that looks proxied (a loopback or private peer sending
    /// `X-Forwarded-For`) while `proxy.trusted_proxies` is empty logs a warning: every client
    /// then shares the proxy's address, for rate limits, `bind_ip` and the logs alike.
    pub(crate) fn client(
        &self,
        headers: &HeaderMap,
        peer: Option<IpAddr>,
        tls: bool,
    ) -> ClientAddr {
        // Checked only until the warning is given: the check looks a header up.
        if !self.warned_untrusted_proxy.load(Ordering::Relaxed)
            && forwarding::proxied_but_untrusted(headers, peer, &self.config)
            && !self.warned_untrusted_proxy.swap(true, Ordering::Relaxed)
        {
            tracing::warn!(
                peer = ?peer,
                "requests arrive through a proxy (X-Forwarded-For from a loopback or private \
                 address) but proxy.trusted_proxies is empty: every client shares that \
                 proxy's address for rate limits, bind_ip and logs; list the proxy in \
                 proxy.trusted_proxies"
            );
        }
        forwarding::client_addr(headers, peer, tls, &self.config)
    }

    /// The route label of requests refused before routing.
    pub(crate) fn default_route_name(&self) -> Arc<str> {
        self.routes.default_name()
    }

    /// The operations endpoints.
    pub(crate) fn operations(&self) -> &Operations {
        &self.operations
    }

    /// The Prometheus series.
    pub(crate) fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The access log.
    /// The identity assertion to send with a forwarded request, if its route wants one and it
    /// has a session: (header, signed token).
    pub(crate) fn assertion(&self, plan: &ForwardPlan) -> Option<(HeaderName, HeaderValue)> {
        let (assertions, audience, session) = (
            self.assertions.as_ref()?,
            plan.assertion_audience.as_ref()?,
            plan.session.as_ref()?,
        );
        let token = assertions.token(session, audience, crate::assertion::unix_now());
        Some((assertions.header().clone(), token))
    }

    /// Where finished spans go, when they are exported.
    pub(crate) fn spans(&self) -> Option<&SpanSink> {
        self.spans.as_ref()
    }

    /// The queue of finished spans, for the exporter (once).
    pub(crate) fn take_span_queue(&self) -> Option<SpanQueue> {
        self.span_queue
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }

    /// The identity assertion's keys, for their rotation.
    pub(crate) fn assertions(&self) -> Option<&Arc<Assertions>> {
        self.assertions.as_ref()
    }

    pub(crate) fn access_log(&self) -> &AccessLog {
        &self.access_log
    }

    /// The background work.
    pub(crate) fn housekeeping(&self) -> &Housekeeping {
        &self.housekeeping
    }

    /// An app for `config` reading sessions from `store`; fails only when the geolocation
    /// provider cannot be set up (an unreadable `.mmdb` file).
    pub(crate) fn new(
        config: Config,
        store: Arc<dyn SessionStore>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, AppError> {
        let config = Arc::new(config);
        let (spans, span_queue) = match &config.tracing {
            Some(t) => {
                let (sink, queue) = SpanSink::new(t.queue);
                (Some(sink), Some(queue))
            }
            None => (None, None),
        };
        let assertions = match &config.identity_assertion {
            Some(a) => Some(Arc::new(Assertions::new(
                a.clone(),
                config.better_auth.additional_fields.active_organization(),
                config.cache.max_entries,
                crate::assertion::unix_now(),
            )?)),
            None => None,
        };
        let metrics = Arc::new(Metrics::new());
        let store: Arc<dyn SessionStore> = Arc::new(InstrumentedStore::new(store, metrics.clone()));
        let validator = Arc::new(SessionValidator::new(
            config.clone(),
            store.clone(),
            clock.clone(),
            metrics.clone(),
        ));
        let revocation = Arc::new(Revocation::new(
            validator.clone(),
            store.clone(),
            metrics.clone(),
        ));
        Ok(Self {
            session_api: SessionApi::new(
                config.clone(),
                validator.clone(),
                store.clone(),
                clock.clone(),
                metrics.clone(),
                revocation.clone(),
            ),
            admin: Admin::new(
                config.clone(),
                validator.clone(),
                store.clone(),
                clock.clone(),
                Geo::new(&config.geo)?,
                revocation,
            ),
            routes: RouteTable::new(&config),
            operations: Operations::new(
                store.clone(),
                metrics.clone(),
                config.server.listen,
                assertions.clone(),
            ),
            assertions,
            spans,
            span_queue: std::sync::Mutex::new(span_queue),
            access_log: AccessLog::new(
                metrics.clone(),
                config.log.access_combined,
                config.log.json,
            ),
            housekeeping: Housekeeping::new(
                config.clone(),
                validator.clone(),
                store.clone(),
                clock.clone(),
                metrics.clone(),
            ),
            gate: Gate::new(config.clone(), validator, clock, metrics.clone()),
            forward_auth: config
                .forward_auth
                .clone()
                .map(|f| ForwardAuth::new(f, config.headers.identity_names().cloned().collect())),
            warned_untrusted_proxy: AtomicBool::new(false),
            strip_list: forwarding::StripList::new(&config),
            config,
            metrics,
        })
    }

    /// Decides what happens to a request with head `req` from `client` on a proxied `route`
    /// (the authentication gate, [`Gate::decide`]).
    pub(crate) async fn decide(
        &self,
        route: RouteMatch<'_>,
        req: &Parts,
        client: &ClientAddr,
    ) -> Decision {
        self.gate.decide(route, req, client).await
    }

    /// Where a request goes: the one classification of every request, made on its canonical
    /// head (the glue canonicalised it first, `crate::canonical`, and the upstream receives it
    /// so: what is decided here is what the upstream acts on). On the proxy listener: the admin
    /// under its mount (unless it has a listener of its own), then the session endpoints under
    /// the Better Auth base path, then the route table. On the admin's listener: the admin,
    /// and a 404 for anything else.
    pub(crate) fn route(&self, listener: Listener, req: &Parts) -> Route<'_> {
        let forward_auth = self
            .forward_auth
            .as_ref()
            .is_some_and(|f| f.matches(req.uri.path()));
        match listener {
            Listener::ForwardAuth if forward_auth => return Route::Served(Served::ForwardAuth),
            Listener::ForwardAuth => {
                return Route::Served(Served::Admin(Err(crate::admin::not_found())))
            }
            Listener::Proxy if forward_auth => return Route::Served(Served::ForwardAuth),
            _ => {}
        }
        let jwks_here = listener == Listener::Proxy
            && req.uri.path() == crate::assertion::JWKS_PATH
            && self
                .config
                .identity_assertion
                .as_ref()
                .is_some_and(|a| a.serve_jwks_on_proxy);
        if jwks_here {
            return Route::Served(Served::Jwks);
        }
        let on_admin_listener = listener == Listener::Admin;
        match self.admin.route(req, on_admin_listener) {
            Some(route) => return Route::Served(Served::Admin(route)),
            // The admin's own listener serves nothing else.
            None if on_admin_listener => {
                return Route::Served(Served::Admin(Err(crate::admin::not_found())))
            }
            None => {}
        }
        let path = req.uri.path();
        if let Some(endpoint) =
            Endpoint::matching(&req.method, path, &self.config.better_auth.base_path)
                .filter(|e| self.session_api.serves(*e))
        {
            return Route::Served(Served::SessionApi(endpoint));
        }
        let host = req.headers.get(header::HOST).and_then(|h| h.to_str().ok());
        Route::Proxied(self.routes.classify(host, path))
    }

    /// Answers a request Gatehouse serves itself, with its body as [`Served::body_limit`] said
    /// to read it (`Body::TooLarge`: past the limit, a 413).
    pub(crate) async fn answer(
        &self,
        served: Served,
        req: &Parts,
        body: Body,
        client: &ClientAddr,
    ) -> (Outcome, Response<Bytes>) {
        let body = match body {
            Body::Read(body) => body,
            Body::TooLarge => {
                let too_large = json_response(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    r#"{"error":"body_too_large"}"#,
                );
                return (Outcome::BadRequest, too_large);
            }
        };
        match served {
            Served::Admin(Ok(route)) => self.admin.handle(route, req, &body, client).await,
            Served::Admin(Err(response)) => (Outcome::BadRequest, response),
            Served::SessionApi(endpoint) => {
                self.session_api.serve(endpoint, req, &body, client).await
            }
            Served::ForwardAuth => self.forward_auth(req, client).await,
            Served::Jwks => match &self.assertions {
                Some(a) => (
                    Outcome::Served,
                    a.jwks_response(crate::assertion::unix_now()),
                ),
                None => (Outcome::BadRequest, crate::admin::not_found()),
            },
        }
    }

    /// The forward-auth endpoint: the gate's decision on the original request a calling proxy
    /// describes, in the shape that proxy understands (`crate::forward_auth`).
    async fn forward_auth(&self, req: &Parts, client: &ClientAddr) -> (Outcome, Response<Bytes>) {
        let Some(endpoint) = &self.forward_auth else {
            return (Outcome::BadRequest, crate::admin::not_found());
        };
        if !endpoint.admits(client.peer, &req.headers) {
            let refused = json_response(
                StatusCode::FORBIDDEN,
                r#"{"error":"forward_auth_caller_not_allowed"}"#,
            );
            return (Outcome::Forbidden, refused);
        }
        let (caller, original) = match endpoint.original(req) {
            Ok(original) => original,
            Err(body) => return (Outcome::BadRequest, crate::forward_auth::refusal(body)),
        };
        let host = original
            .headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok());
        let route = self.routes.classify(host, original.uri.path());
        let decision = self.gate.decide(route, &original, client).await;
        let assertion = match &decision.action {
            crate::decision::Action::Forward(plan) => self.assertion(plan),
            crate::decision::Action::Respond(_) => None,
        };
        let mut response = endpoint.answer(caller, decision.action);
        if let Some((name, token)) = assertion {
            response.headers_mut().insert(name, token);
        }
        (decision.outcome, response)
    }
}

/// Which listener a request arrived on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Listener {
    /// The proxy listener: Gatehouse's own answers, else authenticate and forward.
    Proxy,
    /// `admin.listen`: the sessions admin and nothing else; never forwards.
    Admin,
    /// `forward_auth.listen`: the forward-auth endpoint and nothing else; never forwards.
    ForwardAuth,
}

/// A request's body, as the glue read it.
#[derive(Debug)]
pub(crate) enum Body {
    /// All of it (empty when the route reads none).
    Read(Vec<u8>),
    /// More than the route's limit: never read past it.
    TooLarge,
}

/// Where a request goes ([`App::route`]).
#[derive(Debug)]
pub(crate) enum Route<'a> {
    /// Answered by Gatehouse itself ([`App::answer`]).
    Served(Served),
    /// Authenticated as the route's policy says, then forwarded ([`App::decide`]).
    Proxied(RouteMatch<'a>),
}

/// A request Gatehouse answers itself.
#[derive(Debug)]
pub(crate) enum Served {
    /// The sessions admin: a route, or the answer for a stray path under its mount.
    Admin(Result<AdminRoute, Response<Bytes>>),
    /// One of Better Auth's session endpoints.
    SessionApi(Endpoint),
    /// The forward-auth endpoint.
    ForwardAuth,
    /// The identity assertion's JWKS (`serve_jwks_on_proxy`).
    Jwks,
}

impl Served {
    /// The route label for metrics and logs.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Served::Admin(Ok(route)) => route.name(),
            Served::Admin(Err(_)) => "admin",
            Served::SessionApi(endpoint) => endpoint.name(),
            Served::ForwardAuth => "forward_auth",
            Served::Jwks => "jwks",
        }
    }

    /// How much request body to read (`None`: none at all).
    pub(crate) fn body_limit(&self) -> Option<usize> {
        match self {
            Served::Admin(Ok(_)) => Some(crate::admin::MAX_BODY),
            Served::Admin(Err(_)) => None,
            Served::SessionApi(endpoint) => endpoint
                .changes_state()
                .then_some(crate::session_api::MAX_BODY),
            Served::ForwardAuth | Served::Jwks => None,
        }
    }
}

#[cfg(test)]
mod tests;
