//! Small helpers for the answers Gatehouse writes itself: JSON bodies, `Set-Cookie` headers,
//! the fail-closed 503, Better Auth's `SESSION_NOT_FRESH`, the answers when the upstream gives
//! none, and reading the request's cookies.

use bytes::Bytes;
use http::request::Parts;
use http::{header, HeaderValue, Response, StatusCode};
use smallvec::SmallVec;

/// `value` as a JSON response with `no-store` caching; a value that cannot be serialised (none
/// of Gatehouse's can) is a 500, never an empty 200.
pub(crate) fn json<T: serde::Serialize>(status: StatusCode, value: &T) -> Response<Bytes> {
    match serde_json::to_vec(value) {
        Ok(body) => {
            let mut response = json_response(status, "");
            *response.body_mut() = Bytes::from(body);
            response
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot serialise an answer");
            json_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                r#"{"error":"internal_error"}"#,
            )
        }
    }
}

/// A JSON response with `no-store` caching.
pub(crate) fn json_response(status: StatusCode, body: &'static str) -> Response<Bytes> {
    let mut response = Response::new(Bytes::from_static(body.as_bytes()));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        http::HeaderValue::from_static("no-store"),
    );
    response
}

/// The request's `Cookie` header values that are valid text (usually one: no allocation).
pub(crate) fn cookie_headers(req: &Parts) -> SmallVec<[&str; 2]> {
    req.headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect()
}

/// `response` with `Set-Cookie` headers added.
pub(crate) fn with_cookies(
    mut response: Response<Bytes>,
    set_cookies: &[String],
) -> Response<Bytes> {
    for cookie in set_cookies {
        if let Ok(value) = HeaderValue::from_str(cookie) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    response
}

/// 503 when a lookup needed the database and it did not answer.
///
/// SECURITY: fail closed; the logged error names the database, never the token.
pub(crate) fn store_unavailable(route: &str, error: &dyn std::fmt::Display) -> Response<Bytes> {
    tracing::warn!(route, error = %error, "session lookup failed");
    let mut response = json_response(
        StatusCode::SERVICE_UNAVAILABLE,
        r#"{"error":"session_store_unavailable"}"#,
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    response
}

/// Better Auth's answer when a session is too old for the action (`freshAge`).
pub(crate) fn session_not_fresh() -> Response<Bytes> {
    json_response(
        StatusCode::FORBIDDEN,
        r#"{"code":"SESSION_NOT_FRESH","message":"Session is not fresh"}"#,
    )
}

/// Why the upstream gave no answer, as the client is told (the glue decides which from the
/// proxy's error).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UpstreamFailure {
    /// Refused, no route, or no connection at all: 502 `upstream_unreachable`.
    Unreachable,
    /// Connecting, reading or writing took longer than the configured timeout: 504
    /// `upstream_timeout`.
    TimedOut,
    /// The TLS handshake or the upstream's certificate failed: 502 `upstream_tls_failed`.
    Tls,
    /// Connected, then the exchange broke (reset, closed, malformed): 502 `upstream_failed`.
    Failed,
    /// No server address is known: its host name has not resolved yet: 502
    /// `upstream_unresolved`.
    Unresolved,
    /// Every server is failing its health check: 503 `no_healthy_upstream`.
    NoHealthyServer,
}

impl UpstreamFailure {
    /// Its `kind` label on `gatehouse_upstream_failures_total`.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::Unreachable => "unreachable",
            Self::TimedOut => "timeout",
            Self::Tls => "tls",
            Self::Failed => "failed",
            Self::Unresolved => "unresolved",
            Self::NoHealthyServer => "no_healthy_server",
        }
    }

    /// The JSON answer for it.
    pub(crate) fn response(self) -> Response<Bytes> {
        let (status, body) = match self {
            Self::Unreachable => (
                StatusCode::BAD_GATEWAY,
                r#"{"error":"upstream_unreachable"}"#,
            ),
            Self::TimedOut => (
                StatusCode::GATEWAY_TIMEOUT,
                r#"{"error":"upstream_timeout"}"#,
            ),
            Self::Tls => (
                StatusCode::BAD_GATEWAY,
                r#"{"error":"upstream_tls_failed"}"#,
            ),
            Self::Failed => (StatusCode::BAD_GATEWAY, r#"{"error":"upstream_failed"}"#),
            Self::Unresolved => (
                StatusCode::BAD_GATEWAY,
                r#"{"error":"upstream_unresolved"}"#,
            ),
            Self::NoHealthyServer => (
                StatusCode::SERVICE_UNAVAILABLE,
                r#"{"error":"no_healthy_upstream"}"#,
            ),
        };
        json_response(status, body)
    }
}

/// The plain-HTTP listener's answer (`server.tls.redirect_http_from`): a permanent redirect to
/// the same host and target over HTTPS on `https_port` (308, so a POST stays a POST), or 400
/// when the request names no valid host.
pub(crate) fn https_redirect(
    host: Option<&HeaderValue>,
    target: &str,
    https_port: u16,
) -> Response<Bytes> {
    let host = host
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.parse::<http::uri::Authority>().ok());
    let Some(host) = host.filter(|a| !a.host().is_empty() && !a.as_str().contains('@')) else {
        return json_response(StatusCode::BAD_REQUEST, r#"{"error":"missing_host"}"#);
    };
    let port = if https_port == 443 {
        String::new()
    } else {
        format!(":{https_port}")
    };
    let target = if target.starts_with('/') { target } else { "/" };
    let location = format!("https://{}{port}{target}", host.host());
    match HeaderValue::from_str(&location) {
        Ok(location) => {
            let mut response = json_response(
                StatusCode::PERMANENT_REDIRECT,
                r#"{"error":"https_required"}"#,
            );
            response.headers_mut().insert(header::LOCATION, location);
            response
        }
        Err(_) => json_response(StatusCode::BAD_REQUEST, r#"{"error":"bad_request"}"#),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn location(host: &str, target: &str, port: u16) -> Option<String> {
        let response = https_redirect(Some(&HeaderValue::from_str(host).unwrap()), target, port);
        response
            .headers()
            .get(header::LOCATION)
            .map(|l| l.to_str().unwrap().to_string())
    }

    #[test]
    fn the_redirect_keeps_host_and_target_and_names_the_tls_port() {
        assert_eq!(
            location("app.test:8080", "/a/b?c=d", 8443).as_deref(),
            Some("https://app.test:8443/a/b?c=d")
        );
        assert_eq!(
            location("app.test", "/", 443).as_deref(),
            Some("https://app.test/")
        );
        assert_eq!(
            location("[::1]:80", "/x", 443).as_deref(),
            Some("https://[::1]/x")
        );
        let response = https_redirect(None, "/", 443);
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(location("a b", "/", 443), None, "not a host");
        assert_eq!(
            location("user@evil.test", "/", 443),
            None,
            "userinfo is no host"
        );
    }
}
