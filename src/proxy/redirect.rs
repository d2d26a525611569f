//! The plain-HTTP listener beside a TLS one (`server.tls.redirect_http_from`): every request
//! gets a redirect to the same URL over HTTPS (`reply::https_redirect`).

use async_trait::async_trait;
use http::Response;
use pingora::apps::http_app::ServeHttp;
use pingora::protocols::http::ServerSession;

use crate::reply::https_redirect;

/// Redirects every request to HTTPS on `https_port`.
pub(crate) struct HttpsRedirectApp {
    pub(crate) https_port: u16,
}

#[async_trait]
impl ServeHttp for HttpsRedirectApp {
    async fn response(&self, session: &mut ServerSession) -> Response<Vec<u8>> {
        let req = session.req_header();
        let target = req.uri.path_and_query().map_or("/", |p| p.as_str());
        let (parts, body) =
            https_redirect(req.headers.get(http::header::HOST), target, self.https_port)
                .into_parts();
        let mut response = Response::from_parts(parts, body.to_vec());
        response
            .headers_mut()
            .insert(http::header::CONTENT_LENGTH, body.len().into());
        response
    }
}
