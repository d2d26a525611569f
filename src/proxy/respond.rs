//! Writing a response built by the domain code (`http::Response<Bytes>`) to a Pingora session,
//! and reading a bounded request body for the endpoints Gatehouse answers itself.

use bytes::Bytes;
use http::{HeaderValue, Response};
use pingora::http::ResponseHeader;
use pingora::prelude::*;

use crate::app::Body;

/// Writes `response` with an exact `Content-Length` and the request ID, keeping the connection
/// reusable.
pub(crate) async fn write(
    session: &mut Session,
    response: Response<Bytes>,
    request_id: &HeaderValue,
) -> Result<()> {
    let (parts, body) = response.into_parts();
    let mut header = ResponseHeader::build(parts.status, Some(parts.headers.len() + 1))?;
    for (name, value) in &parts.headers {
        header.append_header(name.clone(), value.clone())?;
    }
    header.insert_header(http::header::CONTENT_LENGTH, body.len().to_string())?;
    header.insert_header(crate::access::REQUEST_ID, request_id.clone())?;
    let has_body = !body.is_empty();
    session
        .write_response_header(Box::new(header), !has_body)
        .await?;
    if has_body {
        session.write_response_body(Some(body), true).await?;
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
