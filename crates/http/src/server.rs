//! Serving: health and readiness endpoints, request tracing, the default 404, graceful stop.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::{HttpResponse, web};
use leadgen_settings::HttpSettings;
use serde::Serialize;
use tokio_util::sync::CancellationToken;
use tracing_actix_web::{DefaultRootSpanBuilder, TracingLogger};

use crate::ApiError;
use crate::error::{json_config, path_config, query_config};

/// What `/readyz` checks: each dependency's name and whether it answers.
#[async_trait::async_trait]
pub trait Readiness: Send + Sync + 'static {
    async fn check(&self) -> Vec<(&'static str, bool)>;
}

/// Binds the configured address (port `0` picks a free one).
pub fn bind(settings: &HttpSettings) -> std::io::Result<TcpListener> {
    TcpListener::bind((settings.host.as_str(), settings.port))
}

/// Request tracing: one root span per request, continuing an incoming `traceparent`.
pub fn tracing_middleware() -> TracingLogger<DefaultRootSpanBuilder> {
    TracingLogger::default()
}

/// Registers the extractor error handlers and `/healthz`, `/readyz`.
pub fn configure(
    readiness: Arc<dyn Readiness>,
) -> impl Fn(&mut web::ServiceConfig) + Clone + Send + 'static {
    move |cfg: &mut web::ServiceConfig| {
        cfg.app_data(json_config())
            .app_data(query_config())
            .app_data(path_config())
            .app_data(web::Data::from(Arc::clone(&readiness)))
            .route("/healthz", web::get().to(healthz))
            .route("/readyz", web::get().to(readyz));
    }
}

/// 404 in the envelope for unknown paths.
pub async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::not_found("接口"))
}

async fn healthz() -> HttpResponse {
    crate::ok(serde_json::json!({ "status": "UP" }))
}

#[derive(Serialize)]
struct Check {
    name: &'static str,
    up: bool,
}

async fn readyz(readiness: web::Data<dyn Readiness>) -> HttpResponse {
    let checks: Vec<Check> = readiness
        .check()
        .await
        .into_iter()
        .map(|(name, up)| Check { name, up })
        .collect();
    let ready = checks.iter().all(|c| c.up);
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

/// A server with only `/healthz` and `/readyz`, for the workers.
pub fn health_server(
    listener: TcpListener,
    readiness: Arc<dyn Readiness>,
    shutdown_timeout_secs: u64,
) -> std::io::Result<Server> {
    Ok(actix_web::HttpServer::new(move || {
        actix_web::App::new()
            .wrap(tracing_middleware())
            .configure(configure(Arc::clone(&readiness)))
            .default_service(web::to(not_found))
    })
    .listen(listener)?
    .disable_signals()
    .shutdown_timeout(shutdown_timeout_secs)
    .workers(1)
    .run())
}
