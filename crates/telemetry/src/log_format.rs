//! The JSON log line, with the trace it was written in: `traceId`, the OpenTelemetry trace id
//! that the API's envelopes, the operation log and the exported traces carry, so that a
//! response's `traceId` finds its log lines even where no collector runs.

use std::fmt;

use opentelemetry::trace::{TraceContextExt, TraceId};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::{Format, Json, JsonFields, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// `tracing_subscriber`'s JSON line with `"traceId"` first, when the event is inside a trace.
pub struct JsonWithTraceId(Format<Json>);

impl JsonWithTraceId {
    /// The line of every service: the event's fields flattened, the current span's fields.
    pub fn new() -> Self {
        JsonWithTraceId(
            tracing_subscriber::fmt::format()
                .json()
                .flatten_event(true)
                .with_current_span(true)
                .with_span_list(false),
        )
    }

    /// The fields formatter the JSON line needs.
    pub fn fields() -> JsonFields {
        JsonFields::new()
    }
}

impl Default for JsonWithTraceId {
    fn default() -> Self {
        Self::new()
    }
}

impl<S, N> FormatEvent<S, N> for JsonWithTraceId
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let trace_id = trace_id_of(ctx);
        let mut line = String::new();
        self.0.format_event(ctx, Writer::new(&mut line), event)?;
        match (trace_id, line.strip_prefix('{')) {
            (Some(trace_id), Some(rest)) => write!(writer, "{{\"traceId\":\"{trace_id}\",{rest}"),
            _ => writer.write_str(&line),
        }
    }
}

/// The trace id of the event's span, read from what the OpenTelemetry layer keeps on it.
/// (`crate::current_trace_id` cannot serve here: inside a subscriber's callback there is no
/// current dispatcher to ask.) A span continuing another's trace (a child, or a consumer given
/// a `traceparent`) has it in its parent context; a root span in its own builder.
fn trace_id_of<S, N>(ctx: &FmtContext<'_, S, N>) -> Option<String>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    let span = ctx.lookup_current()?;
    let extensions = span.extensions();
    let data = extensions.get::<tracing_opentelemetry::OtelData>()?;
    let id = if data.parent_cx.has_active_span() {
        data.parent_cx.span().span_context().trace_id()
    } else {
        data.builder.trace_id?
    };
    (id != TraceId::INVALID).then(|| id.to_string())
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::sync::{Arc, Mutex};

    use opentelemetry::trace::TracerProvider as _;
    use opentelemetry_sdk::trace::SdkTracerProvider;
    use tracing_subscriber::layer::SubscriberExt;

    use super::*;

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            self.0
                .lock()
                .map_err(|_| io::ErrorKind::Other)?
                .extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_line_inside_a_trace_carries_its_trace_id() {
        let provider = SdkTracerProvider::builder().build();
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::registry()
            .with(
                tracing_subscriber::fmt::layer()
                    .event_format(JsonWithTraceId::new())
                    .fmt_fields(JsonWithTraceId::fields())
                    .with_writer(move || writer.clone()),
            )
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
        let trace_id = tracing::subscriber::with_default(subscriber, || {
            tracing::info!("outside");
            let span = tracing::info_span!("request", tenant_id = 7);
            let trace_id = span.in_scope(|| {
                tracing::info!(answer = 42, "inside");
                let _child = tracing::info_span!("child").entered();
                tracing::info!("in a child span");
                crate::current_trace_id()
            });
            // A consumer continuing a trace from a message's headers.
            let headers = span.in_scope(crate::inject_current);
            let consume = tracing::info_span!("consume");
            crate::set_parent_from(&consume, &headers);
            consume.in_scope(|| tracing::info!("consumed"));
            trace_id
        });
        let text = String::from_utf8(buffer.0.lock().map(|b| b.clone()).unwrap_or_default())
            .unwrap_or_default();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_default())
            .collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert!(lines[0].get("traceId").is_none(), "{text}");
        assert_eq!(trace_id.len(), 32);
        for line in &lines[1..] {
            assert_eq!(line["traceId"], trace_id.as_str(), "{text}");
        }
        assert_eq!(lines[1]["answer"], 42, "{text}");
        assert_eq!(lines[1]["span"]["tenant_id"], 7, "{text}");
    }
}
