//! The TOP gateway, `/taobao/router/rest`: system-parameter checks, signature, session, faults,
//! then the API method.
//!
//! Check order: `method` (21), `app_key` (28/29), rate limit (7), `v` (32/33/34), `format` (23),
//! `sign_method` (41), `timestamp` (30/31), `sign` (24/25), method exists (22), `session` (26/27),
//! then the method's own arguments (40/41). The session decides the shop: a method sees the
//! orders of the seller who consented to the session's authorization only.

use std::time::Instant;

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Duration, Utc};

use leadgen_domain::time::parse_beijing;
use leadgen_platforms::sign::{Params, SignMethod, signatures_match, sorted_concat_sign};

use super::errors::TopError;
use super::tokens::sub_msg;
use super::{PLATFORM, decrypt, trades};
use crate::faults::QpsVerdict;
use crate::gateway;
use crate::http_util::{non_empty, request_id, request_params};
use crate::state::SimState;

/// How far a request's timestamp may be from the gateway's clock.
pub const TIMESTAMP_TOLERANCE_MINUTES: i64 = 10;

/// What a successful API method answers: the whole body, `{"<method>_response": {…}}`.
pub use crate::gateway::Answer as ApiAnswer;

/// The API methods this gateway knows.
const METHODS: &[&str] = &[
    "taobao.trades.sold.get",
    "taobao.trades.sold.increment.get",
    decrypt::METHOD,
];

const JSON: &str = "application/json;charset=UTF-8";

/// `GET|POST /taobao/router/rest`.
pub async fn router_rest(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<SimState>,
) -> HttpResponse {
    let params = request_params(&req, &body);
    let method = gateway::method_param(&params, "method");
    if let Some(page) = gateway::admit(&state, PLATFORM, &method).await {
        return page;
    }
    let request_id = request_id();
    match handle(&state, &params, Instant::now()) {
        Ok(answer) => gateway::success(&state, PLATFORM, JSON, &answer),
        Err(err) => {
            tracing::debug!(code = err.code, msg = %err.msg, sub_msg = ?err.sub_msg, "taobao api error");
            let body = err.to_json(&request_id);
            gateway::refusal(&state, PLATFORM, JSON, err.code.to_string(), &body)
        }
    }
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
    let shop = state
        .taobao
        .tokens()
        .check_session(app_key, session, now, ttl, generation)
        .map_err(|p| TopError::invalid_session(sub_msg(p)))?;
    let answer = match method {
        decrypt::METHOD => decrypt::answer(state, &shop, params, now)?,
        _ => trades::dispatch(state, method, &shop, params, now)?,
    };
    state.taobao.tokens().record_call(session);
    Ok(answer)
}
