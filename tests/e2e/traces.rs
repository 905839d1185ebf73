//! One trace from the API to the lead events, as an operator's tracing backend receives it: the
//! services export OTLP/HTTP (protobuf) to a real receiver in this test, which decodes what
//! arrives. `POST …/sync` (auth-api) → `SyncRequested` → sync-worker and its platform calls →
//! `RawOrdersFetched` → order-processor → `LeadIdentified`, every hop a child of the one before,
//! with the OpenTelemetry HTTP and messaging conventions' names and attributes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{App, HttpResponse, HttpServer, web};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use prost::Message as _;
use serde_json::json;

use leadgen_e2e::system::System;

use crate::flow::{self, Api};

/// A span as received, with its service.
#[derive(Debug, Clone)]
struct Received {
    service: String,
    trace_id: String,
    span_id: String,
    parent: String,
    name: String,
    kind: SpanKind,
    attributes: HashMap<String, String>,
}

impl Received {
    fn attr(&self, key: &str) -> &str {
        self.attributes.get(key).map_or("", String::as_str)
    }
}

fn text(value: Option<&AnyValue>) -> String {
    match value.and_then(|v| v.value.as_ref()) {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::IntValue(i)) => i.to_string(),
        Some(any_value::Value::BoolValue(b)) => b.to_string(),
        Some(any_value::Value::DoubleValue(d)) => d.to_string(),
        _ => String::new(),
    }
}

fn attributes(kvs: &[KeyValue]) -> HashMap<String, String> {
    kvs.iter()
        .map(|kv| (kv.key.clone(), text(kv.value.as_ref())))
        .collect()
}

/// The OTLP/HTTP traces endpoint (`POST /v1/traces`, protobuf), collecting every span.
async fn receiver(spans: Arc<Mutex<Vec<Received>>>) -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the receiver");
    let port = listener.local_addr().expect("port").port();
    let server = HttpServer::new(move || {
        let spans = Arc::clone(&spans);
        App::new().route(
            "/v1/traces",
            web::post().to(move |body: web::Bytes| {
                let spans = Arc::clone(&spans);
                async move {
                    let Ok(request) = ExportTraceServiceRequest::decode(body.as_ref()) else {
                        return HttpResponse::BadRequest().finish();
                    };
                    let mut out = spans.lock().expect("spans");
                    for rs in request.resource_spans {
                        let resource = rs
                            .resource
                            .map(|r| attributes(&r.attributes))
                            .unwrap_or_default();
                        let service = resource.get("service.name").cloned().unwrap_or_default();
                        for span in rs.scope_spans.into_iter().flat_map(|s| s.spans) {
                            out.push(Received {
                                service: service.clone(),
                                trace_id: hex(&span.trace_id),
                                span_id: hex(&span.span_id),
                                parent: hex(&span.parent_span_id),
                                name: span.name.clone(),
                                kind: SpanKind::try_from(span.kind)
                                    .unwrap_or(SpanKind::Unspecified),
                                attributes: attributes(&span.attributes),
                            });
                        }
                    }
                    HttpResponse::Ok()
                        .content_type("application/x-protobuf")
                        .body(Vec::<u8>::new())
                }
            }),
        )
    })
    .workers(1)
    .listen(listener)
    .expect("listen")
    .run();
    tokio::spawn(server);
    port
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_trace_runs_from_the_sync_request_to_the_lead_events() {
    let spans: Arc<Mutex<Vec<Received>>> = Arc::default();
    let port = receiver(Arc::clone(&spans)).await;
    let endpoint = format!("http://127.0.0.1:{port}/v1/traces");
    let system = System::start_with(
        &[],
        &[
            ("LEADGEN__TELEMETRY__OTLP_ENDPOINT", endpoint.as_str()),
            ("OTEL_BSP_SCHEDULE_DELAY", "200"),
        ],
    )
    .await;
    let api = Api::new(&system, 3);
    let platform_id = api.authorize(&system, "JD").await;
    let (start, end) = flow::window_days(2);
    let accepted = api
        .post(
            &format!("/platforms/{platform_id}/sync"),
            json!({"startTime": start, "endTime": end}),
        )
        .await;
    assert_eq!(accepted["data"]["status"], "ACCEPTED", "{accepted}");
    let trace = accepted["traceId"].as_str().expect("traceId").to_owned();
    let task = accepted["data"]["syncTaskId"].as_i64().expect("task");
    let record = api.wait_for_task(task, Duration::from_secs(120)).await;
    assert_eq!(record["status"], "COMPLETED", "{record}");
    flow::wait_until_settled(&system).await;

    // Wait for the last hop to be exported.
    let deadline = Instant::now() + Duration::from_secs(30);
    let of_trace = loop {
        let of_trace: Vec<Received> = spans
            .lock()
            .expect("spans")
            .iter()
            .filter(|s| s.trace_id == trace)
            .cloned()
            .collect();
        // Done when the last event is published and every hop's processing span has arrived
        // too (a service exports its spans in batches: a consumer span that ends after the
        // next publish may come later).
        let producer = |routing_key: &str| {
            of_trace.iter().find(|s| {
                s.kind == SpanKind::Producer
                    && s.attr("messaging.rabbitmq.destination.routing_key") == routing_key
            })
        };
        let processed = |routing_key: &str| {
            producer(routing_key).is_some_and(|p| {
                of_trace
                    .iter()
                    .any(|s| s.kind == SpanKind::Consumer && s.parent == p.span_id)
            })
        };
        let done = producer("lead.identified.v2").is_some()
            && processed("sync.requested.v1")
            && processed("orders.fetched.v1");
        if done {
            break of_trace;
        }
        assert!(
            Instant::now() < deadline,
            "the trace never reached LeadIdentified: {:#?}",
            of_trace
                .iter()
                .map(|s| (&s.service, &s.name))
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let by_id: HashMap<&str, &Received> =
        of_trace.iter().map(|s| (s.span_id.as_str(), s)).collect();

    // The request: an HTTP server span of auth-api.
    let request = of_trace
        .iter()
        .find(|s| s.kind == SpanKind::Server && s.service == "auth-api")
        .expect("auth-api's server span");
    assert_eq!(
        request.name,
        "POST /api/v1/lead-generation/orders/platforms/{platform_id}/sync"
    );
    assert_eq!(request.attr("http.request.method"), "POST");
    assert_eq!(
        request.attr("http.route"),
        "/api/v1/lead-generation/orders/platforms/{platform_id}/sync"
    );
    assert_eq!(request.attr("http.response.status_code"), "200");
    assert!(request.attr("url.path").ends_with("/sync"), "{request:?}");

    // Each event: published by one service, processed by the next, parent to child.
    let hop = |routing_key: &str, from: &str, to: Option<&str>| {
        let published = of_trace
            .iter()
            .find(|s| {
                s.kind == SpanKind::Producer
                    && s.attr("messaging.rabbitmq.destination.routing_key") == routing_key
            })
            .unwrap_or_else(|| panic!("no {routing_key} producer span"));
        assert_eq!(published.service, from, "{published:?}");
        assert_eq!(published.attr("messaging.system"), "rabbitmq");
        assert_eq!(published.attr("messaging.operation.type"), "send");
        assert!(published.name.starts_with("publish "), "{published:?}");
        assert!(
            published
                .attr("messaging.destination.name")
                .ends_with(".events"),
            "{published:?}"
        );
        assert!(!published.attr("messaging.message.id").is_empty());
        let Some(to) = to else {
            return published.clone();
        };
        let processed = of_trace
            .iter()
            .find(|s| s.kind == SpanKind::Consumer && s.parent == published.span_id)
            .unwrap_or_else(|| panic!("no consumer span under the {routing_key} producer"));
        assert_eq!(processed.service, to, "{processed:?}");
        assert_eq!(processed.attr("messaging.operation.type"), "process");
        assert_eq!(
            processed.attr("messaging.message.id"),
            published.attr("messaging.message.id")
        );
        assert!(
            processed
                .attr("messaging.destination.subscription.name")
                .ends_with(to),
            "{processed:?}"
        );
        processed.clone()
    };
    let sync_requested = hop("sync.requested.v1", "auth-api", Some("sync-worker"));
    let fetched = hop("orders.fetched.v1", "sync-worker", Some("order-processor"));
    let identified = hop("lead.identified.v2", "order-processor", None);

    // Every span descends from the request: walking up the parents reaches it.
    let descends = |span: &Received| {
        let mut at = span;
        for _ in 0..64 {
            if at.span_id == request.span_id {
                return true;
            }
            match by_id.get(at.parent.as_str()) {
                Some(parent) => at = parent,
                None => return false,
            }
        }
        false
    };
    for span in [&sync_requested, &fetched, &identified] {
        assert!(descends(span), "{span:?} is not under the request");
    }

    // The platform calls: HTTP client spans of sync-worker, under the SyncRequested processing,
    // with the URL's query values redacted (they carry tokens and signatures).
    let calls: Vec<&Received> = of_trace
        .iter()
        .filter(|s| s.kind == SpanKind::Client && s.service == "sync-worker")
        .collect();
    assert!(!calls.is_empty(), "no platform call spans");
    for call in &calls {
        assert!(descends(call), "{call:?}");
        assert_eq!(call.name, call.attr("http.request.method"));
        assert_eq!(call.attr("server.address"), "127.0.0.1");
        assert_eq!(call.attr("http.response.status_code"), "200");
        // The URL without a query value (tokens, signatures).
        let full = reqwest::Url::parse(call.attr("url.full")).expect("url.full is a URL");
        assert_eq!(full.host_str(), Some("127.0.0.1"), "{call:?}");
        assert!(full.query_pairs().all(|(_, v)| v == "REDACTED"), "{call:?}");
    }

    // The service functions between them (`#[tracing::instrument]`), with ids and no personal
    // data: the request's own work, the sync task under SyncRequested (the platform calls under
    // it), each batch under its RawOrdersFetched delivery.
    let named = |name: &str| {
        of_trace
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("no {name} span"))
    };
    let under = |span: &Received, ancestor: &Received| {
        let mut at = span;
        for _ in 0..64 {
            match by_id.get(at.parent.as_str()) {
                Some(parent) if parent.span_id == ancestor.span_id => return true,
                Some(parent) => at = parent,
                None => return false,
            }
        }
        false
    };
    let requested = named("auth.request_sync");
    assert!(under(requested, request), "{requested:?}");
    let run = named("sync.run_task");
    assert!(under(run, &sync_requested), "{run:?}");
    assert!(calls.iter().all(|call| under(call, run)), "{run:?}");
    let batch = named("orders.process_batch");
    let batches: Vec<&Received> = of_trace
        .iter()
        .filter(|s| s.name == "orders.process_batch")
        .collect();
    let fetched_consumers: Vec<&Received> = of_trace
        .iter()
        .filter(|s| s.kind == SpanKind::Consumer && s.service == fetched.service)
        .collect();
    for b in &batches {
        assert!(
            fetched_consumers.iter().any(|c| under(b, c)),
            "{b:?} is not under a RawOrdersFetched delivery"
        );
    }
    for span in [requested, run, batch] {
        assert!(!span.attr("tenant_id").is_empty(), "{span:?}");
    }
    assert_eq!(run.attr("sync_id"), task.to_string());
}
