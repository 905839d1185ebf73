//! Telemetry for every process, set up once: structured logs through `tracing` (JSON by default,
//! each line inside a trace with its `traceId`),
//! OpenTelemetry traces (exported over OTLP/HTTP when an endpoint is configured), Prometheus
//! metrics ([`metrics`]), and the W3C trace context (`traceparent`, `tracestate`) carried into
//! and out of HTTP requests and messages.
//!
//! Call [`init`] first in `main` and keep the returned [`TelemetryGuard`] alive; dropping it
//! flushes pending spans. `main` returns [`exit_code`], which logs a fatal error as a JSON line. Never log secrets, tokens, phone numbers or names.

mod log_format;
pub mod metrics;

use std::collections::HashMap;

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use leadgen_settings::TelemetrySettings;

/// Why telemetry could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TelemetryError {
    #[error("invalid log filter `{0}`")]
    Filter(String),
    #[error("cannot build the OTLP exporter: {0}")]
    Exporter(String),
    #[error("a global subscriber is already installed")]
    AlreadyInstalled,
}

/// Owns the tracer provider; flushes and shuts it down on drop.
pub struct TelemetryGuard {
    provider: SdkTracerProvider,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        // Best effort: nothing useful can be done with a flush error at exit.
        let _ = self.provider.force_flush();
        let _ = self.provider.shutdown();
    }
}

/// Crates whose logs carry message payloads (lapin logs a returned message, body included, at
/// WARN): kept at ERROR unless the filter names them itself.
const PAYLOAD_LOGGERS: [&str; 2] = ["lapin", "pinky_swear"];

/// The log filter: `RUST_LOG` when set and valid (a developer's or operator's override), else
/// `[telemetry] log_filter`; either way the payload loggers stay at ERROR unless a directive
/// names them (their target, or a module under it), so `RUST_LOG=debug` does not write events'
/// personal data to the logs.
fn log_filter(env: Option<&str>, configured: &str) -> Result<EnvFilter, ()> {
    let with_payload_loggers = |chosen: &str| {
        let named = |logger: &str| {
            chosen.split(',').any(|directive| {
                let target = directive.split(['=', '[']).next().unwrap_or("").trim();
                target == logger || target.starts_with(&format!("{logger}::"))
            })
        };
        let mut directives = chosen.to_owned();
        for logger in PAYLOAD_LOGGERS.into_iter().filter(|l| !named(l)) {
            directives.push_str(&format!(",{logger}=error"));
        }
        EnvFilter::try_new(directives.trim_start_matches(','))
    };
    env.filter(|v| !v.trim().is_empty())
        .and_then(|v| with_payload_loggers(v).ok())
        .map_or_else(|| with_payload_loggers(configured).map_err(|_| ()), Ok)
}

/// Installs the global subscriber and propagator for `service`.
pub fn init(
    settings: &TelemetrySettings,
    service: &'static str,
) -> Result<TelemetryGuard, TelemetryError> {
    metrics::install(Some(service));
    let provider = tracer_provider(settings, service)?;
    #[expect(
        clippy::disallowed_methods,
        reason = "RUST_LOG is tracing's own override, read where tracing would read it"
    )]
    let env = std::env::var("RUST_LOG").ok();
    let filter = log_filter(env.as_deref(), &settings.log_filter)
        .map_err(|_| TelemetryError::Filter(settings.log_filter.clone()))?;
    let fmt_layer = if settings.log_format == "pretty" {
        tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .boxed()
    } else {
        tracing_subscriber::fmt::layer()
            .event_format(log_format::JsonWithTraceId::new())
            .fmt_fields(log_format::JsonWithTraceId::fields())
            .with_writer(std::io::stderr)
            .boxed()
    };
    // The log filter applies to the log output only: spans (trace ids in responses and
    // messages, exported traces) exist whatever the log level.
    let otel_layer = tracing_opentelemetry::layer()
        .with_tracer(provider.tracer(service))
        .with_filter(tracing_subscriber::filter::LevelFilter::INFO);
    tracing_subscriber::registry()
        .with(fmt_layer.with_filter(filter))
        .with(otel_layer)
        .try_init()
        .map_err(|_| TelemetryError::AlreadyInstalled)?;
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    std::panic::set_hook(Box::new(log_panic));
    Ok(TelemetryGuard { provider })
}

/// A panic as one JSON log line (`A thread panicked`, with where and why), not Rust's default
/// multi-line text on stderr, which a log collector cannot parse. The task that panicked ends;
/// what it was part of decides what follows (a background task stops the process).
fn log_panic(info: &std::panic::PanicHookInfo<'_>) {
    let payload = info.payload();
    let message = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    let location = info
        .location()
        .map(|l| format!("{}:{}", l.file(), l.line()))
        .unwrap_or_default();
    let backtrace = std::backtrace::Backtrace::capture();
    tracing::error!(
        panic.message = %message,
        panic.location = %location,
        panic.backtrace = %backtrace,
        "A thread panicked"
    );
}

fn tracer_provider(
    settings: &TelemetrySettings,
    service: &'static str,
) -> Result<SdkTracerProvider, TelemetryError> {
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name(service)
        .build();
    let builder = SdkTracerProvider::builder().with_resource(resource);
    let builder = match settings.otlp_endpoint.as_deref().filter(|e| !e.is_empty()) {
        Some(endpoint) => {
            use opentelemetry_otlp::WithExportConfig as _;
            let exporter = opentelemetry_otlp::SpanExporter::builder()
                .with_http()
                .with_endpoint(endpoint)
                .build()
                .map_err(|e| TelemetryError::Exporter(e.to_string()))?;
            builder.with_batch_exporter(exporter)
        }
        None => builder,
    };
    Ok(builder.build())
}

/// The exit code of a service's `main`, and its last line when it failed: the error with its
/// causes as one JSON log line like every other (`Stopped with an error`, `error.cause`), not
/// Rust's multi-line `Error: …` that a log collector cannot parse. Before [`init`] ran (the
/// configuration did not load) the line is written by hand in the same shape.
pub fn exit_code<E: std::fmt::Display>(result: Result<(), E>) -> std::process::ExitCode {
    let Err(error) = result else {
        return std::process::ExitCode::SUCCESS;
    };
    let cause = format!("{error:#}");
    if tracing::dispatcher::has_been_set() {
        tracing::error!(error.cause = %cause, "Stopped with an error");
    } else {
        eprintln!("{}", early_error_line(&cause, std::time::SystemTime::now()));
    }
    std::process::ExitCode::FAILURE
}

/// The JSON line of an error met before the subscriber was installed.
fn early_error_line(cause: &str, at: std::time::SystemTime) -> String {
    let timestamp: chrono::DateTime<chrono::Utc> = at.into();
    serde_json::json!({
        "timestamp": timestamp.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        "level": "ERROR",
        "message": "Stopped with an error",
        "error.cause": cause,
    })
    .to_string()
}

/// The trace id of the current span as 32 lowercase hex digits, or 32 zeros outside a trace.
pub fn current_trace_id() -> String {
    let context = tracing::Span::current().context();
    context.span().span_context().trace_id().to_string()
}

/// The current span's W3C trace context, for message headers or outbox rows: `traceparent`,
/// and `tracestate` only when it says something (an empty one is noise to every consumer).
pub fn inject_current() -> HashMap<String, String> {
    let mut carrier = HashMap::new();
    TraceContextPropagator::new().inject_context(&tracing::Span::current().context(), &mut carrier);
    carrier.retain(|_, value| !value.is_empty());
    carrier
}

/// Makes `span` a child of the trace context carried in `headers` (no-op when absent).
pub fn set_parent_from(span: &tracing::Span, headers: &HashMap<String, String>) {
    let parent = TraceContextPropagator::new().extract(headers);
    if parent.span().span_context().is_valid() {
        span.set_parent(parent);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_error_before_the_subscriber_is_one_json_line() {
        let at = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_764_900_000);
        let line = super::early_error_line("loading configuration: missing field `url`\n", at);
        assert!(!line.contains('\n'), "{line}");
        let value: serde_json::Value = serde_json::from_str(&line).expect("JSON");
        assert_eq!(value["level"], "ERROR");
        assert_eq!(value["message"], "Stopped with an error");
        assert_eq!(
            value["error.cause"],
            "loading configuration: missing field `url`\n"
        );
        assert_eq!(value["timestamp"], "2025-12-05T02:00:00.000000Z");
    }

    use tracing_subscriber::layer::SubscriberExt;

    use super::*;

    #[test]
    fn an_override_keeps_the_payload_loggers_at_error_unless_it_names_them() {
        let shown = |env: Option<&str>| {
            log_filter(env, "info,lapin=error,pinky_swear=error")
                .expect("a valid filter")
                .to_string()
        };
        for env in [Some("debug"), Some("trace,hyper=info"), Some(" "), None] {
            let filter = shown(env);
            assert!(filter.contains("lapin=error"), "{env:?}: {filter}");
            assert!(filter.contains("pinky_swear=error"), "{env:?}: {filter}");
        }
        assert!(shown(Some("debug")).contains("debug"));
        // Named on purpose: the operator asked for them.
        let named = shown(Some("info,lapin=debug"));
        assert!(
            named.contains("lapin=debug") && !named.contains("lapin=error"),
            "{named}"
        );
        // A target that only contains the name is not the logger.
        let other = shown(Some("debug,my_app::lapin_bridge=trace"));
        assert!(other.contains("lapin=error"), "{other}");
        // An override that does not parse falls back to the configured filter.
        let fallback = shown(Some("info,[unclosed"));
        assert!(fallback.contains("lapin=error"), "{fallback}");
        assert!(log_filter(None, "info,[unclosed").is_err());
    }

    #[test]
    fn trace_context_travels_out_and_back_in() {
        let provider = SdkTracerProvider::builder().build();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
        tracing::subscriber::with_default(subscriber, || {
            let outgoing = tracing::info_span!("publish");
            let (trace_id, headers) = outgoing.in_scope(|| (current_trace_id(), inject_current()));
            assert_eq!(trace_id.len(), 32);
            assert_ne!(trace_id, "0".repeat(32));
            let traceparent = headers.get("traceparent").expect("traceparent");
            assert!(
                traceparent.starts_with(&format!("00-{trace_id}-")),
                "{traceparent}"
            );

            let incoming = tracing::info_span!("consume");
            set_parent_from(&incoming, &headers);
            assert_eq!(
                incoming.in_scope(current_trace_id),
                trace_id,
                "the consumer continues the trace"
            );

            let unrelated = tracing::info_span!("other");
            set_parent_from(&unrelated, &HashMap::new());
            assert_ne!(unrelated.in_scope(current_trace_id), trace_id);
        });
    }
}
