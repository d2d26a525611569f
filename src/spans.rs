//! Gatehouse's own spans, exported over OTLP/HTTP when `[tracing] otlp_endpoint` is set (off by
//! default: then nothing here runs). Each request's spans are built once it is done, from the
//! times the glue recorded, and handed to a bounded queue that never blocks a request (a full
//! queue drops the span and counts it); a background task posts them in batches.
//!
//! Encoded as OTLP/HTTP JSON (the protocol's JSON mapping, which collectors accept on
//! `/v1/traces`) with serde_json and posted with the reqwest client Gatehouse already has,
//! rather than through the opentelemetry-otlp crate, which would bring a second HTTP client
//! stack and runtime for what is one POST of a few spans.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use tokio::sync::mpsc;

/// OTLP span kinds used here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SpanKind {
    Internal = 1,
    Server = 2,
    Client = 3,
}

/// One finished span.
#[derive(Debug, Clone)]
pub(crate) struct SpanRecord {
    /// 32 hex digits.
    pub(crate) trace_id: String,
    /// 16 hex digits.
    pub(crate) span_id: String,
    pub(crate) parent_span_id: Option<String>,
    pub(crate) name: &'static str,
    pub(crate) kind: SpanKind,
    pub(crate) start: SystemTime,
    pub(crate) end: SystemTime,
    pub(crate) attributes: Vec<(&'static str, Value)>,
}

/// A new random span id.
pub(crate) fn new_span_id() -> String {
    use rand::Rng;
    format!("{:016x}", rand::thread_rng().gen::<u64>() | 1)
}

/// The queue requests hand their spans to.
pub(crate) struct SpanSink {
    queue: mpsc::Sender<SpanRecord>,
    dropped: Arc<AtomicU64>,
}

/// The exporter's end of a [`SpanSink`].
pub(crate) struct SpanQueue {
    rx: mpsc::Receiver<SpanRecord>,
    dropped: Arc<AtomicU64>,
}

impl SpanSink {
    /// A sink with room for `capacity` spans, and the receiving end for [`export`].
    pub(crate) fn new(capacity: usize) -> (Self, SpanQueue) {
        let (queue, rx) = mpsc::channel(capacity);
        let dropped = Arc::new(AtomicU64::new(0));
        (
            Self {
                queue,
                dropped: Arc::clone(&dropped),
            },
            SpanQueue { rx, dropped },
        )
    }

    /// Queues `span`, or drops it when the queue is full (never waits).
    pub(crate) fn record(&self, span: SpanRecord) {
        if self.queue.try_send(span).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Posts the spans from `queue` to `endpoint` every `interval` (or as soon as 512 are waiting),
/// until the sink is gone. A failed post, and spans dropped for a full queue, are logged.
pub(crate) async fn export(
    queue: SpanQueue,
    endpoint: String,
    service: String,
    interval: Duration,
) {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap_or_default();
    let SpanQueue { mut rx, dropped } = queue;
    let mut dropped_reported = 0;
    let mut batch = Vec::new();
    loop {
        let deadline = tokio::time::sleep(interval);
        tokio::pin!(deadline);
        let open = loop {
            tokio::select! {
                span = rx.recv() => match span {
                    Some(span) => {
                        batch.push(span);
                        if batch.len() >= 512 {
                            break true;
                        }
                    }
                    None => break false,
                },
                _ = &mut deadline => break true,
            }
        };
        if !batch.is_empty() {
            let body = otlp_json(&service, &batch);
            batch.clear();
            let sent = client
                .post(&endpoint)
                .header("content-type", "application/json")
                .body(body.to_string())
                .send()
                .await;
            match sent {
                Ok(r) if r.status().is_success() => {}
                Ok(r) => tracing::warn!(status = %r.status(), "the OTLP endpoint refused spans"),
                Err(error) => {
                    tracing::warn!(%error, "spans could not be sent to the OTLP endpoint")
                }
            }
        }
        let dropped_now = dropped.load(Ordering::Relaxed);
        if dropped_now > dropped_reported {
            tracing::warn!(
                dropped = dropped_now - dropped_reported,
                "spans dropped: the export queue was full (tracing.queue)"
            );
            dropped_reported = dropped_now;
        }
        if !open {
            return;
        }
    }
}

/// An OTLP `ExportTraceServiceRequest` in the protocol's JSON mapping.
pub(crate) fn otlp_json(service: &str, spans: &[SpanRecord]) -> Value {
    let nanos = |t: SystemTime| {
        t.duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
            .to_string()
    };
    let spans: Vec<Value> = spans
        .iter()
        .map(|s| {
            let attributes: Vec<Value> = s
                .attributes
                .iter()
                .map(|(key, value)| json!({ "key": key, "value": any_value(value) }))
                .collect();
            let mut span = json!({
                "traceId": s.trace_id,
                "spanId": s.span_id,
                "name": s.name,
                "kind": s.kind as u8,
                "startTimeUnixNano": nanos(s.start),
                "endTimeUnixNano": nanos(s.end),
                "attributes": attributes,
            });
            if let Some(parent) = &s.parent_span_id {
                span["parentSpanId"] = parent.as_str().into();
            }
            span
        })
        .collect();
    json!({
        "resourceSpans": [{
            "resource": { "attributes": [
                { "key": "service.name", "value": { "stringValue": service } }
            ]},
            "scopeSpans": [{
                "scope": { "name": "gatehouse", "version": env!("CARGO_PKG_VERSION") },
                "spans": spans,
            }],
        }]
    })
}

fn any_value(value: &Value) -> Value {
    match value {
        Value::Bool(b) => json!({ "boolValue": b }),
        // OTLP JSON writes 64-bit integers as strings.
        Value::Number(n) if n.is_i64() => json!({ "intValue": n.to_string() }),
        Value::Number(n) => json!({ "doubleValue": n.as_f64() }),
        Value::String(s) => json!({ "stringValue": s }),
        other => json!({ "stringValue": other.to_string() }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_are_written_in_otlp_s_json_mapping() {
        let start = UNIX_EPOCH + Duration::from_nanos(1_000);
        let span = SpanRecord {
            trace_id: "4bf92f3577b34da6a3ce929d0e0e4736".into(),
            span_id: "00f067aa0ba902b7".into(),
            parent_span_id: None,
            name: "gatehouse.request",
            kind: SpanKind::Server,
            start,
            end: start + Duration::from_nanos(500),
            attributes: vec![
                ("http.response.status_code", json!(200)),
                ("http.route", json!("/orders")),
                ("gatehouse.session.refreshed", json!(true)),
            ],
        };
        let body = otlp_json("gatehouse", &[span]);
        let s = &body["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
        assert_eq!(s["traceId"], "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(s["kind"], 2);
        assert_eq!(s["startTimeUnixNano"], "1000");
        assert_eq!(s["endTimeUnixNano"], "1500");
        assert!(s.get("parentSpanId").is_none());
        assert_eq!(s["attributes"][0]["value"]["intValue"], "200");
        assert_eq!(s["attributes"][1]["value"]["stringValue"], "/orders");
        assert_eq!(s["attributes"][2]["value"]["boolValue"], true);
        assert_eq!(
            body["resourceSpans"][0]["resource"]["attributes"][0]["value"]["stringValue"],
            "gatehouse"
        );
    }

    #[test]
    fn a_full_queue_drops_and_counts_without_waiting() {
        let (sink, _rx) = SpanSink::new(1);
        let span = SpanRecord {
            trace_id: "1".repeat(32),
            span_id: "1".repeat(16),
            parent_span_id: None,
            name: "x",
            kind: SpanKind::Internal,
            start: UNIX_EPOCH,
            end: UNIX_EPOCH,
            attributes: Vec::new(),
        };
        sink.record(span.clone());
        sink.record(span);
        assert_eq!(sink.dropped.load(Ordering::Relaxed), 1);
    }
}
