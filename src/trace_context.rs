//! W3C Trace Context (`traceparent`, `tracestate`): a request's trace continues through
//! Gatehouse to the upstream. A valid incoming `traceparent` keeps its trace id and flags and
//! gets Gatehouse's own span id as the new parent; a missing or malformed one starts a new
//! trace with flags `00` (not sampled: Gatehouse makes no sampling decision for the upstream,
//! even when it exports its own spans, `src/spans.rs`). `tracestate` is passed on only with a
//! valid `traceparent`, as the specification asks.

use http::{HeaderMap, HeaderName, HeaderValue};
use rand::Rng;

use crate::text::{shared_header_value, write_lower_hex};

pub(crate) const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
pub(crate) const TRACESTATE: HeaderName = HeaderName::from_static("tracestate");

/// Where the parts of a version-00 `traceparent` (`00-<trace id>-<span id>-<flags>`) sit.
const TRACE_ID: std::ops::Range<usize> = 3..35;
const SPAN_ID: std::ops::Range<usize> = 36..52;
const FLAGS: std::ops::Range<usize> = 53..55;

/// The trace a request belongs to, as sent upstream. The trace id and Gatehouse's span id are
/// read out of the `traceparent` sent upstream, built once (one allocation a request).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TraceContext {
    /// `traceparent` for the upstream: this trace, Gatehouse's span as the parent.
    pub(crate) traceparent: HeaderValue,
    /// The caller's span (16 hex digits), when the request continued a trace.
    pub(crate) caller_span_id: Option<String>,
    /// The client's `tracestate`, if its `traceparent` was valid.
    pub(crate) tracestate: Option<HeaderValue>,
}

impl TraceContext {
    /// The trace of a request with `headers`: continued, or started.
    pub(crate) fn of(headers: &HeaderMap) -> Self {
        let mut rng = rand::thread_rng();
        let mut sent = *b"00-00000000000000000000000000000000-0000000000000000-00";
        write_lower_hex(&mut sent[SPAN_ID], &(rng.gen::<u64>() | 1).to_be_bytes());
        let incoming = headers.get(TRACEPARENT).and_then(|v| parse(v.as_bytes()));
        let (caller_span_id, tracestate) = match incoming {
            Some(incoming) => {
                sent[TRACE_ID].copy_from_slice(&incoming[TRACE_ID]);
                sent[FLAGS].copy_from_slice(&incoming[FLAGS]);
                let caller = String::from_utf8_lossy(&incoming[SPAN_ID]).into_owned();
                (Some(caller), headers.get(TRACESTATE).cloned())
            }
            None => {
                write_lower_hex(&mut sent[TRACE_ID], &(rng.gen::<u128>() | 1).to_be_bytes());
                (None, None)
            }
        };
        Self {
            traceparent: shared_header_value(sent),
            caller_span_id,
            tracestate,
        }
    }

    /// 32 lowercase hex digits.
    pub(crate) fn trace_id(&self) -> &str {
        self.part(TRACE_ID)
    }

    /// Gatehouse's span toward the upstream (16 hex digits): the parent in the `traceparent`.
    pub(crate) fn upstream_span_id(&self) -> &str {
        self.part(SPAN_ID)
    }

    fn part(&self, range: std::ops::Range<usize>) -> &str {
        std::str::from_utf8(&self.traceparent.as_bytes()[range]).expect("built from hex digits")
    }
}

/// A valid `traceparent`, trimmed: version 00 exactly as [`TRACE_ID`], [`SPAN_ID`] and
/// [`FLAGS`] place its parts, or a later version with more fields after those four, as the
/// specification allows; `None` for anything else, all-zero ids included.
fn parse(value: &[u8]) -> Option<&[u8]> {
    let value = value.trim_ascii();
    let fields = value.get(..FLAGS.end)?;
    let hex = |range: std::ops::Range<usize>| {
        fields[range]
            .iter()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
    };
    let dashes = [2, TRACE_ID.end, SPAN_ID.end]
        .iter()
        .all(|&i| fields[i] == b'-');
    let version = &fields[..2];
    let valid = dashes
        && hex(0..2)
        && version != b"ff"
        && match value.get(FLAGS.end) {
            None => true,
            Some(&b'-') => version != b"00",
            Some(_) => false,
        }
        && hex(TRACE_ID)
        && fields[TRACE_ID].iter().any(|&b| b != b'0')
        && hex(SPAN_ID)
        && fields[SPAN_ID].iter().any(|&b| b != b'0')
        && hex(FLAGS);
    valid.then_some(fields)
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
        assert_eq!(t.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
        let sent = t.traceparent.to_str().unwrap();
        assert!(sent.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"));
        assert!(sent.ends_with("-01"));
        assert_ne!(sent, incoming, "Gatehouse's own span is the parent");
        assert_eq!(t.tracestate.as_ref().unwrap(), "vendor=x");
        assert_eq!(t.caller_span_id.as_deref(), Some("00f067aa0ba902b7"));
        assert_eq!(&sent[36..52], t.upstream_span_id());
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
            assert_ne!(t.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736", "{bad}");
            assert_eq!(t.trace_id().len(), 32);
            assert!(parse(t.traceparent.as_bytes()).is_some(), "a valid new one");
            assert!(t.tracestate.is_none(), "{bad}");
        }
        // A later version may carry more fields.
        assert!(parse(b"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x").is_some());
    }
}
