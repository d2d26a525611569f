//! The Pingora glue: the only place with `impl ProxyHttp`. Each phase extracts plain inputs,
//! calls the domain code, and applies the value it returns.
//!
//! ```text
//! request_filter ──> canonical::Rewrite: the request made canonical in place (or 400)
//!                └─> ClientAddr: peer, trusted-proxy walk, client IP, scheme (once)
//!                └─> App::route (the one router) ──> Route::Served: the body read if the
//!                    route wants one, App::answer (sessions admin, session API), write it
//!                                                └─> Route::Proxied ──> App::decide
//!                        ──> Action::Respond(response)   write it, stop
//!                        └─> Action::Forward(plan)
//! upstream_peer            the plan's upstream address
//! upstream_request_filter  forwarding::upstream_edits (strip client identity headers, add ours),
//!                          the request ID and the W3C trace context, applied by upstream_headers
//! response_filter          Set-Cookie from the plan (refreshed session), request ID
//! fail_to_proxy            502/504 as JSON
//! logging                  AccessLog::count (gatehouse_requests_total), AccessLog::write (the
//!                          access line, its fields gathered only when the log level keeps it)
//! ```

mod background;
mod echo;
mod head_deadline;
mod operations;
mod proxy_header;
mod redirect;
mod respond;
mod upstream_headers;
mod upstream_pool;

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use async_trait::async_trait;
use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode};
use pingora::http::{RequestHeader, ResponseHeader};
use pingora::prelude::*;
use pingora::proxy::FailToProxy;
use smallvec::SmallVec;

pub(crate) use background::{
    AssertionKeyService, CertificateReloadService, HousekeepingService, SpanExportService,
};
pub(crate) use echo::EchoApp;
pub(crate) use head_deadline::HeadDeadlineApp;
pub(crate) use operations::OperationsApp;
pub(crate) use proxy_header::{PreTlsProxyHeader, ProxyHeaderPolicy};
pub(crate) use redirect::HttpsRedirectApp;
use upstream_pool::inet_of;
pub(crate) use upstream_pool::UpstreamPools;

use crate::access::{self, AccessRecord, REQUEST_ID};
use crate::app::{App, Body, Listener, Route};
use crate::auth::validator::LookupSource;
use crate::canonical::Rewrite;
use crate::decision::{Action, ClientAddr, ForwardPlan, Outcome};
use crate::forwarding;
use crate::reply::{json_response, UpstreamFailure};
use crate::spans::{new_span_id, SpanKind, SpanRecord, SpanSink};
use crate::trace_context::{TraceContext, TRACEPARENT, TRACESTATE};

/// The gateway as a Pingora proxy.
pub(crate) struct Gateway {
    app: Arc<App>,
    listener: Listener,
    pools: Arc<UpstreamPools>,
    /// `Strict-Transport-Security` for answers over TLS (`server.tls.hsts`).
    hsts: Option<HeaderValue>,
}

impl Gateway {
    /// A proxy serving `app`, reaching its upstreams through `pools`.
    pub(crate) fn new(app: Arc<App>, pools: Arc<UpstreamPools>) -> Self {
        let hsts = app
            .config()
            .server
            .tls
            .as_ref()
            .and_then(|t| t.hsts.clone());
        Self {
            app,
            listener: Listener::Proxy,
            pools,
            hsts,
        }
    }

    /// Something of `app` on a listener of its own: the sessions admin, or the forward-auth
    /// endpoint.
    pub(crate) fn only(app: Arc<App>, listener: Listener, pools: Arc<UpstreamPools>) -> Self {
        Self {
            app,
            listener,
            pools,
            hsts: None,
        }
    }
}

/// Per-request state carried between phases.
pub(crate) struct RequestCtx {
    started: Instant,
    request_id: HeaderValue,
    /// Sent with every answer on this connection when it is TLS.
    hsts: Option<HeaderValue>,
    /// Set first thing in `request_filter`.
    client: ClientAddr,
    route: Option<Arc<str>>,
    /// `None` until decided: a request that ends before is logged as undecided.
    outcome: Option<Outcome>,
    source: Option<LookupSource>,
    plan: Option<ForwardPlan>,
    /// Servers this request has tried to connect to, in order (inline: most try one).
    tried: SmallVec<[std::net::SocketAddr; 2]>,
    /// The chosen server, as an index into the upstream's `servers`.
    server: usize,
    /// Set when no server could be chosen: the answer `fail_to_proxy` gives.
    failure: Option<UpstreamFailure>,
    /// When the last server was chosen, and how long it took to send its response head.
    upstream_started: Option<Instant>,
    upstream_latency: Option<std::time::Duration>,
    /// The W3C trace the request was forwarded in (set when it is forwarded).
    trace: Option<TraceContext>,
    /// When the authentication decision started, and how long it took: timed only for the
    /// exported spans, the one place it is read.
    decided: Option<(Instant, std::time::Duration)>,
}

#[async_trait]
impl ProxyHttp for Gateway {
    /// Boxed: Pingora keeps the context in its per-request futures and moves them several times
    /// per request; a pointer moves for less than the whole context.
    type CTX = Box<RequestCtx>;

    fn new_ctx(&self) -> Box<RequestCtx> {
        Box::new(RequestCtx {
            started: Instant::now(),
            request_id: HeaderValue::from_static("unknown"),
            hsts: None,
            client: ClientAddr {
                peer: None,
                trusted_peer: false,
                ip: None,
                scheme: "http",
            },
            route: None,
            outcome: None,
            source: None,
            plan: None,
            tried: SmallVec::new(),
            server: 0,
            failure: None,
            upstream_started: None,
            upstream_latency: None,
            trace: None,
            decided: None,
        })
    }

    async fn request_filter(&self, session: &mut Session, ctx: &mut Self::CTX) -> Result<bool> {
        // Pipelined requests are answered in order, each decided on its own (Pingora's default
        // answers the first and silently drops the rest).
        session.as_downstream_mut().set_pipelining_enabled(true);
        let peer = session
            .client_addr()
            .and_then(|a| a.as_inet())
            .map(|a| a.ip());
        let tls = session.digest().is_some_and(|d| d.ssl_digest.is_some());
        if tls {
            ctx.hsts = self.hsts.clone();
        }
        ctx.client = self.app.client(&session.req_header().headers, peer, tls);
        ctx.request_id = access::request_id(&session.req_header().headers);
        let request = session.req_header();
        match Rewrite::of(request.raw_path(), &request.headers) {
            Ok(rewrite) => upstream_headers::canonicalise(session.req_header_mut(), rewrite)?,
            Err(refusal) => {
                ctx.route = Some(self.app.default_route_name());
                ctx.outcome = Some(Outcome::BadRequest);
                // Its framing may be what was wrong: never read another request after it.
                session.set_keepalive(None);
                let response = json_response(StatusCode::BAD_REQUEST, refusal.body());
                respond::write(session, response, ctx).await?;
                return Ok(true);
            }
        }
        let served = match self.app.route(self.listener, session.req_header()) {
            Route::Served(served) => served,
            Route::Proxied(route) => {
                let deciding = self.app.spans().is_some().then(Instant::now);
                let decision = self
                    .app
                    .decide(route, session.req_header(), &ctx.client)
                    .await;
                ctx.decided = deciding.map(|started| (started, started.elapsed()));
                ctx.route = Some(decision.route);
                ctx.outcome = Some(decision.outcome);
                ctx.source = decision.source;
                return match decision.action {
                    Action::Forward(plan) => {
                        ctx.plan = Some(plan);
                        Ok(false)
                    }
                    Action::Respond(response) => {
                        respond::write(session, response, ctx).await?;
                        Ok(true)
                    }
                };
            }
        };
        ctx.route = Some(Arc::from(served.name()));
        let body = match served.body_limit() {
            Some(limit) => respond::read_body(session, limit).await?,
            None => Body::Read(Vec::new()),
        };
        let (outcome, response) = self
            .app
            .answer(served, session.req_header(), body, &ctx.client)
            .await;
        ctx.outcome = Some(outcome);
        respond::write(session, response, ctx).await?;
        Ok(true)
    }

    async fn upstream_peer(
        &self,
        _session: &mut Session,
        ctx: &mut Self::CTX,
    ) -> Result<Box<HttpPeer>> {
        let pool = ctx
            .plan
            .as_ref()
            .and_then(|p| self.pools.pool(&p.upstream))
            .ok_or_else(|| Error::explain(InternalError, "no upstream decided"))?;
        match pool.choose(ctx.client.ip, &ctx.tried) {
            Ok(chosen) => {
                ctx.upstream_started = Some(Instant::now());
                ctx.tried.push(chosen.addr);
                ctx.server = chosen.server;
                Ok(Box::new(chosen.peer))
            }
            Err(none) => {
                ctx.failure = Some(none.failure());
                Error::e_explain(ConnectNoRoute, "no upstream server to try")
            }
        }
    }

    fn fail_to_connect(
        &self,
        _session: &mut Session,
        peer: &HttpPeer,
        ctx: &mut Self::CTX,
        mut e: Box<Error>,
    ) -> Box<Error> {
        if let Some(pool) = ctx.plan.as_ref().and_then(|p| self.pools.pool(&p.upstream)) {
            pool.connect_failed(inet_of(&peer._address));
            // Nothing of the request reached the server: another one may have it.
            if ctx.tried.len() <= pool.retries() {
                e.set_retry(true);
            }
        }
        e
    }

    async fn upstream_request_filter(
        &self,
        _session: &mut Session,
        upstream_request: &mut RequestHeader,
        ctx: &mut Self::CTX,
    ) -> Result<()> {
        let Some(plan) = &ctx.plan else {
            return Error::e_explain(InternalError, "no forwarding plan");
        };
        let mut edits = forwarding::upstream_edits(
            &upstream_request.headers,
            plan,
            &ctx.client,
            self.app.config(),
            self.app.strip_list(),
        );
        if let Some(assertion) = self.app.assertion(plan) {
            edits.insert.push(assertion);
        }
        if let Some(host) = forwarding::upstream_host(&plan.upstream, ctx.server) {
            edits.insert.push((http::header::HOST, host));
        }
        edits.insert.push((REQUEST_ID, ctx.request_id.clone()));
        let trace = TraceContext::of(&upstream_request.headers);
        edits.insert.push((TRACEPARENT, trace.traceparent.clone()));
        match &trace.tracestate {
            Some(state) => edits.insert.push((TRACESTATE, state.clone())),
            // Not without the valid `traceparent` it belongs to.
            None if upstream_request.headers.contains_key(TRACESTATE) => {
                edits.remove.push(TRACESTATE);
            }
            None => {}
        }
        ctx.trace = Some(trace);
        upstream_headers::apply(upstream_request, edits)
    }

    async fn response_filter(
        &self,
        _session: &mut Session,
        upstream_response: &mut ResponseHeader,
        ctx: &mut Self::CTX,
    ) -> Result<()> {
        ctx.upstream_latency = ctx.upstream_started.map(|t| t.elapsed());
        // The upstream's `Connection` is about its own connection to Gatehouse; Pingora writes
        // the client's in its place on every answer but a 1xx. Removed first, its slot in the
        // header map (sized to what the upstream sent) takes the request ID instead of the map
        // and its case map growing (callgrind: about 0.9k instructions a request).
        if !upstream_response.status.is_informational() {
            upstream_response.remove_header(&http::header::CONNECTION);
        }
        self.app
            .metrics()
            .upstream_status(upstream_response.status.as_u16());
        if let Some(plan) = &ctx.plan {
            for cookie in &plan.set_cookies {
                upstream_response.append_header(http::header::SET_COOKIE, cookie.as_str())?;
            }
        }
        respond::stamp(upstream_response, ctx)
    }

    async fn fail_to_proxy(
        &self,
        session: &mut Session,
        e: &Error,
        ctx: &mut Self::CTX,
    ) -> FailToProxy {
        let failure = ctx.failure.or(match (e.etype(), e.esource()) {
            (HTTPStatus(_), _) => None,
            (etype, ErrorSource::Upstream) => Some(upstream_failure(etype)),
            _ => None,
        });
        if let Some(failure) = failure {
            self.app
                .metrics()
                .upstream_failures
                .with_label_values(&[failure.label()])
                .inc();
        }
        let response = match (failure, e.etype(), e.esource()) {
            (Some(failure), _, _) => Some(failure.response()),
            (None, HTTPStatus(code), _) => Some(status_answer(*code)),
            (None, WriteError | ReadError | ConnectionClosed, ErrorSource::Downstream) => None,
            (None, _, ErrorSource::Downstream) => Some(status_answer(400)),
            (None, _, _) => Some(status_answer(500)),
        };
        let code = response.as_ref().map_or(0, |r| r.status().as_u16());
        if let Some(mut response) = response {
            response
                .headers_mut()
                .insert(http::header::CONNECTION, HeaderValue::from_static("close"));
            if let Err(write_error) = respond::write(session, response, ctx).await {
                tracing::debug!(error = %write_error, "could not send the error response");
            }
        }
        FailToProxy {
            error_code: code,
            can_reuse_downstream: false,
        }
    }

    async fn logging(&self, session: &mut Session, _e: Option<&Error>, ctx: &mut Self::CTX) {
        let status = session.response_written().map_or(0, |r| r.status.as_u16());
        let req = session.req_header();
        let route = ctx.route.as_deref().unwrap_or("none");
        let outcome = ctx.outcome.unwrap_or(Outcome::Undecided);
        let access = self.app.access_log();
        access.count(route, outcome);
        access.write(|| access_record(session, ctx, route, outcome, status));
        if let Some(sink) = self.app.spans() {
            record_spans(sink, ctx, req.method.as_str(), req.uri.path(), status);
        }
    }
}

/// A finished request's access line, from the session and what `ctx` recorded.
fn access_record<'a>(
    session: &'a Session,
    ctx: &'a RequestCtx,
    route: &'a str,
    outcome: Outcome,
    status: u16,
) -> AccessRecord<'a> {
    let (bytes_in, bytes_out) = (session.body_bytes_read(), session.body_bytes_sent());
    let req = session.req_header();
    let text = |name: http::header::HeaderName| req.headers.get(name).and_then(|v| v.to_str().ok());
    let record = ctx
        .plan
        .as_ref()
        .and_then(|p| p.session.as_ref())
        .map(|s| &**s);
    AccessRecord {
        request_id: ctx.request_id.to_str().unwrap_or("unknown"),
        method: req.method.as_str(),
        path: req.uri.path(),
        protocol: version_name(req.version),
        client_ip: ctx.client.ip,
        user_id: record.map(|s| s.user_id()),
        session_id: record.map(|s| s.session_id()),
        user_agent: text(http::header::USER_AGENT),
        referer: text(http::header::REFERER),
        route,
        outcome,
        source: ctx.source,
        status,
        bytes_in,
        bytes_out,
        upstream: ctx.tried.last().copied(),
        upstream_latency: ctx.upstream_latency,
        trace_id: ctx.trace.as_ref().map(|t| t.trace_id()),
        latency: ctx.started.elapsed(),
    }
}

/// The spans of a forwarded request, from the times `ctx` recorded: the request (server span,
/// child of the caller's), the authentication decision (with the layer that answered and
/// whether the session was refreshed) and the upstream call (client span, whose id is the parent
/// the upstream received in `traceparent`).
fn record_spans(sink: &SpanSink, ctx: &RequestCtx, method: &str, path: &str, status: u16) {
    use serde_json::json;
    let Some(trace) = &ctx.trace else {
        return;
    };
    let now = (Instant::now(), SystemTime::now());
    let wall = |t: Instant| now.1 - now.0.saturating_duration_since(t);
    let request_span = new_span_id();
    let span =
        |span_id: String, parent: Option<String>, name, kind, start, end, attributes| SpanRecord {
            trace_id: trace.trace_id().to_owned(),
            span_id,
            parent_span_id: parent,
            name,
            kind,
            start,
            end,
            attributes,
        };
    sink.record(span(
        request_span.clone(),
        trace.caller_span_id.clone(),
        "gatehouse.request",
        SpanKind::Server,
        wall(ctx.started),
        now.1,
        vec![
            ("http.request.method", json!(method)),
            ("url.path", json!(path)),
            ("http.route", json!(ctx.route.as_deref().unwrap_or("none"))),
            ("http.response.status_code", json!(status)),
            (
                "gatehouse.outcome",
                json!(ctx.outcome.unwrap_or(Outcome::Undecided).as_str()),
            ),
        ],
    ));
    if let Some((started, took)) = ctx.decided {
        let source = ctx.source.map_or("none", LookupSource::as_str);
        sink.record(span(
            new_span_id(),
            Some(request_span.clone()),
            "gatehouse.authenticate",
            SpanKind::Internal,
            wall(started),
            wall(started) + took,
            vec![
                ("gatehouse.session.source", json!(source)),
                (
                    "gatehouse.session.refreshed",
                    json!(ctx.plan.as_ref().is_some_and(|p| !p.set_cookies.is_empty())),
                ),
            ],
        ));
    }
    if let Some(started) = ctx.upstream_started {
        let end = ctx.upstream_latency.map_or(now.1, |l| wall(started) + l);
        let server = ctx.tried.last().map(|a| a.to_string()).unwrap_or_default();
        sink.record(span(
            trace.upstream_span_id().to_owned(),
            Some(request_span),
            "gatehouse.upstream",
            SpanKind::Client,
            wall(started),
            end,
            vec![
                ("server.address", json!(server)),
                ("http.response.status_code", json!(status)),
            ],
        ));
    }
}

/// `HTTP/1.1` and the like, for the access log.
fn version_name(version: http::Version) -> &'static str {
    match version {
        http::Version::HTTP_09 => "HTTP/0.9",
        http::Version::HTTP_10 => "HTTP/1.0",
        http::Version::HTTP_2 => "HTTP/2.0",
        http::Version::HTTP_3 => "HTTP/3.0",
        _ => "HTTP/1.1",
    }
}

/// What the client is told when the upstream gave no answer, by the proxy's error type.
fn upstream_failure(etype: &ErrorType) -> UpstreamFailure {
    match etype {
        ConnectTimedout | ReadTimedout | WriteTimedout | TLSHandshakeTimedout => {
            UpstreamFailure::TimedOut
        }
        ConnectRefused | ConnectNoRoute | ConnectError | ConnectProxyFailure => {
            UpstreamFailure::Unreachable
        }
        TLSHandshakeFailure | InvalidCert => UpstreamFailure::Tls,
        _ => UpstreamFailure::Failed,
    }
}

/// A JSON answer for an HTTP status the proxy itself decided.
fn status_answer(code: u16) -> Response<Bytes> {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_GATEWAY);
    let body = match code {
        502 => r#"{"error":"bad_gateway"}"#,
        504 => r#"{"error":"gateway_timeout"}"#,
        400..=499 => r#"{"error":"bad_request"}"#,
        _ => r#"{"error":"internal_error"}"#,
    };
    json_response(status, body)
}
