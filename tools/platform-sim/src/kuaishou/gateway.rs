//! The Kuaishou API, `GET|POST /kuaishou/{method with . → /}`: every parameter in the query
//! string or a form body.
//!
//! Check order [unverified codes, see `errors`]: method known for the path (12), `appkey` (10/11),
//! `method` present and equal to the path (10/12), rate limit (17), `version=1` (10/13),
//! `signMethod` `MD5`|`HMAC_SHA256` (10/14), `timestamp` in ms within ±10 min (10/15), `sign`
//! with the app's signSecret (10/16: MD5 lower hex, HMAC-SHA256 Base64), `access_token` (10/25/24),
//! `param` a JSON object (2001), then the method's parameters (2001; for
//! `open.order.decrypt.batch` also its permission and quota, see [`super::decrypt`]). The
//! access token decides the shop: a method sees the orders of the seller who consented to the
//! token's authorization only.

use std::time::Instant;

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Duration};
use serde_json::Value;

use leadgen_platforms::sign::{Params, SignMethod, kuaishou_sign, signatures_match};

use super::errors::KsError;
use super::tokens::TokenProblem;
use super::{PLATFORM, cursor, decrypt, secrets};
use crate::faults::QpsVerdict;
use crate::gateway::{self, Answer};
use crate::http_util::{non_empty, request_params};
use crate::state::SimState;
use crate::tokens::CallBudget;

pub const TIMESTAMP_TOLERANCE_MINUTES: i64 = 10;
pub const METHODS: &[&str] = &["open.order.cursor.list", decrypt::METHOD];

/// One call as the methods see it.
pub use crate::gateway::Call;

const JSON: &str = "application/json;charset=UTF-8";

/// `GET|POST /kuaishou/{tail}`.
pub async fn gateway(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<SimState>,
) -> HttpResponse {
    let path_method = gateway::path_method(&req);
    let params = request_params(&req, &body);
    if let Some(page) = gateway::admit(&state, PLATFORM, &path_method).await {
        return page;
    }
    match handle(&state, &path_method, &params, Instant::now()) {
        Ok(answer) => gateway::success(&state, PLATFORM, JSON, &answer),
        Err(err) => {
            tracing::debug!(result = err.result, error_msg = %err.error_msg, "kuaishou api error");
            let code = err.result.to_string();
            gateway::refusal(&state, PLATFORM, JSON, code, &err.to_json())
        }
    }
}

fn required<'a>(params: &'a Params, key: &str) -> Result<&'a str, KsError> {
    non_empty(params, key).ok_or_else(|| KsError::missing(key))
}

fn handle(
    state: &SimState,
    path_method: &str,
    params: &Params,
    now_instant: Instant,
) -> Result<Answer, KsError> {
    if !METHODS.contains(&path_method) {
        return Err(KsError::unknown_method(path_method));
    }
    let app_key = required(params, "appkey")?;
    let app = state
        .apps
        .find(PLATFORM, app_key)
        .ok_or_else(KsError::unknown_app)?;
    let method = required(params, "method")?;
    if method != path_method {
        return Err(KsError::method_mismatch(method, path_method));
    }
    let qps_key = format!("{}:{app_key}", PLATFORM.as_str());
    if let QpsVerdict::Banned { .. } = state.faults.check_qps(&qps_key, now_instant) {
        return Err(KsError::rate_limited());
    }
    if required(params, "version")? != "1" {
        return Err(KsError::version());
    }
    let sign_method = match required(params, "signMethod")? {
        "MD5" => SignMethod::Md5,
        "HMAC_SHA256" => SignMethod::HmacSha256,
        _ => return Err(KsError::sign_method()),
    };
    let timestamp = required(params, "timestamp")?;
    let sent_at = timestamp
        .parse::<i64>()
        .ok()
        .filter(|_| timestamp.bytes().all(|b| b.is_ascii_digit()))
        .and_then(DateTime::from_timestamp_millis)
        .ok_or_else(|| KsError::timestamp("timestamp应为毫秒时间戳"))?;
    let now = state.now();
    if (now - sent_at).abs() > Duration::minutes(TIMESTAMP_TOLERANCE_MINUTES) {
        return Err(KsError::timestamp("timestamp与服务器时间相差超过10分钟"));
    }
    let given = required(params, "sign")?;
    let (_, sign_secret) = secrets(app);
    if !signatures_match(&kuaishou_sign(sign_method, sign_secret, params), given) {
        return Err(KsError::signature());
    }
    let token = required(params, "access_token")?;
    let budget = CallBudget::of(&state.faults);
    let shop = state
        .kuaishou
        .tokens()
        .check(app_key, token, now, budget)
        .map_err(|p| match p {
            TokenProblem::Invalid => KsError::token_invalid(),
            TokenProblem::Expired => KsError::token_expired(),
        })?;
    let param: Value = match non_empty(params, "param") {
        None => Value::Object(Default::default()),
        Some(text) => serde_json::from_str(text)
            .ok()
            .filter(Value::is_object)
            .ok_or_else(|| KsError::business("param", "不是合法的JSON对象"))?,
    };
    let call = Call {
        app_key,
        params: &param,
        now,
    };
    let answer = match method {
        decrypt::METHOD => Answer {
            body: decrypt::decrypt_batch(state, &call, &shop)?,
            is_order_list: false,
        },
        _ => Answer {
            body: cursor::cursor_list(state, &call, &shop)?,
            is_order_list: true,
        },
    };
    state.kuaishou.tokens().record_call(token);
    Ok(answer)
}
