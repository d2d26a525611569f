//! The operations listener as a Pingora HTTP app: every request goes to
//! [`crate::operations::Operations`].

use std::sync::Arc;

use async_trait::async_trait;
use http::Response;
use pingora::apps::http_app::ServeHttp;
use pingora::protocols::http::ServerSession;

use crate::app::App;

/// Serves `/metrics`, `/healthz` and `/readyz`.
pub(crate) struct OperationsApp {
    app: Arc<App>,
}

impl OperationsApp {
    /// The operations endpoints of `app`.
    pub(crate) fn new(app: Arc<App>) -> Self {
        Self { app }
    }
}

#[async_trait]
impl ServeHttp for OperationsApp {
    async fn response(&self, session: &mut ServerSession) -> Response<Vec<u8>> {
        let path = session.req_header().uri.path().to_owned();
        let (mut parts, body) = self.app.operations().answer(&path).await.into_parts();
        parts
            .headers
            .insert(http::header::CONTENT_LENGTH, body.len().into());
        Response::from_parts(parts, body.to_vec())
    }
}
