//! A tiny upstream that answers every request with the request it received, as JSON: what
//! `gatehouse demo` puts behind the gateway so a newcomer can see the injected headers. With
//! `quiet` in the query it answers a fixed `ok`, so load tests measure the gateway alone.

use async_trait::async_trait;
use http::Response;
use pingora::apps::http_app::ServeHttp;
use pingora::protocols::http::ServerSession;

/// Echoes method, path and headers back as JSON.
pub(crate) struct EchoApp;

#[async_trait]
impl ServeHttp for EchoApp {
    async fn response(&self, session: &mut ServerSession) -> Response<Vec<u8>> {
        // Drain the body so the connection can be reused; its content is not echoed.
        while let Ok(Some(_)) = session.read_request_body().await {}
        let req = session.req_header();
        if req
            .uri
            .query()
            .is_some_and(|q| q.split('&').any(|p| p == "quiet"))
        {
            return Response::builder()
                .header(http::header::CONTENT_LENGTH, 3)
                .body(b"ok\n".to_vec())
                .unwrap_or_default();
        }
        let headers: serde_json::Map<String, serde_json::Value> = req
            .headers
            .iter()
            .map(|(name, value)| {
                (
                    name.to_string(),
                    String::from_utf8_lossy(value.as_bytes()).into(),
                )
            })
            .collect();
        let body = serde_json::json!({
            "method": req.method.as_str(),
            "path": req.uri.to_string(),
            "headers": headers,
        });
        let body = serde_json::to_vec_pretty(&body).expect("a serde_json::Value always serialises");
        Response::builder()
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(http::header::CONTENT_LENGTH, body.len())
            .body(body)
            .expect("a static content type and a number are valid header values")
    }
}
