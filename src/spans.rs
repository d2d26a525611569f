//! Gatehouse's own spans, exported over OTLP/HTTP when `[tracing] otlp_endpoint` is set (off by
//! default: then nothing here runs). Each request's spans are built once it is done, from the
//! times the glue recorded, and handed to a bounded queue that never blocks a request (a full
//! queue drops the span and counts it); a background task posts them in batches.
//!
//! Encoded as OTLP/HTTP protobuf with opentelemetry-proto's generated messages and posted with
//! the reqwest client Gatehouse already has, rather than through the opentelemetry-otlp crate,
//! which would bring a second HTTP client stack and runtime for what is one POST of a few spans.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;
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
            let body = otlp_request(&service, &batch);
            batch.clear();
            let sent = client
                .post(&endpoint)
                .header("content-type", "application/x-protobuf")
                .body(body)
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

/// An OTLP `ExportTraceServiceRequest`, protobuf-encoded.
pub(crate) fn otlp_request(service: &str, spans: &[SpanRecord]) -> Vec<u8> {
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::common::v1::{
        any_value, AnyValue, InstrumentationScope, KeyValue,
    };
    use opentelemetry_proto::tonic::resource::v1::Resource;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
    use prost::Message;

    let nanos = |t: SystemTime| {
        t.duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
    };
    let string = |s: &str| AnyValue {
        value: Some(any_value::Value::StringValue(s.to_string())),
    };
    let spans = spans
        .iter()
        .map(|s| Span {
            trace_id: hex(&s.trace_id),
            span_id: hex(&s.span_id),
            parent_span_id: s.parent_span_id.as_deref().map(hex).unwrap_or_default(),
            name: s.name.to_string(),
            kind: s.kind as i32,
            start_time_unix_nano: nanos(s.start),
            end_time_unix_nano: nanos(s.end),
            attributes: s
                .attributes
                .iter()
                .map(|(key, value)| KeyValue {
                    key: key.to_string(),
                    value: Some(AnyValue {
                        value: Some(match value {
                            Value::Bool(b) => any_value::Value::BoolValue(*b),
                            Value::Number(n) if n.is_i64() || n.is_u64() => {
                                any_value::Value::IntValue(n.as_i64().unwrap_or(i64::MAX))
                            }
                            Value::Number(n) => {
                                any_value::Value::DoubleValue(n.as_f64().unwrap_or_default())
                            }
                            Value::String(s) => any_value::Value::StringValue(s.clone()),
                            other => any_value::Value::StringValue(other.to_string()),
                        }),
                    }),
                })
                .collect(),
            ..Default::default()
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![KeyValue {
                    key: "service.name".into(),
                    value: Some(string(service)),
                }],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "gatehouse".into(),
                    version: env!("CARGO_PKG_VERSION").into(),
                    ..Default::default()
                }),
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
    .encode_to_vec()
}

/// The bytes of a hex id (ids here are always made of hex digits).
fn hex(id: &str) -> Vec<u8> {
    (0..id.len() / 2)
        .filter_map(|i| u8::from_str_radix(&id[2 * i..2 * i + 2], 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn spans_are_encoded_as_an_otlp_export_request() {
        use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
        use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
        use prost::Message;
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
        let request =
            ExportTraceServiceRequest::decode(otlp_request("gatehouse", &[span]).as_slice())
                .unwrap();
        let resource = &request.resource_spans[0];
        let s = &resource.scope_spans[0].spans[0];
        assert_eq!(s.trace_id, hex("4bf92f3577b34da6a3ce929d0e0e4736"));
        assert_eq!(s.trace_id.len(), 16);
        assert_eq!(
            s.span_id,
            vec![0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7]
        );
        assert!(s.parent_span_id.is_empty());
        assert_eq!(
            (s.kind, s.start_time_unix_nano, s.end_time_unix_nano),
            (2, 1_000, 1_500)
        );
        let value = |i: usize| {
            s.attributes[i]
                .value
                .as_ref()
                .unwrap()
                .value
                .clone()
                .unwrap()
        };
        assert_eq!(value(0), Any::IntValue(200));
        assert_eq!(value(1), Any::StringValue("/orders".into()));
        assert_eq!(value(2), Any::BoolValue(true));
        let service = &resource.resource.as_ref().unwrap().attributes[0];
        assert_eq!(service.key, "service.name");
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
