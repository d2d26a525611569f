//! A total deadline for each request head, from its first byte to its blank line.
//!
//! SECURITY: Pingora times out each read of a request head on its own (60 s, or the keep-alive
//! timeout), so a client that sends one header line every few seconds holds a connection, and
//! its task, forever (slowloris). Pingora 0.9 has no hook before the head is read, so the
//! accepted connection itself is wrapped: [`HeadDeadlineApp`] hands the proxy a
//! [`HeadDeadlineStream`], which fails reads with `TimedOut` once a head has been arriving for
//! longer than `server.header_timeout`. Pingora then closes the connection.
//!
//! The wrapper sees bytes, not requests, so it tracks heads with a small state machine: the
//! first byte after a response has been written starts a head (and the clock); a line break
//! followed by an empty line (`\n\n` or `\r\n\r\n`) after some text ends it. Body bytes are
//! never timed here: a slow upload is governed by Pingora's per-read timeout.

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use async_trait::async_trait;
use pingora::apps::ServerApp;
use pingora::protocols::l4::stream::Stream as L4Stream;
use pingora::protocols::raw_connect::ProxyDigest;
use pingora::protocols::{
    GetProxyDigest, GetSocketDigest, GetTimingDigest, Peek, Shutdown, SocketDigest, Ssl,
    TimingDigest, UniqueID, UniqueIDType,
};
use pingora::protocols::{Stream, ALPN};
use pingora::server::ShutdownWatch;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

use super::proxy_header::{read_header, ProxyHeaderPolicy};

/// A [`ServerApp`] that gives `inner` every accepted connection wrapped in a
/// [`HeadDeadlineStream`].
pub(crate) struct HeadDeadlineApp<A> {
    inner: Arc<A>,
    limit: Duration,
    /// The listener accepts HTTP/2 with prior knowledge (`server.h2c`).
    h2c: bool,
    /// A plain listener whose connections start with a PROXY header (`server.proxy_protocol`):
    /// read here, when a connection first arrives (see `proxy_header`).
    proxy_header: Option<ProxyHeaderPolicy>,
}

impl<A> HeadDeadlineApp<A> {
    /// `inner` with heads limited to `limit` each; `h2c`: connections that open with the HTTP/2
    /// preface are left untimed.
    pub(crate) fn new(inner: A, limit: Duration, h2c: bool) -> Self {
        Self {
            inner: Arc::new(inner),
            limit,
            h2c,
            proxy_header: None,
        }
    }

    /// Each new connection's PROXY header is read first, under `policy`.
    pub(crate) fn with_proxy_header(mut self, policy: ProxyHeaderPolicy) -> Self {
        self.proxy_header = Some(policy);
        self
    }
}

#[async_trait]
impl<A: ServerApp + Send + Sync + 'static> ServerApp for HeadDeadlineApp<A> {
    async fn process_new(
        self: &Arc<Self>,
        stream: Stream,
        shutdown: &ShutdownWatch,
    ) -> Option<Stream> {
        let mut stream = stream;
        let first_time = !stream.as_any().is::<HeadDeadlineStream>();
        if let (true, Some(policy)) = (first_time, &self.proxy_header) {
            let Ok(mut l4) = stream.into_any().downcast::<L4Stream>() else {
                tracing::warn!("PROXY protocol on a listener that is not TCP: connection dropped");
                return None;
            };
            if let Err(error) = read_header(&mut l4, policy).await {
                tracing::info!(%error, "connection without a valid PROXY header dropped");
                return None;
            }
            stream = l4;
        }
        // A connection handed back for keep-alive is already wrapped. HTTP/2 (by ALPN) frames its
        // headers itself: the byte-level head tracking below is for HTTP/1 only.
        let stream: Stream = if !first_time || stream.selected_alpn_proto() == Some(ALPN::H2) {
            stream
        } else {
            Box::new(HeadDeadlineStream::new(stream, self.limit, self.h2c))
        };
        self.inner.process_new(stream, shutdown).await
    }

    async fn cleanup(&self) {
        self.inner.cleanup().await;
    }
}

/// Where the connection is in the current request head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HeadState {
    /// Waiting for the first byte of a head (idle time is Pingora's keep-alive timeout).
    Idle,
    /// Inside a head. `text`: a byte other than CR/LF has arrived (leading blank lines do not
    /// end a head); `line_breaks`: LFs since the last such byte (CRs do not count).
    Head { text: bool, line_breaks: u8 },
    /// The head is complete; nothing is timed until the response is written.
    Done,
    /// An HTTP/2 connection with prior knowledge (h2c): never timed here.
    Untimed,
}

impl HeadState {
    /// The state after `bytes` have been read, and whether they started a head. Goes from line
    /// break to line break (memchr), not byte by byte: this runs on every read of every request.
    fn after(self, bytes: &[u8]) -> (Self, bool) {
        let (mut text, mut line_breaks, started) = match self {
            HeadState::Idle if bytes.is_empty() => return (self, false),
            HeadState::Idle => (false, 0, true),
            HeadState::Head { text, line_breaks } => (text, line_breaks, false),
            HeadState::Done | HeadState::Untimed => return (self, false),
        };
        let mut rest = bytes;
        loop {
            // Up to the next LF (or the end): any byte but CR there is text, so that LF ends a
            // line, not the head.
            let lf = memchr::memchr(b'\n', rest);
            if rest[..lf.unwrap_or(rest.len())].iter().any(|&b| b != b'\r') {
                text = true;
                line_breaks = 0;
            }
            let Some(lf) = lf else { break };
            if text && line_breaks == 1 {
                return (HeadState::Done, started);
            }
            line_breaks = 1;
            rest = &rest[lf + 1..];
        }
        (HeadState::Head { text, line_breaks }, started)
    }
}

/// How an HTTP/2 connection with prior knowledge starts (RFC 9113, section 3.4); Pingora peeks
/// the whole preface before the first read, so that read holds all of it.
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// An accepted connection whose request heads must each arrive within a time limit.
pub(crate) struct HeadDeadlineStream {
    inner: Stream,
    limit: Duration,
    state: HeadState,
    /// Nothing has been read yet and h2c is allowed: the first bytes may be the HTTP/2 preface.
    may_be_h2c: bool,
    /// Fires at the current head's deadline; set while the state is `Head`.
    timer: Option<Pin<Box<Sleep>>>,
}

impl HeadDeadlineStream {
    fn new(inner: Stream, limit: Duration, h2c: bool) -> Self {
        Self {
            inner,
            limit,
            state: HeadState::Idle,
            may_be_h2c: h2c,
            timer: None,
        }
    }

    /// A response is being written: the next byte read starts the next head.
    fn responding(&mut self) {
        if self.state != HeadState::Untimed {
            self.state = HeadState::Idle;
        }
        self.timer = None;
    }

    fn timed_out(&self) -> io::Error {
        io::Error::new(
            io::ErrorKind::TimedOut,
            format!(
                "request head not complete within {:?} (server.header_timeout)",
                self.limit
            ),
        )
    }
}

impl fmt::Debug for HeadDeadlineStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HeadDeadlineStream")
            .field("inner", &self.inner)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl AsyncRead for HeadDeadlineStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                let read = &buf.filled()[before..];
                if std::mem::take(&mut this.may_be_h2c) && read.starts_with(H2_PREFACE) {
                    this.state = HeadState::Untimed;
                }
                let (state, started) = this.state.after(read);
                this.state = state;
                match state {
                    HeadState::Head { .. } if started => {
                        this.timer = Some(Box::pin(tokio::time::sleep(this.limit)));
                    }
                    HeadState::Head { .. } => {
                        // A trickle of bytes never reaches `Pending`: check the clock here too.
                        let expired = this
                            .timer
                            .as_ref()
                            .is_some_and(|t| t.deadline() <= Instant::now());
                        if expired {
                            return Poll::Ready(Err(this.timed_out()));
                        }
                    }
                    _ => this.timer = None,
                }
                Poll::Ready(Ok(()))
            }
            Poll::Pending => {
                let expired = this
                    .timer
                    .as_mut()
                    .is_some_and(|timer| timer.as_mut().poll(cx).is_ready());
                if expired {
                    Poll::Ready(Err(this.timed_out()))
                } else {
                    Poll::Pending
                }
            }
            ready_err => ready_err,
        }
    }
}

impl AsyncWrite for HeadDeadlineStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.responding();
        Pin::new(&mut this.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.responding();
        Pin::new(&mut this.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

// Everything else is the accepted connection's own.

#[async_trait]
impl Shutdown for HeadDeadlineStream {
    async fn shutdown(&mut self) {
        self.inner.shutdown().await;
    }
}

impl UniqueID for HeadDeadlineStream {
    fn id(&self) -> UniqueIDType {
        self.inner.id()
    }
}

impl Ssl for HeadDeadlineStream {
    fn get_ssl(&self) -> Option<&pingora::protocols::tls::TlsRef> {
        self.inner.get_ssl()
    }

    fn get_ssl_digest(&self) -> Option<Arc<pingora::protocols::tls::SslDigest>> {
        self.inner.get_ssl_digest()
    }

    fn selected_alpn_proto(&self) -> Option<pingora::protocols::ALPN> {
        self.inner.selected_alpn_proto()
    }
}

impl GetTimingDigest for HeadDeadlineStream {
    fn get_timing_digest(&self) -> Vec<Option<TimingDigest>> {
        self.inner.get_timing_digest()
    }

    fn get_read_pending_time(&self) -> Duration {
        self.inner.get_read_pending_time()
    }

    fn get_write_pending_time(&self) -> Duration {
        self.inner.get_write_pending_time()
    }
}

impl GetProxyDigest for HeadDeadlineStream {
    fn get_proxy_digest(&self) -> Option<Arc<ProxyDigest>> {
        self.inner.get_proxy_digest()
    }

    fn set_proxy_digest(&mut self, digest: ProxyDigest) {
        self.inner.set_proxy_digest(digest);
    }
}

impl GetSocketDigest for HeadDeadlineStream {
    fn get_socket_digest(&self) -> Option<Arc<SocketDigest>> {
        self.inner.get_socket_digest()
    }

    fn set_socket_digest(&mut self, digest: SocketDigest) {
        self.inner.set_socket_digest(digest);
    }
}

#[async_trait]
impl Peek for HeadDeadlineStream {
    async fn try_peek(&mut self, buf: &mut [u8]) -> io::Result<bool> {
        self.inner.try_peek(buf).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn after(chunks: &[&[u8]]) -> HeadState {
        chunks
            .iter()
            .fold(HeadState::Idle, |state, chunk| state.after(chunk).0)
    }

    #[test]
    fn a_head_ends_at_its_blank_line_in_either_spelling() {
        assert_eq!(
            after(&[b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"]),
            HeadState::Done
        );
        assert_eq!(after(&[b"GET / HTTP/1.1\nHost: a\n\n"]), HeadState::Done);
        assert_eq!(
            after(&[b"GET / HTTP/1.1\r\nHost: a\r", b"\n", b"\r", b"\nbody"]),
            HeadState::Done
        );
    }

    #[test]
    fn a_partial_head_and_leading_blank_lines_keep_the_clock_running() {
        assert!(matches!(
            after(&[b"GET / HTTP/1.1\r\nHost: a\r\n"]),
            HeadState::Head { .. }
        ));
        // RFC 9112 lets a server skip blank lines before the request line: they are no head.
        assert!(matches!(
            after(&[b"\r\n\r\n\r\n", b"GET / HTTP/1.1\r\n"]),
            HeadState::Head { .. }
        ));
    }

    /// The rule byte by byte, as RFC 9112 states it: a head ends at an empty line (LF, with
    /// CRs ignored) after a byte of text; blank lines before the request line are skipped.
    fn byte_by_byte(mut state: HeadState, bytes: &[u8]) -> HeadState {
        for &b in bytes {
            state = match state {
                HeadState::Idle | HeadState::Head { .. } => {
                    let (text, line_breaks) = match state {
                        HeadState::Head { text, line_breaks } => (text, line_breaks),
                        _ => (false, 0),
                    };
                    match b {
                        b'\n' if text && line_breaks == 1 => HeadState::Done,
                        b'\n' => HeadState::Head {
                            text,
                            line_breaks: 1,
                        },
                        b'\r' => HeadState::Head { text, line_breaks },
                        _ => HeadState::Head {
                            text: true,
                            line_breaks: 0,
                        },
                    }
                }
                done => return done,
            };
        }
        state
    }

    #[test]
    fn the_line_scan_agrees_with_the_byte_by_byte_rule_on_every_split() {
        let heads: [&[u8]; 6] = [
            b"GET / HTTP/1.1\r\nHost: a\r\n\r\nbody",
            b"GET / HTTP/1.1\nHost: a\n\n",
            b"\r\n\n\r\r\nGET / HTTP/1.1\r\nX: \r\r\n\r\r\n",
            b"GET / HTTP/1.1\r\nHost: a\r\n",
            b"\r\n\r\n",
            b"GET /\r\n\rX\n\r\n",
        ];
        for head in heads {
            for split in 0..=head.len() {
                let (first, second) = head.split_at(split);
                let scanned = HeadState::Idle.after(first).0.after(second).0;
                let expected = byte_by_byte(byte_by_byte(HeadState::Idle, first), second);
                assert_eq!(scanned, expected, "{head:?} split at {split}");
            }
        }
    }

    #[test]
    fn only_the_first_byte_after_a_response_starts_the_clock() {
        assert!(HeadState::Idle.after(b"G").1);
        assert!(!HeadState::Idle.after(b"").1);
        let (state, _) = HeadState::Idle.after(b"GE");
        assert!(!state.after(b"T /").1);
        assert_eq!(HeadState::Done.after(b"more body").0, HeadState::Done);
    }
}
