//! Everything a request needs, independent of Pingora: [`App::decide`] turns a request head into
//! a [`Decision`] (forward, with or without an identity, or answer here), labelled with its route
//! and outcome for metrics and the access log.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::request::Parts;
use http::{header, Response};

use crate::access::AccessLog;
use crate::admin::{Admin, AdminRoute};
use crate::auth::validator::ValidateOptions;
use crate::auth::{AuthOutcome, Revocation, SessionValidator};
use crate::config::{Config, Policy};
use crate::decision::{Action, ClientAddr, Decision, ForwardPlan, Outcome};
use crate::endpoints::{Endpoint, SessionApi};
use crate::geo::{Geo, GeoError};
use crate::health::Health;
use crate::housekeeping::Housekeeping;
use crate::metrics::Metrics;
use crate::reply::{cookie_headers, store_unavailable, with_cookies};
use crate::routing::{self, RouteTable};
use crate::store::{InstrumentedStore, SessionStore};
use crate::time::Clock;

/// The gateway's state, shared by every request.
pub struct App {
    pub config: Arc<Config>,
    pub routes: RouteTable,
    pub validator: Arc<SessionValidator>,
    /// The store, timed into `metrics`.
    pub store: Arc<dyn SessionStore>,
    pub clock: Arc<dyn Clock>,
    pub metrics: Arc<Metrics>,
    pub session_api: SessionApi,
    pub admin: Admin,
    pub health: Health,
    pub access_log: AccessLog,
    pub housekeeping: Housekeeping,
}

impl App {
    /// An app for `config` reading sessions from `store`; fails only when the geolocation
    /// provider cannot be set up (an unreadable `.mmdb` file).
    pub fn new(
        config: Config,
        store: Arc<dyn SessionStore>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, GeoError> {
        let config = Arc::new(config);
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
            health: Health::new(store.clone(), metrics.clone(), config.server.listen),
            access_log: AccessLog::new(metrics.clone()),
            housekeeping: Housekeeping::new(
                config.clone(),
                validator.clone(),
                store.clone(),
                clock.clone(),
                metrics.clone(),
            ),
            validator,
            store,
            clock,
            config,
            metrics,
        })
    }

    /// Decides what happens to a request with head `req` from `client`.
    pub async fn decide(&self, req: &Parts, client: &ClientAddr) -> Decision {
        // The glue made the request canonical before calling this (`crate::canonical`), and the
        // upstream receives it so: what is decided here is what the upstream acts on.
        let path = req.uri.path();
        let host = req.headers.get(header::HOST).and_then(|h| h.to_str().ok());
        let route = self.routes.classify(host, path);
        let decision = |outcome, source, action| Decision {
            route: route.name.clone(),
            outcome,
            source,
            action,
        };
        let forward = |session, set_cookies| {
            Action::Forward(ForwardPlan {
                upstream: route.upstream.addr,
                session,
                strip_auth_cookies: self.config.proxy.strip_auth_cookies && !route.is_better_auth(),
                set_cookies,
            })
        };
        if route.policy == Policy::Public {
            return decision(Outcome::Public, None, forward(None, Vec::new()));
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
                match routing::session_rules_violation(&route, &auth.session.record, client_ip, now)
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
                let response = routing::unauthenticated(
                    &route,
                    &req.method,
                    &req.headers,
                    target,
                    &self.config,
                );
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

    /// What Gatehouse answers itself for this request, if anything: the admin (under its
    /// mount), then the session endpoints (under the Better Auth base path).
    pub fn local(&self, req: &Parts) -> Option<Local> {
        if let Some(route) = self.admin.route(req) {
            return Some(Local::Admin(route));
        }
        Endpoint::matching(
            &req.method,
            req.uri.path(),
            &self.config.better_auth.base_path,
        )
        .map(Local::Endpoint)
    }

    /// What the admin's own listener answers, which is the admin and nothing else: any other
    /// path gets a 404.
    pub fn admin_listener_local(&self, req: &Parts) -> Local {
        match self.admin.listener_route(req) {
            Some(route) => Local::Admin(route),
            None => Local::Admin(Err(crate::admin::not_found())),
        }
    }

    /// Answers a request Gatehouse serves itself, with its body (read as [`Local::body_limit`]
    /// says).
    pub async fn answer_locally(
        &self,
        local: Local,
        req: &Parts,
        body: &[u8],
        client: &ClientAddr,
    ) -> (Outcome, Response<Bytes>) {
        match local {
            Local::Admin(Ok(route)) => self.admin.handle(route, req, body, client).await,
            Local::Admin(Err(response)) => (Outcome::BadRequest, response),
            Local::Endpoint(endpoint) => self.session_api.serve(endpoint, req, body, client).await,
        }
    }
}

/// A request Gatehouse answers itself.
#[derive(Debug)]
pub enum Local {
    /// The sessions admin: a route, or the answer for a stray path under its mount.
    Admin(Result<AdminRoute, Response<Bytes>>),
    /// One of the session endpoints under the Better Auth base path.
    Endpoint(Endpoint),
}

impl Local {
    /// The route label for metrics and logs.
    pub fn name(&self) -> &'static str {
        match self {
            Local::Admin(Ok(route)) => route.name(),
            Local::Admin(Err(_)) => "admin",
            Local::Endpoint(endpoint) => endpoint.name(),
        }
    }

    /// How much request body to read (`None`: none at all).
    pub fn body_limit(&self) -> Option<usize> {
        match self {
            Local::Admin(Ok(_)) => Some(crate::admin::MAX_BODY),
            Local::Admin(Err(_)) => None,
            Local::Endpoint(endpoint) => endpoint
                .changes_state()
                .then_some(crate::endpoints::MAX_BODY),
        }
    }
}
