//! What every platform's API gateway does around its own checks: before them the `delay_ms`
//! fault, counting the call and injected HTTP errors (`error_burst`); after them counting the
//! success (for the burst) or the refusal, and the `malformed_every`, `unknown_code_every`,
//! `busy_every` and `overstate_total` faults on order lists. Every answer the platform gives is HTTP 200 JSON with the platform's
//! `Content-Type`.
//!
//! The checks themselves, their order, the error envelopes and codes stay in each platform's
//! gateway module.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde_json::Value;

use leadgen_domain::PlatformType;

use leadgen_platforms::sign::Params;

use crate::http_util::{gateway_error_page, non_empty, truncate_body};
use crate::state::SimState;
use crate::stats::bump;

/// What a successful API method answers.
pub struct Answer {
    /// The whole body.
    pub body: Value,
    /// An order list (subject to the `malformed_every` fault).
    pub is_order_list: bool,
}

/// A call whose business parameters are a JSON object (Douyin's `param_json`, Kuaishou's
/// `param`), as the methods see it.
pub struct Call<'a> {
    pub app_key: &'a str,
    pub params: &'a Value,
    pub now: DateTime<Utc>,
}

/// The method a `/{platform}/{method with . → /}` path names: the `tail` segment
/// (`order/searchList` → `order.searchList`).
pub fn path_method(req: &HttpRequest) -> String {
    req.match_info()
        .query("tail")
        .trim_matches('/')
        .replace('/', ".")
}

/// The method name a call is counted under: the parameter `key`, or `(none)`.
pub fn method_param(params: &Params, key: &str) -> String {
    non_empty(params, key).unwrap_or("(none)").to_owned()
}

/// Before the platform's checks: waits out the `delay_ms` fault, counts the call under
/// `method`, and answers with the load balancer's error page when an error burst is due.
pub async fn admit(state: &SimState, platform: PlatformType, method: &str) -> Option<HttpResponse> {
    if let Some(delay) = state.faults.delay() {
        actix_web::rt::time::sleep(delay).await;
    }
    state.stats.with(platform, |s| {
        s.api_calls += 1;
        bump(&mut s.api_calls_by_method, method);
    });
    let status = state.faults.take_http_fault()?;
    state.stats.with(platform, |s| {
        bump(&mut s.http_faults_by_status, status.to_string())
    });
    Some(gateway_error_page(
        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY),
    ))
}

/// A successful call, counted towards the next error burst; an order list comes out truncated
/// when the `malformed_every` fault says so.
pub fn success(
    state: &SimState,
    platform: PlatformType,
    content_type: &str,
    answer: &Answer,
) -> HttpResponse {
    if answer.is_order_list && state.faults.next_list_is_busy() {
        let mut nth = 0;
        state.stats.with(platform, |s| {
            s.busy_responses += 1;
            nth = s.busy_responses;
        });
        return match busy(platform, nth) {
            Some((code, body)) => refusal(state, platform, content_type, code, &body),
            None => {
                state
                    .stats
                    .with(platform, |s| bump(&mut s.http_faults_by_status, "503"));
                gateway_error_page(StatusCode::SERVICE_UNAVAILABLE)
            }
        };
    }
    if answer.is_order_list && state.faults.next_list_is_unknown_code() {
        let (code, body) = unknown_code(platform);
        return refusal(state, platform, content_type, code, &body);
    }
    state.faults.record_success();
    let text = if answer.is_order_list && state.faults.overstates_total() {
        let mut body = answer.body.clone();
        overstate_total(platform, &mut body);
        body.to_string()
    } else {
        answer.body.to_string()
    };
    if answer.is_order_list && state.faults.next_list_is_malformed() {
        state.stats.with(platform, |s| s.malformed_responses += 1);
        return json_response(content_type, truncate_body(&text));
    }
    json_response(content_type, text)
}

/// One more in the total an order list's `body` carries (the `overstate_total` fault), found
/// under the platform's name for it among the answer's objects (never inside the orders, which
/// are in arrays).
fn overstate_total(platform: PlatformType, body: &mut Value) {
    fn bump(value: &mut Value, key: &str) -> bool {
        let Value::Object(fields) = value else {
            return false;
        };
        if let Some(total) = fields.get_mut(key)
            && let Some(n) = total.as_u64()
        {
            *total = Value::from(n + 1);
            return true;
        }
        fields.values_mut().any(|v| bump(v, key))
    }
    let key = match platform {
        PlatformType::Taobao => "total_results",
        PlatformType::Pdd => "total_count",
        PlatformType::Jd => "orderTotal",
        PlatformType::Douyin => "total",
        PlatformType::Kuaishou => return,
    };
    bump(body, key);
}

/// A refused call: the platform's error `body`, counted under `code`.
pub fn refusal(
    state: &SimState,
    platform: PlatformType,
    content_type: &str,
    code: impl Into<String>,
    body: &Value,
) -> HttpResponse {
    state
        .stats
        .with(platform, |s| bump(&mut s.api_errors_by_code, code));
    json_response(content_type, body.to_string())
}

/// The error `platform` documents for "service unavailable, retry" (the `busy_every` fault),
/// the `nth` time it is answered (the documented codes take turns): the code it is counted
/// under and the body; `None` where the README documents none (JD, Kuaishou), answered as an
/// HTTP 503 instead.
fn busy(platform: PlatformType, nth: u64) -> Option<(&'static str, Value)> {
    // The first, third, … answer takes the first of the two codes, the others the second.
    let turn = usize::from(nth.is_multiple_of(2));
    match platform {
        // README §1.4: 15 with an `isp.*` sub_code is transient, retry.
        PlatformType::Taobao => {
            let (sub_code, sub_msg) = [
                ("isp.remote-service-timeout", "远程服务调用超时"),
                ("isp.remote-service-error", "远程服务调用失败"),
            ][turn];
            Some((
                "15",
                serde_json::json!({"error_response": {"code": 15, "msg": "Remote service error",
                    "sub_code": sub_code, "sub_msg": sub_msg, "request_id": "sim"}}),
            ))
        }
        // README §3.4: 52102 接口暂时不可用, 52103 服务暂时不可用.
        PlatformType::Pdd => {
            let (label, code, text) = [
                ("52103", 52103, "服务暂时不可用"),
                ("52102", 52102, "接口暂时不可用"),
            ][turn];
            Some((
                label,
                serde_json::json!({"error_response": {"error_code": code, "error_msg": text,
                    "sub_code": "", "sub_msg": "", "request_id": "sim"}}),
            ))
        }
        // README §4.4: 20000 / 20001 service unavailable / internal timeout, `isp.service-error`.
        PlatformType::Douyin => {
            let (label, code, text) =
                [("20000", 20000, "服务不可用"), ("20001", 20001, "内部超时")][turn];
            Some((
                label,
                serde_json::json!({"code": code, "msg": text, "sub_code": "isp.service-error",
                    "sub_msg": "服务暂不可用，请稍后重试", "log_id": "sim", "data": null}),
            ))
        }
        PlatformType::Jd | PlatformType::Kuaishou => None,
    }
}

/// An error code `platform` documents nowhere, in its own error envelope (the
/// `unknown_code_every` fault): the code it is counted under and the body.
fn unknown_code(platform: PlatformType) -> (&'static str, Value) {
    let message = "模拟的未知错误";
    match platform {
        PlatformType::Taobao => (
            "9999",
            serde_json::json!({"error_response": {"code": 9999, "msg": "Unknown Error",
                "sub_code": "isp.sim-unknown", "sub_msg": message, "request_id": "sim"}}),
        ),
        PlatformType::Jd => (
            "9999",
            serde_json::json!({"error_response": {"code": "9999", "zh_desc": message,
                "en_desc": "simulated unknown error"}}),
        ),
        PlatformType::Pdd => (
            "60999",
            serde_json::json!({"error_response": {"error_code": 60999, "error_msg": message,
                "sub_code": "", "sub_msg": "", "request_id": "sim"}}),
        ),
        PlatformType::Douyin => (
            "77777",
            serde_json::json!({"code": 77777, "msg": message, "sub_code": "isp.sim-unknown",
                "sub_msg": "", "log_id": "sim", "data": null}),
        ),
        PlatformType::Kuaishou => (
            "802",
            serde_json::json!({"result": 802, "msg": message,
                "error_msg": "simulated unknown error"}),
        ),
    }
}

fn json_response(content_type: &str, body: String) -> HttpResponse {
    HttpResponse::Ok().content_type(content_type).body(body)
}
