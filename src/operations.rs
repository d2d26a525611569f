//! The operations listener's endpoints: `/metrics` (Prometheus text),
//! `/healthz` (the process is up) and `/readyz` (the database answers and the proxy listener
//! accepts connections).

use std::time::Duration;

use bytes::Bytes;
use http::{header, HeaderValue, Response, StatusCode};

use std::net::SocketAddr;
use std::sync::Arc;

use crate::assertion::{Assertions, JWKS_PATH};
use crate::metrics::Metrics;
use crate::reply::json_response;

/// How long readiness waits for the database or the listener.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

use crate::store::SessionStore;

/// The operations endpoints, with only what they read.
pub(crate) struct Operations {
    store: Arc<dyn SessionStore>,
    metrics: Arc<Metrics>,
    /// The proxy listener, probed by `/readyz`.
    listen: SocketAddr,
    /// The identity assertion's keys, for `/.well-known/jwks.json`.
    assertions: Option<Arc<Assertions>>,
}

impl Operations {
    /// Operations endpoints for a gateway listening on `listen`.
    pub(crate) fn new(
        store: Arc<dyn SessionStore>,
        metrics: Arc<Metrics>,
        listen: SocketAddr,
        assertions: Option<Arc<Assertions>>,
    ) -> Self {
        Self {
            store,
            metrics,
            listen,
            assertions,
        }
    }

    /// The answer to `GET path` on the operations listener.
    pub(crate) async fn answer(&self, path: &str) -> Response<Bytes> {
        match path {
            "/metrics" => match self.metrics.render() {
                Ok(text) => {
                    let mut response = Response::new(Bytes::from(text));
                    response.headers_mut().insert(
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
                    );
                    response
                }
                // Never an empty 200: a scraper would read it as "every series gone".
                Err(e) => {
                    tracing::error!(error = %e, "cannot encode metrics");
                    json_response(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        r#"{"error":"metrics_unavailable"}"#,
                    )
                }
            },
            "/healthz" => json_response(StatusCode::OK, r#"{"status":"ok"}"#),
            "/readyz" => self.readiness().await,
            JWKS_PATH => match &self.assertions {
                Some(a) => a.jwks_response(crate::assertion::unix_now()),
                None => json_response(StatusCode::NOT_FOUND, r#"{"error":"not_found"}"#),
            },
            _ => json_response(StatusCode::NOT_FOUND, r#"{"error":"not_found"}"#),
        }
    }

    async fn readiness(&self) -> Response<Bytes> {
        let database = tokio::time::timeout(READY_TIMEOUT, self.store.ping()).await;
        if !matches!(database, Ok(Ok(()))) {
            return json_response(
                StatusCode::SERVICE_UNAVAILABLE,
                r#"{"status":"unavailable","reason":"database"}"#,
            );
        }
        let listen = self.listen;
        let proxy =
            tokio::time::timeout(READY_TIMEOUT, tokio::net::TcpStream::connect(listen)).await;
        if !matches!(proxy, Ok(Ok(_))) {
            return json_response(
                StatusCode::SERVICE_UNAVAILABLE,
                r#"{"status":"unavailable","reason":"listener"}"#,
            );
        }
        json_response(StatusCode::OK, r#"{"status":"ready"}"#)
    }
}
