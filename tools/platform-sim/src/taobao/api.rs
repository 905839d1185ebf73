//! The TOP gateway, `/taobao/router/rest`: system-parameter checks, signature, session, faults,
//! then the API method.
//!
//! Check order: `method` (21), `app_key` (28/29), rate limit (7), `v` (32/33/34), `format` (23),
//! `sign_method` (41), `timestamp` (30/31), `sign` (24/25), method exists (22), `session` (26/27),
//! then the method's own arguments (40/41).

use std::time::Instant;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

use leadgen_domain::time::parse_beijing;
use leadgen_platforms::sign::{Params, SignMethod, signatures_match, sorted_concat_sign};

use super::errors::TopError;
use super::{PLATFORM, trades};
use crate::faults::QpsVerdict;
use crate::http_util::{gateway_error_page, request_id, request_params, truncate_body};
use crate::state::SimState;
use crate::stats::bump;

/// How far a request's timestamp may be from the gateway's clock.
pub const TIMESTAMP_TOLERANCE_MINUTES: i64 = 10;

/// What a successful API method answers.
pub struct ApiAnswer {
    /// The whole body, `{"<method>_response": {…}}`.
    pub body: Value,
    /// An order list (subject to the `malformed_every` fault).
    pub is_order_list: bool,
}

/// The API methods this gateway knows.
const METHODS: &[&str] = &["taobao.trades.sold.get", "taobao.trades.sold.increment.get"];

fn json_response(body: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json;charset=UTF-8")
        .body(body)
}

/// `GET|POST /taobao/router/rest`.
pub async fn router_rest(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<SimState>,
) -> HttpResponse {
    let params = request_params(&req, &body);
    let method = params.get("method").cloned().unwrap_or_default();
    if let Some(delay) = state.faults.delay() {
        actix_web::rt::time::sleep(delay).await;
    }
    state.stats.with(PLATFORM, |s| {
        s.api_calls += 1;
        bump(
            &mut s.api_calls_by_method,
            if method.is_empty() {
                "(none)"
            } else {
                method.as_str()
            },
        );
    });
    if let Some(status) = state.faults.take_http_fault() {
        state.stats.with(PLATFORM, |s| {
            bump(&mut s.http_faults_by_status, status.to_string())
        });
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
        return gateway_error_page(status);
    }
    let request_id = request_id();
    match handle(&state, &params, Instant::now()) {
        Ok(answer) => {
            state.faults.record_success();
            let text = answer.body.to_string();
            if answer.is_order_list && state.faults.next_list_is_malformed() {
                state.stats.with(PLATFORM, |s| s.malformed_responses += 1);
                return json_response(truncate_body(&text));
            }
            json_response(text)
        }
        Err(err) => {
            state.stats.with(PLATFORM, |s| {
                bump(&mut s.api_errors_by_code, err.code.to_string())
            });
            tracing::debug!(code = err.code, msg = %err.msg, sub_msg = ?err.sub_msg, "taobao api error");
            json_response(err.to_json(&request_id).to_string())
        }
    }
}

fn non_empty<'a>(params: &'a Params, key: &str) -> Option<&'a str> {
    params
        .get(key)
        .map(String::as_str)
        .filter(|v| !v.is_empty())
}

/// Reads a TOP timestamp: `yyyy-MM-dd HH:mm:ss` (GMT+8), or epoch milliseconds as the Python
/// SDKs send it.
pub fn parse_timestamp(text: &str) -> Option<DateTime<Utc>> {
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        let ms: i64 = text.parse().ok()?;
        return DateTime::from_timestamp_millis(ms);
    }
    parse_beijing(text)
}

fn handle(state: &SimState, params: &Params, now_instant: Instant) -> Result<ApiAnswer, TopError> {
    let method = non_empty(params, "method").ok_or_else(TopError::missing_method)?;
    let app_key = non_empty(params, "app_key").ok_or_else(TopError::missing_app_key)?;
    let app = state
        .apps
        .find(PLATFORM, app_key)
        .ok_or_else(TopError::invalid_app_key)?;
    let qps_key = format!("{}:{app_key}", PLATFORM.as_str());
    if let QpsVerdict::Banned { seconds } = state.faults.check_qps(&qps_key, now_instant) {
        return Err(TopError::app_call_limited(seconds));
    }
    match non_empty(params, "v") {
        None => return Err(TopError::missing_version()),
        Some("2.0") => {}
        Some(v)
            if v.split('.')
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())) =>
        {
            return Err(TopError::unsupported_version());
        }
        Some(_) => return Err(TopError::invalid_version()),
    }
    if non_empty(params, "format").is_some_and(|f| f != "json") {
        return Err(TopError::invalid_format());
    }
    let sign_method = match non_empty(params, "sign_method").unwrap_or("md5") {
        "md5" => SignMethod::Md5,
        "hmac" => SignMethod::HmacMd5,
        "hmac-sha256" => SignMethod::HmacSha256,
        _ => {
            let detail = "must be md5, hmac or hmac-sha256";
            return Err(TopError::invalid_argument("sign_method", detail));
        }
    };
    let timestamp = non_empty(params, "timestamp").ok_or_else(TopError::missing_timestamp)?;
    let sent_at = parse_timestamp(timestamp).ok_or_else(|| {
        TopError::invalid_timestamp("timestamp must be yyyy-MM-dd HH:mm:ss (GMT+8)")
    })?;
    let now = state.now();
    if (now - sent_at).abs() > Duration::minutes(TIMESTAMP_TOLERANCE_MINUTES) {
        let why = "timestamp is more than 10 minutes away from the server time (GMT+8)";
        return Err(TopError::invalid_timestamp(why));
    }
    let given_sign = non_empty(params, "sign").ok_or_else(TopError::missing_signature)?;
    let expected = sorted_concat_sign(sign_method, &app.secret, params);
    if !signatures_match(&expected, given_sign) {
        return Err(TopError::invalid_signature());
    }
    if !METHODS.contains(&method) {
        return Err(TopError::invalid_method(method));
    }
    let session = non_empty(params, "session")
        .or_else(|| non_empty(params, "access_token"))
        .ok_or_else(TopError::missing_session)?;
    let ttl = state.faults.token_ttl_calls();
    let generation = state.faults.generation();
    state
        .taobao
        .tokens()
        .check_session(app_key, session, now, ttl, generation)
        .map_err(|p| TopError::invalid_session(p.sub_msg()))?;
    let answer = trades::dispatch(state, method, app_key, params, now)?;
    state.taobao.tokens().record_call(session);
    Ok(answer)
}
