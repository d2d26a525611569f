//! The Pingora glue: the only place with `impl ProxyHttp`. Each phase extracts plain inputs,
//! calls the domain code, and applies the value it returns.
//!
//! ```text
//! request_filter ──> App::serve (an endpoint Gatehouse answers: get-session, sign-out, ...)
//!                └─> App::decide ──> Respond(response)   write it, stop
//!                                └─> Forward{upstream, session}
//! upstream_peer            the route's upstream address
//! upstream_request_filter  forwarding::upstream_edits (strip client identity headers, add ours)
//! response_filter          Set-Cookie from the plan (refreshed session)
//! fail_to_proxy            502/504 as JSON
//! ```

mod background;
mod echo;
mod respond;

use std::net::IpAddr;
use std::sync::Arc;

use async_trait::async_trait;
use http::StatusCode;
use pingora::http::{RequestHeader, ResponseHeader};
use pingora::prelude::*;
use pingora::proxy::FailToProxy;

pub use background::Housekeeping;
pub use echo::EchoApp;

use crate::app::{App, Decision, ForwardPlan};
use crate::routing::json_response;
use crate::{endpoints, forwarding};

/// The gateway as a Pingora proxy.
pub struct Gateway {
    app: Arc<App>,
}

impl Gateway {
    /// A proxy serving `app`.
    pub fn new(app: Arc<App>) -> Self {
        Self { app }
    }
}

/// Per-request state carried between phases.
#[derive(Default)]
pub struct RequestCtx {
    plan: Option<ForwardPlan>,
    peer: Option<IpAddr>,
}

#[async_trait]
impl ProxyHttp for Gateway {
    type CTX = RequestCtx;

    fn new_ctx(&self) -> RequestCtx {
        RequestCtx::default()
    }

    async fn request_filter(&self, session: &mut Session, ctx: &mut RequestCtx) -> Result<bool> {
        ctx.peer = session
            .client_addr()
            .and_then(|a| a.as_inet())
            .map(|a| a.ip());
        if let Some(endpoint) = self.app.endpoint(session.req_header()) {
            let body = if endpoint.changes_state() {
                match respond::read_body(session, endpoints::MAX_BODY).await? {
                    Some(body) => body,
                    None => {
                        let too_large = json_response(
                            StatusCode::PAYLOAD_TOO_LARGE,
                            r#"{"error":"body_too_large"}"#,
                        );
                        respond::write(session, too_large).await?;
                        return Ok(true);
                    }
                }
            } else {
                Vec::new()
            };
            let response = self
                .app
                .serve(endpoint, session.req_header(), &body, ctx.peer)
                .await;
            respond::write(session, response).await?;
            return Ok(true);
        }
        match self.app.decide(session.req_header(), ctx.peer).await {
            Decision::Forward(plan) => {
                ctx.plan = Some(plan);
                Ok(false)
            }
            Decision::Respond(response) => {
                respond::write(session, response).await?;
                Ok(true)
            }
        }
    }

    async fn upstream_peer(
        &self,
        _session: &mut Session,
        ctx: &mut RequestCtx,
    ) -> Result<Box<HttpPeer>> {
        let addr = ctx
            .plan
            .as_ref()
            .map(|p| p.upstream)
            .ok_or_else(|| Error::explain(InternalError, "no upstream decided"))?;
        let mut peer = HttpPeer::new(addr, false, String::new());
        peer.options.connection_timeout = Some(self.app.config.proxy.connect_timeout);
        peer.options.read_timeout = Some(self.app.config.proxy.read_timeout);
        Ok(Box::new(peer))
    }

    async fn upstream_request_filter(
        &self,
        _session: &mut Session,
        upstream_request: &mut RequestHeader,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        let Some(plan) = &ctx.plan else {
            return Error::e_explain(InternalError, "no forwarding plan");
        };
        let edits =
            forwarding::upstream_edits(&upstream_request.headers, plan, ctx.peer, &self.app.config);
        for name in &edits.remove {
            upstream_request.remove_header(name);
        }
        for (name, value) in edits.insert {
            upstream_request.insert_header(name, value)?;
        }
        Ok(())
    }

    async fn response_filter(
        &self,
        _session: &mut Session,
        upstream_response: &mut ResponseHeader,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        if let Some(plan) = &ctx.plan {
            for cookie in &plan.set_cookies {
                upstream_response.append_header(http::header::SET_COOKIE, cookie.as_str())?;
            }
        }
        Ok(())
    }

    async fn fail_to_proxy(
        &self,
        session: &mut Session,
        e: &Error,
        _ctx: &mut RequestCtx,
    ) -> FailToProxy {
        let code = match e.etype() {
            HTTPStatus(code) => *code,
            _ => match e.esource() {
                ErrorSource::Upstream => 502,
                ErrorSource::Downstream => match e.etype() {
                    WriteError | ReadError | ConnectionClosed => 0,
                    _ => 400,
                },
                ErrorSource::Internal | ErrorSource::Unset => 500,
            },
        };
        if code > 0 {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_GATEWAY);
            let body = match code {
                502 => r#"{"error":"bad_gateway"}"#,
                504 => r#"{"error":"gateway_timeout"}"#,
                400..=499 => r#"{"error":"bad_request"}"#,
                _ => r#"{"error":"internal_error"}"#,
            };
            let mut response = json_response(status, body);
            response.headers_mut().insert(
                http::header::CONNECTION,
                http::HeaderValue::from_static("close"),
            );
            if let Err(write_error) = respond::write(session, response).await {
                tracing::debug!(error = %write_error, "could not send the error response");
            }
        }
        FailToProxy {
            error_code: code,
            can_reuse_downstream: false,
        }
    }
}
