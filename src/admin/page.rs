//! The dashboard page and its assets, embedded in the binary and served with a strict
//! `Content-Security-Policy` (no inline code, nothing from elsewhere).

use bytes::Bytes;
use http::{header, HeaderValue, Response, StatusCode};

const INDEX: &str = include_str!("assets/index.html");
const SCRIPT: &str = include_str!("assets/app.js");
const STYLE: &str = include_str!("assets/app.css");

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The asset called `name`, if there is one.
pub fn asset(name: &str) -> Option<&'static str> {
    ["app.js", "app.css"].into_iter().find(|a| *a == name)
}

fn respond(body: &'static str, content_type: &'static str) -> Response<Bytes> {
    let mut response = Response::new(Bytes::from_static(body.as_bytes()));
    *response.status_mut() = StatusCode::OK;
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The dashboard page. It must be requested as `<mount>/` so its relative URLs resolve.
pub fn index() -> Response<Bytes> {
    respond(INDEX, "text/html; charset=utf-8")
}

/// One of the page's assets (`name` from [`asset`]).
pub fn serve(name: &str) -> Response<Bytes> {
    match name {
        "app.js" => respond(SCRIPT, "text/javascript; charset=utf-8"),
        _ => respond(STYLE, "text/css; charset=utf-8"),
    }
}
