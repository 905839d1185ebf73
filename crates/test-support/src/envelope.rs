//! The response envelope every gateway API answer shares (`docs/api-conventions.md`), checked
//! the same way by every service's API tests.

use reqwest::{Response, StatusCode};
use serde_json::Value;

/// Whether `s` is a valid, non-zero trace id: 32 lowercase hex digits.
pub fn is_trace_id(s: &str) -> bool {
    s.len() == 32
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        && s.bytes().any(|b| b != b'0')
}

/// The envelope's shared fields, on an already parsed body: `code`, a non-empty `message`, a
/// trace id, and `data` present.
pub fn check_fields(body: &Value, code: u32) {
    assert_eq!(body["code"], u64::from(code), "code: {body}");
    let message = body["message"].as_str().expect("message is a string");
    assert!(!message.trim().is_empty(), "message is empty: {body}");
    let trace_id = body["traceId"].as_str().expect("traceId is a string");
    assert!(is_trace_id(trace_id), "traceId {trace_id:?}");
    assert!(body.get("data").is_some(), "data is present: {body}");
}

/// Checks an answer (`actual` status, its `Content-Type`, its body `text`) against the
/// `expected` status and business `code`: JSON, the shared fields, `data` `null` on errors, and
/// `errors` (a 422's failed fields, never empty) only on a 422. Answers the parsed body.
pub fn check(actual: u16, content_type: &str, text: &str, expected: u16, code: u32) -> Value {
    assert_eq!(actual, expected, "unexpected status; body: {text}");
    assert!(
        content_type.starts_with("application/json"),
        "content-type {content_type:?}; body: {text}"
    );
    let body: Value = serde_json::from_str(text).expect("a JSON envelope");
    check_fields(&body, code);
    if expected >= 400 {
        assert!(body["data"].is_null(), "errors carry data null: {body}");
    }
    if expected == 422 {
        let errors = body["errors"]
            .as_array()
            .expect("a 422 lists its failed fields");
        assert!(!errors.is_empty(), "{body}");
    } else {
        assert!(body.get("errors").is_none(), "no errors list: {body}");
    }
    body
}

/// Reads `response`'s envelope and [`check`]s it against `status` and `code`.
pub async fn expect_envelope(response: Response, status: StatusCode, code: u32) -> Value {
    let actual = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let text = response.text().await.expect("response body");
    check(actual.as_u16(), &content_type, &text, status.as_u16(), code)
}
