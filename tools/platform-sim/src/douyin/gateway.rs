//! The Douyin Open API gateway, `POST /douyin/{method with . → /}`: system parameters in the
//! query, `param_json` as the JSON body.
//!
//! Check order: path known (70000), `app_key` (40001/40003), `method` present and equal to the
//! path (40001/40003), rate limit (60000), `v=2`, `sign_method` (`md5` when absent,
//! `hmac-sha256`), `timestamp` (`yyyy-MM-dd HH:mm:ss` Beijing or unix seconds, ±10 min), `sign`
//! (exact lower hex over the raw body), `param_json` is a JSON object, then per method:
//! `token.create` / `token.refresh` (no access token), or the access token (40001/40003 with
//! `isv.access-token-*`) and the business parameters (40003; for `order.batchDecrypt` also its
//! permission, quota and items, see [`super::decrypt`]). The access token decides the shop: a
//! method sees the orders of the seller who consented to the token's authorization only.

use std::time::Instant;

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

use leadgen_domain::time::parse_beijing;
use leadgen_platforms::sign::{Params, SignMethod, douyin_sign, signatures_match};

use super::errors::{DyError, log_id};
use super::tokens::TokenProblem;
use super::{PLATFORM, decrypt, oauth, search};
use crate::faults::QpsVerdict;
use crate::gateway;
use crate::http_util::{non_empty, request_params};
use crate::state::SimState;
use crate::tokens::CallBudget;

/// How far `timestamp` may be from the gateway's clock [unverified].
pub const TIMESTAMP_TOLERANCE_MINUTES: i64 = 10;

/// The methods this gateway serves.
pub const METHODS: &[&str] = &[
    "token.create",
    "token.refresh",
    "order.searchList",
    decrypt::METHOD,
];

/// A successful method's answer.
pub use crate::gateway::Answer as ApiAnswer;
/// One call as the handlers see it.
pub use crate::gateway::Call;

const JSON: &str = "application/json; charset=utf-8";

/// `POST /douyin/{tail}`.
pub async fn gateway(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<SimState>,
) -> HttpResponse {
    let path_method = gateway::path_method(&req);
    let query = request_params(&req, &[]);
    if let Some(page) = gateway::admit(&state, PLATFORM, &path_method).await {
        return page;
    }
    match handle(&state, &path_method, &query, &body, Instant::now()) {
        Ok(answer) => gateway::success(&state, PLATFORM, JSON, &answer),
        Err(err) => {
            tracing::debug!(code = err.code, sub_code = %err.sub_code, "douyin api error");
            let code = err.code.to_string();
            gateway::refusal(&state, PLATFORM, JSON, code, &err.to_json(&log_id()))
        }
    }
}

/// `yyyy-MM-dd HH:mm:ss` (Beijing) as doudian==0.6 sends it, or unix seconds as the Go SDK does.
pub fn parse_timestamp(text: &str) -> Option<DateTime<Utc>> {
    if text.bytes().all(|b| b.is_ascii_digit()) {
        return DateTime::from_timestamp(text.parse().ok()?, 0);
    }
    parse_beijing(text)
}

fn handle(
    state: &SimState,
    path_method: &str,
    query: &Params,
    body: &[u8],
    now_instant: Instant,
) -> Result<ApiAnswer, DyError> {
    if !METHODS.contains(&path_method) {
        return Err(DyError::api_off(path_method));
    }
    let app_key = non_empty(query, "app_key").ok_or_else(DyError::app_key_missing)?;
    let app = state
        .apps
        .find(PLATFORM, app_key)
        .ok_or_else(DyError::app_key_invalid)?;
    let method = non_empty(query, "method").ok_or_else(DyError::method_missing)?;
    if method != path_method {
        return Err(DyError::method_mismatch(method, path_method));
    }
    let qps_key = format!("{}:{app_key}", PLATFORM.as_str());
    if let QpsVerdict::Banned { .. } = state.faults.check_qps(&qps_key, now_instant) {
        return Err(DyError::rate_limited());
    }
    if non_empty(query, "v") != Some("2") {
        return Err(DyError::version_invalid());
    }
    let sign_method = match non_empty(query, "sign_method") {
        None | Some("md5") => SignMethod::Md5,
        Some("hmac-sha256") => SignMethod::HmacSha256,
        Some(_) => return Err(DyError::sign_method_invalid()),
    };
    let timestamp = non_empty(query, "timestamp").ok_or_else(DyError::timestamp_format)?;
    let sent_at = parse_timestamp(timestamp).ok_or_else(DyError::timestamp_format)?;
    let now = state.now();
    if (now - sent_at).abs() > Duration::minutes(TIMESTAMP_TOLERANCE_MINUTES) {
        return Err(DyError::timestamp_invalid());
    }
    let given = non_empty(query, "sign").ok_or_else(DyError::signature_missing)?;
    let param_json = if body.is_empty() {
        query
            .get("param_json")
            .cloned()
            .unwrap_or_else(|| "{}".to_owned())
    } else {
        String::from_utf8(body.to_vec()).map_err(|_| DyError::param_json_invalid())?
    };
    let expected = douyin_sign(
        sign_method,
        &app.secret,
        app_key,
        method,
        &param_json,
        timestamp,
    );
    if !signatures_match(&expected, given) {
        return Err(DyError::signature_invalid());
    }
    let params: Value = serde_json::from_str(&param_json)
        .ok()
        .filter(Value::is_object)
        .ok_or_else(DyError::param_json_invalid)?;
    let call = Call {
        app_key,
        params: &params,
        now,
    };
    match method {
        "token.create" => oauth::token_create(state, &call),
        "token.refresh" => oauth::token_refresh(state, &call),
        _ => {
            let token = non_empty(query, "access_token").ok_or_else(DyError::token_missing)?;
            let budget = CallBudget::of(&state.faults);
            let shop = state
                .douyin
                .tokens()
                .check(app_key, token, now, budget)
                .map_err(|p| match p {
                    TokenProblem::Unknown => DyError::token_unknown(),
                    TokenProblem::OtherApp => DyError::token_other_app(),
                    TokenProblem::Expired => DyError::token_expired(),
                })?;
            let answer = match method {
                decrypt::METHOD => decrypt::batch_decrypt(state, &call, &shop)?,
                _ => search::search_list(state, &call, &shop)?,
            };
            state.douyin.tokens().record_call(token);
            Ok(answer)
        }
    }
}
