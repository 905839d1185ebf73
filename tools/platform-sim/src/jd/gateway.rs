//! The JOS gateway, `/jd/routerjson` (GET or POST form): system parameters, signature, token,
//! faults, then the API method.
//!
//! Check order: `method` (14), `app_key` (21), rate limit (2), `v` (4/5), `sign_method` (12),
//! `format` (16), `timestamp` (7/8; `yyyy-MM-dd HH:mm:ss` GMT+8 or jd-sdk's
//! `yyyy-MM-dd HH:mm:ss.SSS+0800`, ±6 min), `sign` (11/12: exact upper hex over the sorted `k+v`,
//! empties not signed, secret-wrapped md5 or keyed hmacmd5/hmacsha256), method exists (15),
//! `access_token` (19), then the business parameters (`apiResult.success=false`; for the
//! decrypt API `returnType.code`, see [`super::decrypt`]). The access token decides the shop: a
//! method sees the orders of the seller who consented to the token's authorization only.

use std::time::Instant;

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Duration, Utc};

use leadgen_domain::time::parse_beijing;
use leadgen_platforms::sign::{Params, SignMethod, signatures_match, sorted_concat_sign};

use super::errors::JdError;
use super::{PLATFORM, decrypt, orders_for, search};
use crate::faults::QpsVerdict;
use crate::gateway::{self, Answer};
use crate::http_util::{non_empty, request_params};
use crate::state::SimState;
use crate::stats::bump;

/// How far a request's timestamp may be from the gateway's clock [3p].
pub const TIMESTAMP_TOLERANCE_MINUTES: i64 = 6;

/// The API methods this gateway knows.
pub const METHODS: &[&str] = &[
    "jingdong.pop.order.enSearch",
    "jingdong.pop.order.search",
    decrypt::METHOD,
];

const JSON: &str = "application/json;charset=utf-8";

/// `GET|POST /jd/routerjson`.
pub async fn routerjson(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<SimState>,
) -> HttpResponse {
    let params = request_params(&req, &body);
    let method = gateway::method_param(&params, "method");
    if let Some(page) = gateway::admit(&state, PLATFORM, &method).await {
        return page;
    }
    match handle(&state, &params, Instant::now()) {
        Ok(answer) => gateway::success(&state, PLATFORM, JSON, &answer),
        Err(err) => {
            tracing::debug!(code = err.code, zh = %err.zh_desc, "jd api error");
            gateway::refusal(&state, PLATFORM, JSON, err.code, &err.to_json())
        }
    }
}

/// Reads a JOS timestamp: `yyyy-MM-dd HH:mm:ss` (GMT+8) or `yyyy-MM-dd HH:mm:ss.SSS+0800`.
pub fn parse_timestamp(text: &str) -> Option<DateTime<Utc>> {
    parse_beijing(text).or_else(|| {
        DateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.3f%z")
            .ok()
            .map(|t| t.with_timezone(&Utc))
    })
}

fn handle(state: &SimState, params: &Params, now_instant: Instant) -> Result<Answer, JdError> {
    let method = non_empty(params, "method").ok_or_else(JdError::missing_method)?;
    let app_key = non_empty(params, "app_key").unwrap_or_default();
    let app = state
        .apps
        .find(PLATFORM, app_key)
        .ok_or_else(|| JdError::invalid_app_key(app_key))?;
    let qps_key = format!("{}:{app_key}", PLATFORM.as_str());
    if let QpsVerdict::Banned { .. } = state.faults.check_qps(&qps_key, now_instant) {
        return Err(JdError::call_limited());
    }
    match non_empty(params, "v") {
        None => return Err(JdError::missing_version()),
        Some("2.0") => {}
        Some(_) => return Err(JdError::unsupported_version()),
    }
    let sign_method = match non_empty(params, "sign_method").unwrap_or("md5") {
        "md5" => SignMethod::Md5,
        "hmacmd5" => SignMethod::HmacMd5,
        "hmacsha256" => SignMethod::HmacSha256,
        other => {
            let why = format!("不支持的签名方法 {other}");
            return Err(JdError::invalid_signature(&why));
        }
    };
    if non_empty(params, "format").is_some_and(|f| f != "json") {
        return Err(JdError::invalid_format());
    }
    let timestamp = non_empty(params, "timestamp").ok_or_else(JdError::missing_timestamp)?;
    let sent_at = parse_timestamp(timestamp)
        .ok_or_else(|| JdError::invalid_timestamp("格式应为yyyy-MM-dd HH:mm:ss"))?;
    let now = state.now();
    if (now - sent_at).abs() > Duration::minutes(TIMESTAMP_TOLERANCE_MINUTES) {
        return Err(JdError::invalid_timestamp("与服务器时间相差超过6分钟"));
    }
    let given = non_empty(params, "sign").ok_or_else(JdError::missing_signature)?;
    let expected = sorted_concat_sign(sign_method, &app.secret, params);
    if !signatures_match(&expected, given) {
        return Err(JdError::invalid_signature("签名校验失败"));
    }
    if !METHODS.contains(&method) {
        return Err(JdError::invalid_method(method));
    }
    let token = non_empty(params, "access_token")
        .ok_or_else(|| JdError::invalid_access_token("缺少access_token"))?;
    let ttl = state.faults.token_ttl_calls();
    let generation = state.faults.generation();
    let shop = state
        .jd
        .tokens()
        .check(app_key, token, now, ttl, generation)
        .map_err(|p| JdError::invalid_access_token(&format!("{p:?}")))?;
    if method == decrypt::METHOD {
        let (body, code) =
            decrypt::answer(state, &shop, non_empty(params, "360buy_param_json"), now)?;
        if code != 0 {
            let key = format!("returnType:{code}");
            state
                .stats
                .with(PLATFORM, |s| bump(&mut s.api_errors_by_code, key));
        }
        state.jd.tokens().record_call(token);
        return Ok(Answer {
            body,
            is_order_list: false,
        });
    }
    let body = match search::parse(non_empty(params, "360buy_param_json"), now) {
        Ok(query) => {
            let orders = orders_for(state, &shop);
            search::answer(method, query.result(&orders.orders))
        }
        Err(failure) => {
            state.stats.with(PLATFORM, |s| {
                bump(
                    &mut s.api_errors_by_code,
                    format!("apiResult:{}", failure.number_code),
                )
            });
            return Ok(Answer {
                body: search::failure(method, &failure),
                is_order_list: false,
            });
        }
    };
    state.jd.tokens().record_call(token);
    Ok(Answer {
        body,
        is_order_list: true,
    })
}
