//! The response envelope: `{ "code": 200, "message": "success", "data": …, "traceId": "…" }`.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use serde::Serialize;

/// The envelope, success or error.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Envelope<'a, T: Serialize> {
    pub code: u32,
    pub message: &'a str,
    pub data: Option<T>,
    pub trace_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<&'a [crate::FieldError]>,
}

/// `200` with `data`.
pub fn ok<T: Serialize>(data: T) -> HttpResponse {
    HttpResponse::Ok().json(Envelope {
        code: 200,
        message: "success",
        data: Some(data),
        trace_id: leadgen_telemetry::current_trace_id(),
        errors: None,
    })
}

/// A resource version as an entity tag: `"3"` (RFC 9110 §8.8.3), on a success and on a refusal
/// for a stale `If-Match` alike ([`crate::ApiError::with_etag`]).
pub fn etag(version: impl std::fmt::Display) -> String {
    format!("\"{version}\"")
}

/// `200` with `data` and its `version` as the `ETag` header ([`etag`]).
pub fn ok_versioned<T: Serialize>(data: T, version: impl std::fmt::Display) -> HttpResponse {
    let mut response = ok(data);
    if let Ok(value) = actix_web::http::header::HeaderValue::from_str(&etag(version)) {
        response
            .headers_mut()
            .insert(actix_web::http::header::ETAG, value);
    }
    response
}

/// `201` with `data` and a `Location` header.
pub fn created<T: Serialize>(data: T, location: &str) -> HttpResponse {
    let body = Envelope {
        code: 201,
        message: "success",
        data: Some(&data),
        trace_id: leadgen_telemetry::current_trace_id(),
        errors: None,
    };
    HttpResponse::build(StatusCode::CREATED)
        .insert_header(("Location", location))
        .json(body)
}
