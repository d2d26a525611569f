//! Header edits applied to Pingora's upstream request through its plain `http` parts.
//!
//! `RequestHeader::insert_header` parses every name again and keeps a second, case-preserving
//! name map in step with the header map: about 1,350 instructions per inserted header
//! (callgrind), the largest cost a session added to a proxied request. Moving the parts out,
//! editing the `http::HeaderMap` with names built once, and moving them back skips both. The
//! upstream then receives header names lowercase (a dozen, `Host` and `Content-Length` among
//! them, in title case), as Pingora writes them for HTTP/2 clients and Envoy for everyone,
//! instead of the client's own capitalisation; HTTP header names are case-insensitive.

use pingora::http::RequestHeader;
use pingora::prelude::*;

use crate::canonical::Rewrite;
use crate::forwarding::HeaderEdits;

/// Makes the client's request canonical in place, before anything decides on it; the upstream
/// request is built from it.
pub(crate) fn canonicalise(request: &mut RequestHeader, rewrite: Rewrite) -> Result<()> {
    if let Some(target) = rewrite.target {
        request.set_uri(target);
    }
    if let Some(host) = rewrite.host {
        request.insert_header(http::header::HOST, host)?;
    }
    if let Some(length) = rewrite.content_length {
        request.insert_header(http::header::CONTENT_LENGTH, length)?;
    }
    Ok(())
}

/// Applies `edits` to `request`, keeping its method, target, version and extensions.
pub(crate) fn apply(request: &mut RequestHeader, edits: HeaderEdits) -> Result<()> {
    // A target the URI does not reproduce (absolute-form, not UTF-8) goes upstream as received.
    let from_uri = request.uri.path_and_query().map(|p| p.as_str().as_bytes());
    let raw_target = (from_uri != Some(request.raw_path())).then(|| request.raw_path().to_vec());
    let placeholder = RequestHeader::from(http::Request::new(()).into_parts().0);
    let mut parts = http::request::Parts::from(std::mem::replace(request, placeholder));
    edits
        .apply(&mut parts.headers)
        .or_err(InvalidHTTPHeader, "too many request headers")?;
    *request = RequestHeader::from(parts);
    if let Some(raw) = raw_target {
        request.set_raw_path(&raw)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use http::{HeaderName, HeaderValue, Method};

    use super::*;

    fn request(target: &[u8]) -> RequestHeader {
        let mut request = RequestHeader::build(Method::POST, target, None).unwrap();
        request.insert_header("X-Auth-User-Id", "forged").unwrap();
        request.insert_header("User-Agent", "curl").unwrap();
        request
    }

    fn edits() -> HeaderEdits {
        let id = HeaderName::from_static("x-auth-user-id");
        HeaderEdits {
            remove: vec![id.clone()],
            insert: vec![(id, HeaderValue::from_static("u1"))],
        }
    }

    #[test]
    fn edits_replace_headers_and_keep_the_request_line() {
        let mut req = request(b"/app/x?y=1");
        req.extensions_mut().insert(7u8);
        apply(&mut req, edits()).unwrap();
        assert_eq!(req.method, Method::POST);
        assert_eq!(req.raw_path(), b"/app/x?y=1");
        assert_eq!(req.extensions.get::<u8>(), Some(&7));
        assert_eq!(req.headers.get_all("x-auth-user-id").iter().count(), 1);
        assert_eq!(req.headers["x-auth-user-id"], "u1");
        assert_eq!(req.headers["user-agent"], "curl");
        let mut wire = Vec::new();
        req.header_to_h1_wire(&mut wire);
        let wire = String::from_utf8(wire).unwrap();
        assert!(wire.contains("user-agent: curl\r\n"), "{wire}");
        assert!(wire.contains("x-auth-user-id: u1\r\n"), "{wire}");
        assert!(!wire.contains("forged"), "{wire}");
    }

    #[test]
    fn targets_the_uri_does_not_reproduce_go_upstream_as_received() {
        for target in [&b"http://example.com/app/x"[..], b"/caf\xe9"] {
            let mut req = request(target);
            apply(&mut req, edits()).unwrap();
            assert_eq!(req.raw_path(), target);
        }
    }
}
