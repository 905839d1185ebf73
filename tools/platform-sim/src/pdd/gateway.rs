//! The PDD gateway, `/pdd/api/router` (GET or POST form): system parameters, signature, token,
//! faults, then the API.
//!
//! Check order: `type` (10001), `client_id` (10016), rate limit (70031), `data_type` (10001: `JSON`
//! or absent), `version` (10001: `V1` or absent), `timestamp` (10001: unix seconds, ±10 min),
//! `sign` (10001 `sign-check-failure`: exact upper-hex md5 over the sorted `k+v`; an empty value is
//! accepted dropped or signed as `key+""`), API exists (10001 `type-not-exist`), `access_token`
//! (10019 for missing, unknown, replaced or expired tokens), then the business parameters (10002;
//! for `pdd.open.decrypt.batch` also its permission, quota and items, see [`super::decrypt`]).
//! The access token decides the shop: an API sees the orders of the seller who consented to the
//! token's authorization only (the decrypt quota is the client id's).
//!
//! Both order listings, `pdd.order.list.get` ([`super::list`]) and
//! `pdd.order.number.list.increment.get` ([`super::increment`]), are order lists to the faults
//! (`malformed_every`) and count against `token_ttl_calls` like every other call.

use std::time::Instant;

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Duration, Utc};

use leadgen_platforms::sign::{Params, SignMethod, signatures_match, sorted_concat_sign};

use super::errors::PddError;
use super::{PLATFORM, decrypt, increment, list, orders_for};
use crate::faults::QpsVerdict;
use crate::gateway::{self, Answer};
use crate::http_util::{non_empty, request_params};
use crate::state::SimState;

/// How far a request's timestamp may be from the gateway's clock.
pub const TIMESTAMP_TOLERANCE_MINUTES: i64 = 10;

/// The APIs this gateway knows.
pub const TYPES: &[&str] = &[
    "pdd.order.list.get",
    increment::TYPE,
    "pdd.open.decrypt.batch",
];

const JSON: &str = "application/json;charset=UTF-8";

/// `GET|POST /pdd/api/router`.
pub async fn router(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<SimState>,
) -> HttpResponse {
    let params = request_params(&req, &body);
    let method = gateway::method_param(&params, "type");
    if let Some(page) = gateway::admit(&state, PLATFORM, &method).await {
        return page;
    }
    match handle(&state, &params, Instant::now()) {
        Ok(answer) => gateway::success(&state, PLATFORM, JSON, &answer),
        Err(err) => {
            tracing::debug!(code = err.error_code, sub_msg = %err.sub_msg, "pdd api error");
            let code = err.error_code.to_string();
            gateway::refusal(&state, PLATFORM, JSON, code, &err.to_json())
        }
    }
}

/// Reads a unix-seconds timestamp (10 digits today; milliseconds are refused).
pub fn parse_timestamp(text: &str) -> Option<DateTime<Utc>> {
    if text.is_empty() || text.len() > 10 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    DateTime::from_timestamp(text.parse().ok()?, 0)
}

/// Whether `given` signs `params`: empties dropped (our rule), or signed as `key + ""` (as some
/// PDD SDKs do).
fn sign_matches(secret: &str, params: &Params, given: &str) -> bool {
    if signatures_match(&sorted_concat_sign(SignMethod::Md5, secret, params), given) {
        return true;
    }
    if !params.values().any(String::is_empty) {
        return false;
    }
    let text: String = params
        .iter()
        .filter(|(k, _)| *k != "sign")
        .map(|(k, v)| format!("{k}{v}"))
        .collect();
    // One parameter whose `k + v` is the whole concatenation signs exactly that text.
    let Some((cut, _)) = text.char_indices().last() else {
        return false;
    };
    let (head, tail) = text.split_at(cut);
    let single: Params = [(head.to_owned(), tail.to_owned())].into_iter().collect();
    signatures_match(&sorted_concat_sign(SignMethod::Md5, secret, &single), given)
}

fn handle(state: &SimState, params: &Params, now_instant: Instant) -> Result<Answer, PddError> {
    let api_type = non_empty(params, "type")
        .ok_or_else(|| PddError::common("type-missing", "type 不能为空"))?;
    let client_id = non_empty(params, "client_id")
        .ok_or_else(|| PddError::invalid_client("client_id 不能为空"))?;
    let app = state
        .apps
        .find(PLATFORM, client_id)
        .ok_or_else(|| PddError::invalid_client(&format!("client_id {client_id} 不存在")))?;
    let qps_key = format!("{}:{client_id}", PLATFORM.as_str());
    if let QpsVerdict::Banned { .. } = state.faults.check_qps(&qps_key, now_instant) {
        return Err(PddError::too_frequent());
    }
    if non_empty(params, "data_type").is_some_and(|d| d != "JSON") {
        return Err(PddError::common(
            "data_type-invalid",
            "data_type 仅支持 JSON",
        ));
    }
    if non_empty(params, "version").is_some_and(|v| v != "V1") {
        return Err(PddError::common("version-invalid", "version 仅支持 V1"));
    }
    let timestamp = non_empty(params, "timestamp")
        .ok_or_else(|| PddError::common("timestamp-missing", "timestamp 不能为空"))?;
    let sent_at = parse_timestamp(timestamp)
        .ok_or_else(|| PddError::common("timestamp-invalid", "timestamp 须为秒级时间戳"))?;
    let now = state.now();
    if (now - sent_at).abs() > Duration::minutes(TIMESTAMP_TOLERANCE_MINUTES) {
        return Err(PddError::common(
            "timestamp-expired",
            "timestamp 与服务器时间相差超过10分钟",
        ));
    }
    let given = non_empty(params, "sign")
        .ok_or_else(|| PddError::common("sign-missing", "sign 不能为空"))?;
    if !sign_matches(&app.secret, params, given) {
        return Err(PddError::bad_sign());
    }
    if !TYPES.contains(&api_type) {
        return Err(PddError::unknown_type(api_type));
    }
    let token = non_empty(params, "access_token")
        .ok_or_else(|| PddError::token_expired("access_token 不能为空"))?;
    let ttl = state.faults.token_ttl_calls();
    let generation = state.faults.generation();
    let shop = state
        .pdd
        .tokens()
        .check(client_id, token, now, ttl, generation)
        .map_err(|p| PddError::token_expired(&format!("{p:?}")))?;
    let orders = orders_for(state, &shop);
    let answer = match api_type {
        "pdd.order.list.get" => Answer {
            body: list::parse(params)?.answer(&orders.orders),
            is_order_list: true,
        },
        increment::TYPE => Answer {
            body: increment::parse(params)?.answer(&orders.orders),
            is_order_list: true,
        },
        _ => Answer {
            body: decrypt::answer(state, client_id, &orders, params, now)?,
            is_order_list: false,
        },
    };
    state.pdd.tokens().record_call(token);
    Ok(answer)
}
