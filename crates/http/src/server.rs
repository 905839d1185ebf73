//! Serving: health and readiness endpoints, request tracing, the default 404, graceful stop.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::{HttpResponse, web};
use leadgen_settings::HttpSettings;
use serde::Serialize;
use tokio_util::sync::CancellationToken;
use tracing::Span;
use tracing_actix_web::{DefaultRootSpanBuilder, RootSpanBuilder, TracingLogger};

use crate::ApiError;
use crate::error::{json_config, path_config, query_config};

/// One dependency as `/readyz` reports it.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub up: bool,
    /// Whether the process cannot serve without it: only a required check that is down makes
    /// the process not ready (the others are reported, and watched by metrics and alerts).
    pub required: bool,
}

/// What `/readyz` checks.
#[async_trait::async_trait]
pub trait Readiness: Send + Sync + 'static {
    async fn check(&self) -> Vec<Check>;
}

/// Binds the configured address (port `0` picks a free one).
pub fn bind(settings: &HttpSettings) -> std::io::Result<TcpListener> {
    TcpListener::bind((settings.host.as_str(), settings.port))
}

/// Request tracing: one root span per request, continuing an incoming `traceparent`.
pub fn tracing_middleware() -> TracingLogger<RequestSpan> {
    TracingLogger::new()
}

/// The root span of a request, named and attributed after the OpenTelemetry HTTP server
/// conventions (`{method} {route}`, or `{method}` when no route matched, `http.request.method`,
/// `http.route` when one did, `url.path`,
/// `url.scheme`, `http.response.status_code`). Unlike the default one it records the path
/// without its query string: the OAuth callback's query carries the authorization code and
/// state, which must not reach the logs.
pub struct RequestSpan;

impl RootSpanBuilder for RequestSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        // No route matched: the span is named by the method alone, without `http.route`
        // (never the path: its ids would make every request a name of its own).
        let route = request.match_pattern();
        // A method no standard names is `_OTHER`, its own word kept apart (the conventions'
        // `http.request.method_original`): any token a client sends would be a span name.
        let method = crate::metrics::method_label(request.method());
        let name = match &route {
            Some(route) => format!("{method} {route}"),
            None => method.clone(),
        };
        let span = tracing::info_span!(
            "HTTP request",
            otel.kind = "server",
            otel.name = %name,
            http.request.method = %method,
            http.request.method_original = tracing::field::Empty,
            http.route = tracing::field::Empty,
            url.path = %request.path(),
            url.scheme = %request.connection_info().scheme(),
            http.response.status_code = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
            tenant_id = tracing::field::Empty,
            trace_id = tracing::field::Empty,
            "http.request.header.x-request-id" = tracing::field::Empty,
        );
        if let Some(route) = &route {
            span.record("http.route", route.as_str());
        }
        if method == "_OTHER" {
            span.record("http.request.method_original", request.method().as_str());
        }
        if let Some(id) = request_id(request) {
            span.record("http.request.header.x-request-id", id);
        }
        actix_web::HttpMessage::extensions_mut(request).insert(Started(std::time::Instant::now()));
        let headers: std::collections::HashMap<String, String> = ["traceparent", "tracestate"]
            .iter()
            .filter_map(|name| {
                let value = request.headers().get(*name)?.to_str().ok()?;
                Some(((*name).to_owned(), value.to_owned()))
            })
            .collect();
        leadgen_telemetry::set_parent_from(&span, &headers);
        let trace_id = span.in_scope(leadgen_telemetry::current_trace_id);
        span.record("trace_id", trace_id.as_str());
        span
    }

    fn on_request_end<B: actix_web::body::MessageBody>(
        span: Span,
        outcome: &Result<ServiceResponse<B>, actix_web::Error>,
    ) {
        let status = match outcome {
            Ok(response) => response.response().status(),
            Err(e) => e.as_response_error().status_code(),
        };
        span.record("http.response.status_code", status.as_u16());
        if let Ok(response) = outcome {
            access_line(&span, response, status);
        }
        DefaultRootSpanBuilder::on_request_end(span, outcome);
    }
}

/// Headers every answer carries unless its handler set its own: its content type is the one
/// to trust (`nosniff`), and no cache keeps it (a tenant's buyers, masked or not, and its
/// shops must not stay in a browser's or a proxy's cache; the docs' static files set theirs).
pub fn default_headers() -> actix_web::middleware::DefaultHeaders {
    actix_web::middleware::DefaultHeaders::new()
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("Cache-Control", "no-store"))
}

/// When the request reached the service (for the access line's duration).
#[derive(Debug, Clone, Copy)]
struct Started(std::time::Instant);

/// The gateway's `X-Request-Id` (its access log's `rid`), when it is a plain token: a client
/// may send its own, and a log line keeps no arbitrary text.
fn request_id(request: &ServiceRequest) -> Option<&str> {
    let id = request.headers().get("x-request-id")?.to_str().ok()?;
    let plain = !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
    plain.then_some(id)
}

/// Paths polled by probes and Prometheus: no access line (they would drown the others).
const UNLOGGED_PATHS: [&str; 3] = ["/healthz", "/readyz", "/metrics"];

/// One line per answered request, inside its span (method, route, path, status, the gateway's
/// request id, `traceId`): an answer's `traceId` or the gateway log's `rid` finds what the
/// service did, 2xx and 4xx included. 5xx also log their cause (`Request failed`).
fn access_line<B>(span: &Span, response: &ServiceResponse<B>, status: actix_web::http::StatusCode) {
    use actix_web::HttpMessage as _;
    let request = response.request();
    if UNLOGGED_PATHS.contains(&request.path()) {
        return;
    }
    let duration_ms = request
        .extensions()
        .get::<Started>()
        .map(|started| started.0.elapsed().as_secs_f64() * 1000.0);
    span.in_scope(|| {
        tracing::info!(
            http.response.status_code = status.as_u16(),
            duration_ms,
            "Request answered"
        );
    });
}

/// Registers the extractor error handlers and `/healthz`, `/readyz`, `/metrics`.
pub fn configure(
    readiness: Arc<dyn Readiness>,
) -> impl Fn(&mut web::ServiceConfig) + Clone + Send + 'static {
    move |cfg: &mut web::ServiceConfig| {
        cfg.app_data(json_config())
            .app_data(query_config())
            .app_data(path_config())
            .app_data(web::Data::from(Arc::clone(&readiness)))
            .route("/healthz", web::get().to(healthz))
            .route("/readyz", web::get().to(readyz))
            .route("/metrics", web::get().to(crate::metrics::render));
    }
}

/// HEAD is GET without the content (RFC 9110 §9.3.2): the GET route answers it, and the server
/// leaves the body out of a response to a HEAD request.
async fn head_as_get(
    mut req: ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody>,
) -> Result<ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    if req.method() == actix_web::http::Method::HEAD {
        req.head_mut().method = actix_web::http::Method::GET;
        actix_web::HttpMessage::extensions_mut(&req).insert(CameAsHead);
    }
    next.call(req).await
}

/// Set on a request that came as HEAD and reached a GET route ([`head_as_get`]).
#[derive(Debug, Clone, Copy)]
struct CameAsHead;

/// Whether the request came as HEAD. A GET route that acts (the OAuth callback spends a
/// consent) refuses it with [`method_not_allowed`]: a link checker's HEAD must change nothing.
pub fn came_as_head(req: &actix_web::HttpRequest) -> bool {
    use actix_web::HttpMessage as _;
    req.extensions().get::<CameAsHead>().is_some()
}

/// 405 in the envelope, with the methods the path does answer in `Allow`.
pub fn method_not_allowed(allow: &str) -> HttpResponse {
    let mut response = actix_web::ResponseError::error_response(&ApiError::method_not_allowed());
    if let Ok(value) = actix_web::http::header::HeaderValue::from_str(allow) {
        response
            .headers_mut()
            .insert(actix_web::http::header::ALLOW, value);
    }
    response
}

/// A path answering its declared methods, and 405 in the envelope with `Allow` for any other
/// (HEAD wherever GET is, [`head_as_get`]).
pub fn resource(path: &str, allow: &'static str) -> actix_web::Resource {
    let allow = if allow.split(',').any(|m| m.trim() == "GET") {
        format!("{allow}, HEAD")
    } else {
        allow.to_owned()
    };
    allowing(path, allow)
}

/// A path whose GET acts (the OAuth callback): HEAD is not among its methods, and its handler
/// refuses one with [`method_not_allowed`] (see [`came_as_head`]).
pub fn acting_get(path: &str) -> actix_web::Resource {
    allowing(path, "GET".to_owned())
}

fn allowing(path: &str, allow: String) -> actix_web::Resource {
    web::resource(path).default_service(web::to(move || {
        let allow = allow.clone();
        async move { method_not_allowed(&allow) }
    }))
}

/// 404 in the envelope for unknown paths.
pub async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::not_found("接口"))
}

async fn healthz() -> HttpResponse {
    crate::ok(serde_json::json!({ "status": "UP" }))
}

/// Whether a process with these checks is ready: every required one is up.
pub fn is_ready(checks: &[Check]) -> bool {
    checks.iter().all(|c| c.up || !c.required)
}

async fn readyz(readiness: web::Data<dyn Readiness>) -> HttpResponse {
    let checks = readiness.check().await;
    let ready = is_ready(&checks);
    let body = serde_json::json!({
        "code": if ready { 200 } else { 503 },
        "message": if ready { "success" } else { "依赖服务不可用" },
        "data": { "status": if ready { "UP" } else { "DOWN" }, "checks": checks },
        "traceId": leadgen_telemetry::current_trace_id(),
    });
    if ready {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

/// Runs `server` until `cancel` fires, then stops accepting, lets in-flight requests finish
/// (bounded by the server's shutdown timeout) and returns.
pub async fn run_until_stopped(server: Server, cancel: CancellationToken) -> std::io::Result<()> {
    let handle = server.handle();
    tokio::spawn(async move {
        cancel.cancelled().await;
        handle.stop(true).await;
    });
    server.await
}

/// The one way every service serves HTTP: request metrics ([`crate::metrics`]), request tracing,
/// NUL rejection ([`crate::nul`]), the extractor error handlers,
/// `/healthz`, `/readyz` and `/metrics`, the service's own `app` configuration (its state and routes; none for
/// the workers), the envelope 404, and no signal handling of its own (the process's shutdown
/// token stops it through [`run_until_stopped`]).
pub fn serve<F>(
    listener: TcpListener,
    readiness: Arc<dyn Readiness>,
    http: &HttpSettings,
    app: F,
) -> std::io::Result<Server>
where
    F: Fn(&mut web::ServiceConfig) + Clone + Send + 'static,
{
    // The process's recorder (already labelled with the service when `main` set telemetry up).
    leadgen_telemetry::metrics::install(None);
    // One for the process, every worker's requests counted together.
    let limiter = web::Data::new(crate::throttle::TenantLimiter::new(
        http.tenant_requests_per_second,
        http.tenant_request_burst,
    ));
    Ok(actix_web::HttpServer::new(move || {
        actix_web::App::new()
            .app_data(limiter.clone())
            .wrap(default_headers())
            .wrap(actix_web::middleware::from_fn(crate::nul::mark_nul))
            .wrap(actix_web::middleware::from_fn(head_as_get))
            .wrap(tracing_middleware())
            .wrap(actix_web::middleware::from_fn(crate::metrics::record))
            .configure(configure(Arc::clone(&readiness)))
            .configure(app.clone())
            .default_service(web::to(not_found))
    })
    .listen(listener)?
    .disable_signals()
    .keep_alive(std::time::Duration::from_secs(http.keep_alive_secs))
    .shutdown_timeout(http.shutdown_timeout_secs)
    .run())
}

#[cfg(test)]
mod tests {
    use std::io::{Read as _, Write as _};

    use super::*;

    struct Up;

    #[async_trait::async_trait]
    impl Readiness for Up {
        async fn check(&self) -> Vec<Check> {
            Vec::new()
        }
    }

    /// Log lines written while `f` runs on this thread, as JSON.
    #[derive(Clone, Default)]
    struct Lines(Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Lines {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            if let Ok(mut buffer) = self.0.lock() {
                buffer.extend_from_slice(bytes);
            }
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Lines {
        fn json(&self) -> Vec<serde_json::Value> {
            let text = self.0.lock().map(|b| b.clone()).unwrap_or_default();
            String::from_utf8_lossy(&text)
                .lines()
                .filter_map(|l| serde_json::from_str(l).ok())
                .collect()
        }
    }

    /// Every answered request leaves one line with its status, route and the gateway's request
    /// id, a 404 and a 400 included; the probes' paths leave none; a request id that is not a
    /// plain token is not logged.
    #[actix_web::test]
    async fn every_answer_leaves_one_access_line() {
        use tracing_subscriber::layer::SubscriberExt as _;
        let lines = Lines::default();
        let writer = lines.clone();
        let subscriber = tracing_subscriber::registry().with(
            tracing_subscriber::fmt::layer()
                .json()
                .flatten_event(true)
                .with_current_span(true)
                .with_writer(move || writer.clone()),
        );
        let _default = tracing::subscriber::set_default(subscriber);
        let app = actix_web::test::init_service(
            actix_web::App::new()
                .wrap(tracing_middleware())
                .configure(configure(Arc::new(Up)))
                .route(
                    "/things/{id}",
                    web::get().to(|| async { HttpResponse::Ok().finish() }),
                )
                .default_service(web::to(not_found)),
        )
        .await;
        for (path, request_id) in [
            ("/things/7?contactInfo=13800138000", "3f2a9c"),
            ("/nowhere", "<script> x"),
            ("/healthz", "h"),
            ("/metrics", "m"),
        ] {
            let request = actix_web::test::TestRequest::get()
                .uri(path)
                .insert_header(("x-request-id", request_id))
                .to_request();
            actix_web::test::call_service(&app, request).await;
        }
        let answered: Vec<_> = lines
            .json()
            .into_iter()
            .filter(|l| l["message"] == "Request answered")
            .collect();
        assert_eq!(answered.len(), 2, "{answered:?}");
        let first = &answered[0];
        assert_eq!(first["http.response.status_code"], 200, "{first}");
        assert_eq!(first["span"]["http.route"], "/things/{id}", "{first}");
        assert_eq!(first["span"]["url.path"], "/things/7", "{first}");
        assert_eq!(
            first["span"]["http.request.header.x-request-id"], "3f2a9c",
            "{first}"
        );
        assert!(first["duration_ms"].as_f64().is_some(), "{first}");
        assert!(!first.to_string().contains("13800138000"), "{first}");
        let second = &answered[1];
        assert_eq!(second["http.response.status_code"], 404, "{second}");
        assert!(
            second["span"]
                .get("http.request.header.x-request-id")
                .is_none(),
            "{second}"
        );
    }

    /// Every answer says `nosniff` and `no-store`, unless its handler chose a cache policy.
    #[actix_web::test]
    async fn answers_are_not_sniffed_or_cached() {
        let app = actix_web::test::init_service(
            actix_web::App::new()
                .wrap(default_headers())
                .route(
                    "/data",
                    web::get().to(|| async { HttpResponse::Ok().finish() }),
                )
                .route(
                    "/static",
                    web::get().to(|| async {
                        HttpResponse::Ok()
                            .insert_header(("Cache-Control", "public, max-age=60"))
                            .finish()
                    }),
                )
                .default_service(web::to(not_found)),
        )
        .await;
        for (path, cache) in [
            ("/data", "no-store"),
            ("/nowhere", "no-store"),
            ("/static", "public, max-age=60"),
        ] {
            let request = actix_web::test::TestRequest::get().uri(path).to_request();
            let response = actix_web::test::call_service(&app, request).await;
            let header = |name: &str| {
                response
                    .headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            };
            assert_eq!(
                header("x-content-type-options").as_deref(),
                Some("nosniff"),
                "{path}"
            );
            assert_eq!(header("cache-control").as_deref(), Some(cache), "{path}");
        }
    }

    /// The raw answer to `request`, read until the server closes the connection.
    fn exchange(port: u16, request: &str) -> String {
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
        stream.write_all(request.as_bytes()).expect("send");
        let mut answer = String::new();
        stream.read_to_string(&mut answer).expect("read");
        answer
    }

    /// The gateway closes its idle upstream connections before the services do: a request on a
    /// connection the service is closing fails, and nginx retries no POST (a 502 to the caller).
    #[test]
    fn the_gateway_lets_idle_connections_go_before_the_services_do() {
        let template = include_str!("../../../deploy/nginx/leadgen.conf.template");
        let settings: HttpSettings =
            serde_json::from_value(serde_json::json!({ "host": "0.0.0.0", "port": 8080 }))
                .expect("defaults");
        let mut upstreams = 0;
        for block in template.split("\n    upstream ").skip(1) {
            let Some(body) = block.split_once('{').map(|(_, b)| b) else {
                continue;
            };
            let body = body.split('}').next().unwrap_or_default();
            upstreams += 1;
            let idle = body
                .lines()
                .find_map(|l| l.trim().strip_prefix("keepalive_timeout "))
                .and_then(|v| {
                    v.trim_end_matches(';')
                        .trim_end_matches('s')
                        .parse::<u64>()
                        .ok()
                })
                .unwrap_or(60);
            assert!(idle < settings.keep_alive_secs, "{body}");
        }
        assert_eq!(upstreams, 2, "both APIs' upstreams keep connections");
    }

    /// Settings of a test server whose tenants may make one request a second.
    fn one_request_a_second() -> HttpSettings {
        HttpSettings {
            host: "127.0.0.1".into(),
            port: 0,
            shutdown_timeout_secs: 1,
            keep_alive_secs: 75,
            tenant_requests_per_second: std::num::NonZeroU32::MIN,
            tenant_request_burst: std::num::NonZeroU32::MIN,
        }
    }

    #[actix_web::test]
    async fn head_answers_as_get_without_a_body_and_405_names_it() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("address").port();
        let http = one_request_a_second();
        let server = serve(
            listener,
            Arc::new(Up),
            &http,
            |cfg: &mut web::ServiceConfig| {
                cfg.service(resource("/thing", "GET").route(
                    web::get().to(|| async { crate::ok(serde_json::json!({ "name": "thing" })) }),
                ));
            },
        )
        .expect("serve");
        let handle = server.handle();
        actix_web::rt::spawn(server);
        let answers = actix_web::rt::task::spawn_blocking(move || {
            let ask = |method: &str| {
                exchange(
                    port,
                    &format!("{method} /thing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
                )
            };
            (ask("GET"), ask("HEAD"), ask("DELETE"))
        })
        .await
        .expect("requests");
        handle.stop(false).await;
        let (get, head, delete) = answers;
        assert!(get.starts_with("HTTP/1.1 200"), "{get}");
        assert!(get.contains("\"name\":\"thing\""), "{get}");
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        let (_, body) = head.split_once("\r\n\r\n").expect("headers end");
        assert!(body.is_empty(), "a HEAD answer has no body: {head}");
        assert!(delete.starts_with("HTTP/1.1 405"), "{delete}");
        assert!(
            delete.to_ascii_lowercase().contains("allow: get, head"),
            "{delete}"
        );
    }

    /// One tenant's requests past its share of the process answer 429 (42907) with
    /// `Retry-After`, once its token is verified; another tenant's go through, and a request
    /// without a valid token is a 401 that spends no one's share.
    #[actix_web::test]
    async fn a_tenant_past_its_share_of_requests_waits_and_others_do_not() {
        use crate::auth::{Claims, JwtVerifier, mint_hs256};
        const SECRET: &str = "a-test-secret-of-thirty-two-bytes!";
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("address").port();
        let http = one_request_a_second();
        let verifier = web::Data::new(
            JwtVerifier::from_settings(&leadgen_settings::AuthSettings {
                algorithm: "HS256".into(),
                hmac_secret: Some(leadgen_settings::SecretString::from(SECRET.to_owned())),
                public_key_pem: None,
                additional_public_keys_pem: Vec::new(),
                issuer: None,
                audience: None,
            })
            .expect("verifier"),
        );
        let server = serve(
            listener,
            Arc::new(Up),
            &http,
            move |cfg: &mut web::ServiceConfig| {
                cfg.app_data(verifier.clone())
                    .service(resource("/mine", "GET").route(web::get().to(
                        |user: crate::AuthUser| async move {
                            crate::ok(serde_json::json!({ "tenant": user.tenant_id.get() }))
                        },
                    )));
            },
        )
        .expect("serve");
        let handle = server.handle();
        actix_web::rt::spawn(server);
        let token = |tenant: i64| {
            let claims = Claims {
                sub: 7,
                tenant_id: tenant,
                name: "张三".into(),
                perms: Vec::new(),
                exp: chrono::Utc::now().timestamp() + 60,
                iss: None,
                aud: Vec::new(),
            };
            mint_hs256(SECRET, &claims).expect("token")
        };
        let (one, two) = (token(1), token(2));
        let answers = actix_web::rt::task::spawn_blocking(move || {
            let ask = |bearer: &str| {
                exchange(
                    port,
                    &format!(
                        "GET /mine HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {bearer}\r\n\
                         Connection: close\r\n\r\n"
                    ),
                )
            };
            (ask("not-a-token"), ask(&one), ask(&one), ask(&two))
        })
        .await
        .expect("requests");
        handle.stop(false).await;
        let (forged, first, again, other) = answers;
        assert!(forged.starts_with("HTTP/1.1 401"), "{forged}");
        assert!(first.starts_with("HTTP/1.1 200"), "{first}");
        assert!(again.starts_with("HTTP/1.1 429"), "{again}");
        assert!(again.contains("\"code\":42907"), "{again}");
        assert!(
            again.to_ascii_lowercase().contains("retry-after: 1"),
            "{again}"
        );
        assert!(other.starts_with("HTTP/1.1 200"), "{other}");
    }
}
