//! What Gatehouse decided about a request, as values: forward (with or without an identity) or
//! answer, and the bounded outcome label the metrics and access log use.

use std::net::IpAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::Response;

use crate::auth::validator::LookupSource;
use crate::auth::AuthenticatedSession;
use crate::config::Upstream;

/// What happened to a request, as a bounded label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Forwarded on a public route (or under the Better Auth base path).
    Public,
    /// A CORS preflight forwarded without a session check.
    Preflight,
    /// Forwarded with an identity.
    Authenticated,
    /// Forwarded without one, on an optional route.
    Anonymous,
    /// 401 or redirect to sign in.
    Unauthenticated,
    /// 403 from a route rule or an Origin check.
    Forbidden,
    /// 503: the session store did not answer.
    StoreUnavailable,
    /// 400 or 413.
    BadRequest,
    /// 429.
    RateLimited,
    /// Answered by one of Gatehouse's own endpoints.
    Served,
    /// Ended before anything was decided: the client went away, or its body could not be read.
    Undecided,
}

impl Outcome {
    /// The label value.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Outcome::Public => "public",
            Outcome::Preflight => "preflight",
            Outcome::Authenticated => "authenticated",
            Outcome::Anonymous => "anonymous",
            Outcome::Unauthenticated => "unauthenticated",
            Outcome::Forbidden => "forbidden",
            Outcome::StoreUnavailable => "store_unavailable",
            Outcome::BadRequest => "bad_request",
            Outcome::RateLimited => "rate_limited",
            Outcome::Served => "served",
            Outcome::Undecided => "undecided",
        }
    }
}

/// What to do with a request, and how to label it.
#[derive(Debug)]
pub(crate) struct Decision {
    /// The route's name (config prefix, `better_auth`, `default`, or an endpoint's name).
    pub(crate) route: Arc<str>,
    pub(crate) outcome: Outcome,
    /// What answered the session lookup, if there was one.
    pub(crate) source: Option<LookupSource>,
    pub(crate) action: Action,
}

/// Forward or answer.
#[derive(Debug)]
pub(crate) enum Action {
    /// Proxy it.
    Forward(ForwardPlan),
    /// Answer the client directly; the upstream never sees the request.
    Respond(Response<Bytes>),
}

/// How to proxy a request.
#[derive(Debug, Clone)]
pub(crate) struct ForwardPlan {
    pub(crate) upstream: Arc<Upstream>,
    /// The identity to inject, if the request has a valid session.
    pub(crate) session: Option<Arc<AuthenticatedSession>>,
    /// Remove Better Auth's cookies (never on Better Auth's own routes, which need them).
    pub(crate) strip_auth_cookies: bool,
    /// `Set-Cookie` values to add to the upstream's response (a refreshed session cookie).
    pub(crate) set_cookies: Vec<String>,
    /// Send the signed identity assertion, with this audience (the route's
    /// `assertion_audience`), when there is a session.
    pub(crate) assertion_audience: Option<Arc<str>>,
}

/// Who sent a request, computed once per request (`forwarding::client_addr`) and used by every
/// rule that needs it: `bind_ip`, rate limits, the `Origin` check, `X-Forwarded-*` and the access
/// log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ClientAddr {
    /// The TCP peer; `None` when the listener is not an IP socket.
    pub(crate) peer: Option<IpAddr>,
    /// The peer is one of `proxy.trusted_proxies`: its `X-Forwarded-*` headers are believed.
    pub(crate) trusted_peer: bool,
    /// The client: the peer, or behind trusted proxies the right-most `X-Forwarded-For` entry
    /// that is not one of them.
    pub(crate) ip: Option<IpAddr>,
    /// `https` only when a trusted proxy says so; Gatehouse itself listens on plain HTTP.
    pub(crate) scheme: &'static str,
}
