//! HTTP metrics (`docs/metrics.md`): every request counted and timed by method, matched route and
//! status, and `GET /metrics` rendering the process's Prometheus metrics.

use std::time::Instant;

use actix_web::HttpResponse;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;

/// The middleware (`actix_web::middleware::from_fn(record)`): outermost, so refusals by the
/// other middleware count too.
pub async fn record(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let method = method_label(req.method());
    let response = next.call(req).await;
    let (route, status) = match &response {
        Ok(r) => (
            r.request()
                .match_pattern()
                .unwrap_or_else(|| "unmatched".to_owned()),
            r.status().as_u16(),
        ),
        Err(e) => (
            "unmatched".to_owned(),
            e.as_response_error().status_code().as_u16(),
        ),
    };
    let labels = [
        ("method", method),
        ("route", route),
        ("status", status.to_string()),
    ];
    metrics::counter!("http_server_requests_total", &labels).increment(1);
    metrics::histogram!("http_server_request_duration_seconds", &labels)
        .record(started.elapsed().as_secs_f64());
    response
}

/// The `method` label (and the request span's method): a standard method as it is, anything
/// else `_OTHER` (the OpenTelemetry convention): a client may send any token as a method, and
/// each would be a new series, or a new span name.
pub(crate) fn method_label(method: &actix_web::http::Method) -> String {
    use actix_web::http::Method;
    let known = [
        Method::GET,
        Method::HEAD,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
        Method::OPTIONS,
        Method::CONNECT,
        Method::TRACE,
    ];
    if known.contains(method) {
        method.as_str().to_owned()
    } else {
        "_OTHER".to_owned()
    }
}

/// `GET /metrics`: the Prometheus text format.
pub async fn render() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(leadgen_telemetry::metrics::render())
}

#[cfg(test)]
mod tests {
    use actix_web::http::Method;

    #[test]
    fn unknown_methods_share_one_label() {
        assert_eq!(super::method_label(&Method::PATCH), "PATCH");
        let made_up = Method::from_bytes(b"XYZ123").expect("a token");
        assert_eq!(super::method_label(&made_up), "_OTHER");
    }
}
