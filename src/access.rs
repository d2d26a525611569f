//! One access-log line and one `gatehouse_requests_total` count per request, and the request
//! ID that ties a request's log lines to the upstream's.

use std::net::SocketAddr;
use std::time::Duration;

use http::{HeaderMap, HeaderName, HeaderValue};
use rand::Rng;

use std::sync::Arc;

use crate::auth::validator::LookupSource;
use crate::decision::Outcome;
use crate::metrics::Metrics;
use crate::text::{
    millis, push_decimal, push_ip, push_millis, push_socket_addr, shared_header_value,
    write_lower_hex,
};

/// The header carrying the request ID, to the upstream and back to the client.
pub(crate) const REQUEST_ID: HeaderName = HeaderName::from_static(REQUEST_ID_NAME);
/// [`REQUEST_ID`]'s name as text, for Pingora's response headers.
pub(crate) const REQUEST_ID_NAME: &str = "x-request-id";

/// The client's `X-Request-Id` when it is short and plain (letters, digits, `-`, `_`, `.`, at
/// most 128), else a fresh random one.
pub(crate) fn request_id(headers: &HeaderMap) -> HeaderValue {
    let sent = headers.get(REQUEST_ID).filter(|v| {
        let b = v.as_bytes();
        !b.is_empty()
            && b.len() <= 128
            && b.iter()
                .all(|c| c.is_ascii_alphanumeric() || b"-_.".contains(c))
    });
    match sent {
        Some(v) => v.clone(),
        None => {
            let mut id = [0; 32];
            write_lower_hex(&mut id, &rand::thread_rng().gen::<u128>().to_be_bytes());
            shared_header_value(id)
        }
    }
}

/// What the access log records about a request. Never the query string, a cookie or a token.
#[derive(Debug)]
pub(crate) struct AccessRecord<'a> {
    pub(crate) request_id: &'a str,
    pub(crate) method: &'a str,
    /// The path without its query string.
    pub(crate) path: &'a str,
    /// `HTTP/1.1`, `HTTP/2.0`.
    pub(crate) protocol: &'a str,
    /// The client as `ClientAddr` computed it (behind trusted proxies, the forwarded address).
    pub(crate) client_ip: Option<std::net::IpAddr>,
    /// The session's user and session ids (never its token), when the request had one.
    pub(crate) user_id: Option<&'a str>,
    pub(crate) session_id: Option<&'a str>,
    pub(crate) user_agent: Option<&'a str>,
    pub(crate) referer: Option<&'a str>,
    pub(crate) route: &'a str,
    pub(crate) outcome: Outcome,
    pub(crate) source: Option<LookupSource>,
    /// 0 when no response was sent.
    pub(crate) status: u16,
    /// Request and response body bytes.
    pub(crate) bytes_in: usize,
    pub(crate) bytes_out: usize,
    /// The upstream server the request went to, and how long it took to answer (from the
    /// choice of server to its response head).
    pub(crate) upstream: Option<SocketAddr>,
    pub(crate) upstream_latency: Option<Duration>,
    /// The W3C trace id the request was forwarded with.
    pub(crate) trace_id: Option<&'a str>,
    pub(crate) latency: Duration,
}

/// Writes access lines and counts requests.
pub(crate) struct AccessLog {
    metrics: Arc<Metrics>,
    /// nginx's combined format instead of fields (`log.access_format`).
    combined: bool,
    /// JSON log lines (`log.json`): the fields go to `tracing` one by one.
    json: bool,
}

impl AccessLog {
    /// An access log counting into `metrics`, writing `combined` lines or fields, for `json`
    /// or human log lines.
    pub(crate) fn new(metrics: Arc<Metrics>, combined: bool, json: bool) -> Self {
        Self {
            metrics,
            combined,
            json,
        }
    }

    /// Counts a finished request in `gatehouse_requests_total`.
    pub(crate) fn count(&self, route: &str, outcome: Outcome) {
        self.metrics
            .requests
            .with_label_values(&[route, outcome.as_str()])
            .inc();
    }

    /// Writes a finished request's access line, when the log level keeps access lines: only
    /// then is `record` called to gather the line's fields.
    pub(crate) fn write<'a>(&self, record: impl FnOnce() -> AccessRecord<'a>) {
        if !tracing::enabled!(target: "gatehouse::access", tracing::Level::INFO) {
            return;
        }
        let r = &record();
        if self.combined {
            tracing::info!(target: "gatehouse::access", "{}", combined_line(r, chrono::Local::now()));
            return;
        }
        if !self.json {
            // What `tracing`'s human format writes for this event, without its cost.
            let mut line = String::with_capacity(LINE_CAPACITY);
            crate::text::push_utc_micros(&mut line, std::time::SystemTime::now());
            line.push_str("  INFO gatehouse::access: ");
            let fields = line.len();
            human_fields(r, &mut line);
            line.push('\n');
            if !crate::logging::write_plain_line(line.as_bytes()) {
                tracing::info!(target: "gatehouse::access", "{}", line[fields..].trim_end());
            }
            return;
        }
        structured(r);
    }
}

/// The access line as an event with one field per column (for JSON lines).
fn structured(r: &AccessRecord<'_>) {
    tracing::info!(
        target: "gatehouse::access",
        request_id = r.request_id,
        method = r.method,
        path = r.path,
        protocol = r.protocol,
        client_ip = r.client_ip.map(tracing::field::display),
        user_id = r.user_id,
        session_id = r.session_id,
        user_agent = r.user_agent,
        route = r.route,
        outcome = r.outcome.as_str(),
        source = r.source.map_or("none", LookupSource::as_str),
        status = r.status,
        bytes_in = r.bytes_in,
        bytes_out = r.bytes_out,
        upstream = r.upstream.map(tracing::field::display),
        upstream_ms = r.upstream_latency.map(millis),
        trace_id = r.trace_id,
        latency_ms = millis(r.latency),
    );
}

/// Room for a whole access line with a browser's user agent, so it is built in one allocation.
const LINE_CAPACITY: usize = 512;

/// Appends the access line's fields as `tracing`'s human format writes an event's fields
/// (`name=value` separated by spaces, strings quoted as `{:?}` quotes them, absent ones left
/// out), written here directly: through `tracing`'s formatter the line cost about 24k
/// instructions a request (callgrind), more than anything else a public route does.
fn human_fields(r: &AccessRecord<'_>, out: &mut String) {
    push_field(out, "request_id=", Some(r.request_id));
    push_field(out, " method=", Some(r.method));
    push_field(out, " path=", Some(r.path));
    push_field(out, " protocol=", Some(r.protocol));
    if let Some(ip) = r.client_ip {
        out.push_str(" client_ip=");
        push_ip(out, ip);
    }
    push_field(out, " user_id=", r.user_id);
    push_field(out, " session_id=", r.session_id);
    push_field(out, " user_agent=", r.user_agent);
    push_field(out, " route=", Some(r.route));
    push_field(out, " outcome=", Some(r.outcome.as_str()));
    push_field(
        out,
        " source=",
        Some(r.source.map_or("none", LookupSource::as_str)),
    );
    for (name, n) in [
        (" status=", u64::from(r.status)),
        (" bytes_in=", r.bytes_in as u64),
        (" bytes_out=", r.bytes_out as u64),
    ] {
        out.push_str(name);
        push_decimal(out, n);
    }
    if let Some(upstream) = r.upstream {
        out.push_str(" upstream=");
        push_socket_addr(out, upstream);
    }
    if let Some(latency) = r.upstream_latency {
        out.push_str(" upstream_ms=");
        push_millis(out, latency);
    }
    push_field(out, " trace_id=", r.trace_id);
    out.push_str(" latency_ms=");
    push_millis(out, r.latency);
}

/// Appends `name` and `value` quoted, when there is a value.
fn push_field(out: &mut String, name: &str, value: Option<&str>) {
    if let Some(value) = value {
        out.push_str(name);
        push_quoted(out, value);
    }
}

/// Appends `value` as `{:?}` writes it; plain text (printable ASCII without `"` or `\`)
/// without `Debug`'s character-by-character escaping.
fn push_quoted(out: &mut String, value: &str) {
    // Every byte tested, without stopping at the first that fails: a loop the compiler turns
    // into vector instructions (values are short, and nearly always plain).
    let plain = value.bytes().fold(true, |plain, b| {
        plain & (0x20..0x7f).contains(&b) & (b != b'"') & (b != b'\\')
    });
    if plain {
        out.push('"');
        out.push_str(value);
        out.push('"');
    } else {
        use std::fmt::Write;
        let _ = write!(out, "{value:?}");
    }
}

/// `r` in nginx's combined format, at `now`: `ip - user [time] "method path protocol" status
/// bytes "referer" "user-agent"`. The user is the session's user id; the path has no query
/// string (it may carry tokens).
fn combined_line<Tz: chrono::TimeZone>(r: &AccessRecord<'_>, now: chrono::DateTime<Tz>) -> String
where
    Tz::Offset: std::fmt::Display,
{
    let quoted = |v: Option<&str>| v.map_or_else(|| "-".to_string(), |v| v.replace('"', "\\x22"));
    format!(
        "{} - {} [{}] \"{} {} {}\" {} {} \"{}\" \"{}\"",
        r.client_ip
            .map_or_else(|| "-".to_string(), |ip| ip.to_string()),
        r.user_id.unwrap_or("-"),
        now.format("%d/%b/%Y:%H:%M:%S %z"),
        r.method,
        r.path,
        r.protocol,
        r.status,
        r.bytes_out,
        quoted(r.referer),
        quoted(r.user_agent),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_client_ids_are_kept_and_others_replaced() {
        let mut h = HeaderMap::new();
        h.insert(REQUEST_ID, HeaderValue::from_static("abc-123_x.y"));
        assert_eq!(request_id(&h), "abc-123_x.y");
        h.insert(REQUEST_ID, HeaderValue::from_static("has space"));
        let replaced = request_id(&h);
        assert_eq!(replaced.len(), 32);
        assert_ne!(replaced, request_id(&h), "fresh each time");
        h.insert(REQUEST_ID, HeaderValue::from_str(&"a".repeat(129)).unwrap());
        assert_eq!(request_id(&h).len(), 32);
        assert_eq!(request_id(&HeaderMap::new()).len(), 32);
    }

    #[test]
    fn combined_lines_read_as_nginx_s() {
        let record = AccessRecord {
            request_id: "r1",
            method: "GET",
            path: "/orders",
            protocol: "HTTP/1.1",
            client_ip: Some("203.0.113.9".parse().unwrap()),
            user_id: Some("user-1"),
            session_id: Some("s1"),
            user_agent: Some("curl/8 \"x\""),
            referer: None,
            route: "/",
            outcome: Outcome::Authenticated,
            source: None,
            status: 200,
            bytes_in: 0,
            bytes_out: 42,
            upstream: None,
            upstream_latency: None,
            trace_id: None,
            latency: Duration::from_millis(3),
        };
        let at = chrono::DateTime::parse_from_rfc3339("2026-12-07T10:11:12+01:00").unwrap();
        assert_eq!(
            combined_line(&record, at),
            r#"203.0.113.9 - user-1 [07/Dec/2026:10:11:12 +0100] "GET /orders HTTP/1.1" 200 42 "-" "curl/8 \x22x\x22""#
        );
    }

    /// What `tracing`'s human format writes for an event's fields (no time, level or target).
    fn tracing_writes(event: impl FnOnce()) -> String {
        let out = Arc::new(std::sync::Mutex::new(Vec::new()));
        let writer = {
            let out = out.clone();
            move || TestWriter(out.clone())
        };
        let subscriber = tracing_subscriber::fmt()
            .without_time()
            .with_level(false)
            .with_target(false)
            .with_ansi(false)
            .with_writer(writer)
            .finish();
        tracing::subscriber::with_default(subscriber, event);
        let text = String::from_utf8(out.lock().unwrap().clone()).unwrap();
        text.trim_end().to_owned()
    }

    struct TestWriter(Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for TestWriter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn human_lines_are_what_tracing_writes_for_the_same_fields() {
        let full = AccessRecord {
            request_id: "0123456789abcdef0123456789abcdef",
            method: "POST",
            path: "/orders/7",
            protocol: "HTTP/1.1",
            client_ip: Some("203.0.113.9".parse().unwrap()),
            user_id: Some("user-1"),
            session_id: Some("s1"),
            user_agent: Some("Mozilla/5.0 (X11; Linux x86_64) \"quoted\" caf\u{e9} \\ tab\t"),
            referer: None,
            route: "/orders",
            outcome: Outcome::Authenticated,
            source: Some(LookupSource::Memory),
            status: 201,
            bytes_in: 12,
            bytes_out: 4096,
            upstream: Some("[::1]:8081".parse().unwrap()),
            upstream_latency: Some(Duration::from_micros(1_234_567)),
            trace_id: Some("4bf92f3577b34da6a3ce929d0e0e4736"),
            latency: Duration::from_micros(1_500),
        };
        let sparse = AccessRecord {
            client_ip: None,
            user_id: None,
            session_id: None,
            user_agent: None,
            source: None,
            upstream: None,
            upstream_latency: None,
            trace_id: None,
            status: 0,
            latency: Duration::ZERO,
            ..full
        };
        for record in [&full, &sparse] {
            let expected = tracing_writes(|| structured(record));
            let mut written = String::new();
            human_fields(record, &mut written);
            assert_eq!(written, expected);
            assert!(expected.contains("request_id="), "{expected}");
        }
    }
}
