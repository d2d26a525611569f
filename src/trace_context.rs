//! W3C Trace Context (`traceparent`, `tracestate`): a request's trace continues through
//! Gatehouse to the upstream. A valid incoming `traceparent` keeps its trace id and flags and
//! gets Gatehouse's own span id as the new parent; a missing or malformed one starts a new
//! trace with flags `00` (not sampled: Gatehouse makes no sampling decision for the upstream,
//! even when it exports its own spans, `src/spans.rs`). `tracestate` is passed on only with a
//! valid `traceparent`, as the specification asks.

use http::{HeaderMap, HeaderName, HeaderValue};
use rand::Rng;

use crate::text::lower_hex;

pub(crate) const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
pub(crate) const TRACESTATE: HeaderName = HeaderName::from_static("tracestate");

/// The trace a request belongs to, as sent upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TraceContext {
    /// 32 lowercase hex digits.
    pub(crate) trace_id: String,
    /// The caller's span (16 hex digits), when the request continued a trace.
    pub(crate) caller_span_id: Option<String>,
    /// Gatehouse's span toward the upstream: the parent in the `traceparent` sent upstream.
    pub(crate) upstream_span_id: String,
    /// `traceparent` for the upstream: this trace, Gatehouse's span as the parent.
    pub(crate) traceparent: HeaderValue,
    /// The client's `tracestate`, if its `traceparent` was valid.
    pub(crate) tracestate: Option<HeaderValue>,
}

impl TraceContext {
    /// The trace of a request with `headers`: continued, or started.
    pub(crate) fn of(headers: &HeaderMap) -> Self {
        let mut rng = rand::thread_rng();
        let span_id = lower_hex(&(rng.gen::<u64>() | 1).to_be_bytes());
        let incoming = headers
            .get(TRACEPARENT)
            .and_then(|v| v.to_str().ok())
            .and_then(parse);
        let (trace_id, caller_span_id, flags, tracestate) = match incoming {
            Some((trace_id, parent, flags)) => (
                trace_id,
                Some(parent),
                flags,
                headers.get(TRACESTATE).cloned(),
            ),
            None => (
                lower_hex(&(rng.gen::<u128>() | 1).to_be_bytes()),
                None,
                "00".to_owned(),
                None,
            ),
        };
        let mut traceparent = String::with_capacity(55);
        for part in ["00-", &trace_id, "-", &span_id, "-", &flags] {
            traceparent.push_str(part);
        }
        let traceparent = HeaderValue::try_from(traceparent)
            .expect("hex digits and dashes are a valid header value");
        Self {
            trace_id,
            caller_span_id,
            upstream_span_id: span_id,
            traceparent,
            tracestate,
        }
    }
}

/// (trace id, parent span id, flags) of a valid version-00 `traceparent` (or a later version's first four
/// fields, as the specification allows); `None` for anything else, all-zero ids included.
fn parse(value: &str) -> Option<(String, String, String)> {
    let value = value.trim();
    let mut parts = value.split('-');
    let (version, trace_id, parent_id, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let hex = |s: &str, len: usize| {
        s.len() == len
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    let valid = hex(version, 2)
        && version != "ff"
        && (version != "00" || parts.next().is_none())
        && hex(trace_id, 32)
        && trace_id.bytes().any(|b| b != b'0')
        && hex(parent_id, 16)
        && parent_id.bytes().any(|b| b != b'0')
        && hex(flags, 2);
    valid.then(|| {
        (
            trace_id.to_string(),
            parent_id.to_string(),
            flags.to_string(),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| {
                (
                    HeaderName::from_bytes(k.as_bytes()).unwrap(),
                    HeaderValue::from_str(v).unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn a_valid_traceparent_is_continued_with_a_new_parent() {
        let incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let t = TraceContext::of(&headers(&[
            ("traceparent", incoming),
            ("tracestate", "vendor=x"),
        ]));
        assert_eq!(t.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        let sent = t.traceparent.to_str().unwrap();
        assert!(sent.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"));
        assert!(sent.ends_with("-01"));
        assert_ne!(sent, incoming, "Gatehouse's own span is the parent");
        assert_eq!(t.tracestate.unwrap(), "vendor=x");
        assert_eq!(t.caller_span_id.as_deref(), Some("00f067aa0ba902b7"));
        assert!(sent.contains(&t.upstream_span_id));
    }

    #[test]
    fn anything_else_starts_a_new_trace_without_the_tracestate() {
        for bad in [
            "",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "garbage",
        ] {
            let t = TraceContext::of(&headers(&[("traceparent", bad), ("tracestate", "v=1")]));
            assert_ne!(t.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736", "{bad}");
            assert_eq!(t.trace_id.len(), 32);
            assert!(
                parse(t.traceparent.to_str().unwrap()).is_some(),
                "a valid new one"
            );
            assert!(t.tracestate.is_none(), "{bad}");
        }
        // A later version may carry more fields.
        assert!(parse("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x").is_some());
    }
}
