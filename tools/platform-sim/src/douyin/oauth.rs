//! The service-market consent page (fuwu.jinritemai.com/authorize) and the token methods.
//!
//! `GET /douyin/authorize?service_id=…&state=…&redirect_uri=…`: the real page knows the redirect
//! URL registered with the app; the simulator takes it as `redirect_uri` (required) and takes the
//! app key as the service id. `POST /douyin/authorize` (the one form) redirects to
//! `redirect_uri?code=…&state=…`.

use actix_web::http::StatusCode;
use actix_web::http::header::LOCATION;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

use leadgen_platforms::sign::Params;

use super::errors::{DyError, success};
use super::gateway::{ApiAnswer, Call};
use super::orders::DyShop;
use super::tokens::{CallBudget, IssuedTokens};
use super::{PLATFORM, shop_for};
use crate::http_util::{html_escape, html_response, request_params};
use crate::state::SimState;
use crate::stats::bump;
use crate::taobao::oauth::append_query;

struct Consent {
    service_id: String,
    redirect_uri: String,
    state: Option<String>,
}

fn validate(state: &SimState, params: &Params) -> Result<Consent, String> {
    let get = |k: &str| params.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let service_id = get("service_id").ok_or("缺少参数 service_id")?;
    if state.apps.find(PLATFORM, service_id).is_none() {
        return Err(format!("服务 {service_id} 不存在或已下架"));
    }
    let redirect_uri =
        get("redirect_uri").ok_or("缺少参数 redirect_uri（模拟器以此代替应用登记的回调地址）")?;
    let valid = url::Url::parse(redirect_uri)
        .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some());
    if !valid {
        return Err(format!("回调地址不合法：{redirect_uri}"));
    }
    Ok(Consent {
        service_id: service_id.to_owned(),
        redirect_uri: redirect_uri.to_owned(),
        state: get("state").map(str::to_owned),
    })
}

fn error_page(state: &SimState, message: &str) -> HttpResponse {
    state.stats.with(PLATFORM, |s| s.authorize_errors += 1);
    html_response(
        StatusCode::BAD_REQUEST,
        format!(
            "<!DOCTYPE html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\
             <title>抖店服务市场 - 授权失败</title></head>\n<body><h2>授权失败</h2><p>{}</p>\
             </body></html>\n",
            html_escape(message)
        ),
    )
}

fn consent_page(shop: &DyShop, consent: &Consent, params: &Params) -> String {
    let hidden: String = params
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| {
            format!(
                "      <input type=\"hidden\" name=\"{}\" value=\"{}\">\n",
                html_escape(k),
                html_escape(v)
            )
        })
        .collect();
    format!(
        "<!DOCTYPE html>\n<html lang=\"zh-CN\">\n<head><meta charset=\"utf-8\">\
         <title>抖店 - 服务市场授权</title></head>\n<body>\n\
         <div class=\"header\">抖店 ｜ 服务市场</div>\n<div class=\"main\">\n\
         <p class=\"account\">当前店铺：<strong>{shop}</strong>（店铺ID {shop_id}）</p>\n\
         <p class=\"app\">服务 <strong>{service}</strong> 申请获得以下权限：</p>\n\
         <ul><li>订单信息（查询订单列表、订单详情）</li><li>店铺基础信息</li></ul>\n\
         <form method=\"post\" action=\"/douyin/authorize\">\n{hidden}\
         <button type=\"submit\">同意授权</button>\n</form>\n\
         <p class=\"note\">授权后服务商可在授权有效期内访问上述数据。</p>\n</div>\n</body>\n</html>\n",
        shop = html_escape(&shop.shop_name),
        shop_id = shop.shop_id,
        service = html_escape(&consent.service_id),
    )
}

/// `GET /douyin/authorize`.
pub async fn authorize_page(req: HttpRequest, state: web::Data<SimState>) -> HttpResponse {
    let params = request_params(&req, &[]);
    state.stats.with(PLATFORM, |s| s.authorize_pages += 1);
    match validate(&state, &params) {
        Ok(consent) => {
            let shop = shop_for(&state, &consent.service_id);
            html_response(StatusCode::OK, consent_page(&shop, &consent, &params))
        }
        Err(message) => error_page(&state, &message),
    }
}

/// `POST /douyin/authorize`: approved; redirect with a code (valid 10 minutes).
pub async fn authorize_submit(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<SimState>,
) -> HttpResponse {
    let params = request_params(&req, &body);
    let consent = match validate(&state, &params) {
        Ok(c) => c,
        Err(message) => return error_page(&state, &message),
    };
    let code = state
        .douyin
        .tokens()
        .issue_code(&consent.service_id, state.now());
    state
        .stats
        .with(PLATFORM, |s| s.authorizations_approved += 1);
    let mut pairs = vec![("code", code.as_str())];
    if let Some(s) = &consent.state {
        pairs.push(("state", s));
    }
    HttpResponse::Found()
        .insert_header((LOCATION, append_query(&consent.redirect_uri, &pairs)))
        .finish()
}

fn token_data(shop: &DyShop, t: &IssuedTokens) -> Value {
    json!({
        "access_token": t.access_token,
        "expires_in": t.expires_in,
        "refresh_token": t.refresh_token,
        "scope": "SCOPE",
        "shop_id": t.shop_id.to_string(),
        "shop_name": shop.shop_name,
        "authority_id": t.shop_id.to_string(),
        "auth_subject_type": "MiniShop",
    })
}

fn refused(state: &SimState, reason: &str) -> DyError {
    let err = DyError::token_generate(reason);
    state.stats.with(PLATFORM, |s| {
        bump(&mut s.token_errors_by_error, err.sub_code.clone())
    });
    err
}

fn str_param<'a>(call: &'a Call<'_>, key: &str) -> Option<&'a str> {
    call.params
        .get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// `token.create`: `grant_type=authorization_code` with `code`, or `authorization_self` with
/// the app's own `shop_id`.
pub fn token_create(state: &SimState, call: &Call<'_>) -> Result<ApiAnswer, DyError> {
    state.stats.with(PLATFORM, |s| s.token_requests += 1);
    let shop = shop_for(state, call.app_key);
    let life = state.config.token_expires_in;
    let issued = match str_param(call, "grant_type") {
        Some("authorization_code") => {
            let code = str_param(call, "code").ok_or_else(|| refused(state, "code-invalid"))?;
            let mut tokens = state.douyin.tokens();
            tokens
                .take_code(code, call.app_key, call.now)
                .map_err(|reason| refused(state, reason))?;
            tokens.issue(call.app_key, shop.shop_id, life, call.now)
        }
        Some("authorization_self") => {
            let shop_id = call.params.get("shop_id").and_then(|v| match v {
                Value::Number(n) => n.as_u64(),
                Value::String(s) => s.parse().ok(),
                _ => None,
            });
            if shop_id != Some(shop.shop_id) {
                return Err(refused(state, "no-authorization"));
            }
            state
                .douyin
                .tokens()
                .issue(call.app_key, shop.shop_id, life, call.now)
        }
        _ => return Err(refused(state, "grant-type-invalid")),
    };
    state.stats.with(PLATFORM, |s| s.tokens_issued += 1);
    tracing::info!(app_key = call.app_key, "douyin token created");
    Ok(ApiAnswer {
        body: success(token_data(&shop, &issued)),
        is_order_list: false,
    })
}

/// `token.refresh`: `grant_type=refresh_token` with `refresh_token`.
pub fn token_refresh(state: &SimState, call: &Call<'_>) -> Result<ApiAnswer, DyError> {
    state.stats.with(PLATFORM, |s| s.token_requests += 1);
    if str_param(call, "grant_type") != Some("refresh_token") {
        return Err(refused(state, "grant-type-invalid"));
    }
    let refresh_token =
        str_param(call, "refresh_token").ok_or_else(|| refused(state, "token-invalid"))?;
    let budget = CallBudget {
        ttl_calls: state.faults.token_ttl_calls(),
        generation: state.faults.generation(),
    };
    let result = state.douyin.tokens().refresh(
        call.app_key,
        refresh_token,
        state.config.token_expires_in,
        call.now,
        budget,
    );
    let issued = result.map_err(|reason| refused(state, reason))?;
    state.stats.with(PLATFORM, |s| {
        s.tokens_refreshed += 1;
        s.tokens_issued += 1;
    });
    let shop = shop_for(state, call.app_key);
    Ok(ApiAnswer {
        body: success(token_data(&shop, &issued)),
        is_order_list: false,
    })
}
