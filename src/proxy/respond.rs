//! Writing a response built by the domain code (`http::Response<Bytes>`) to a Pingora session,
//! and reading a bounded request body for the endpoints Gatehouse answers itself.

use bytes::Bytes;
use http::Response;
use pingora::http::ResponseHeader;
use pingora::prelude::*;

use super::RequestCtx;
use crate::app::Body;

/// Writes `response` with an exact `Content-Length` and the headers every answer carries
/// ([`stamp`]), keeping the connection reusable.
pub(crate) async fn write(
    session: &mut Session,
    response: Response<Bytes>,
    ctx: &RequestCtx,
) -> Result<()> {
    let (parts, body) = response.into_parts();
    let mut header = ResponseHeader::build(parts.status, Some(parts.headers.len() + 3))?;
    for (name, value) in &parts.headers {
        header.append_header(name.clone(), value.clone())?;
    }
    header.insert_header(http::header::CONTENT_LENGTH, body.len().to_string())?;
    stamp(&mut header, ctx)?;
    let has_body = !body.is_empty();
    session
        .write_response_header(Box::new(header), !has_body)
        .await?;
    if has_body {
        session.write_response_body(Some(body), true).await?;
    }
    Ok(())
}

/// Adds what every answer carries, the upstream's and Gatehouse's own alike: the request ID,
/// and over TLS `Strict-Transport-Security` when configured.
pub(crate) fn stamp(header: &mut ResponseHeader, ctx: &RequestCtx) -> Result<()> {
    // The name as a static string: Pingora takes it as is for its case map, where a `HeaderName`
    // is copied into a new buffer first (callgrind: a few hundred instructions a response).
    header.insert_header(crate::access::REQUEST_ID_NAME, ctx.request_id.clone())?;
    if let Some(hsts) = &ctx.hsts {
        header.insert_header(http::header::STRICT_TRANSPORT_SECURITY, hsts.clone())?;
    }
    Ok(())
}

/// The request body, read up to `limit` bytes and no further.
pub(crate) async fn read_body(session: &mut Session, limit: usize) -> Result<Body> {
    let mut body = Vec::new();
    while let Some(chunk) = session.read_request_body().await? {
        if body.len() + chunk.len() > limit {
            return Ok(Body::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Body::Read(body))
}
