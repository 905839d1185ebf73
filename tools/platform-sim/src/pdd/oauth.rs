//! PDD OAuth: the merchant consent page (`fuwu.pinduoduo.com/service-market/auth`), its approval,
//! and the JSON token endpoint (`open-api.pinduoduo.com/oauth/token`).
//!
//! The token endpoint takes a JSON body `{client_id, client_secret, grant_type, code}` or
//! `{…, grant_type: "refresh_token", refresh_token}` and answers the fields of
//! `pop_auth_token_create_response` **unwrapped** (as lywzx/pdd-node-sdk reads them); refusals
//! are `error_response`s (HTTP 200): 10001 bad request, 10016 client, 20001 code, 20002 refresh.

use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_TYPE, LOCATION};
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

use leadgen_platforms::sign::Params;

use super::errors::{PddError, request_id};
use super::{PLATFORM, shop_for};
use crate::http_util::{html_escape, html_response, request_params};
use crate::jd::tokens::{IssuedTokens, Lifetimes};
use crate::shop::Shop;
use crate::state::SimState;
use crate::stats::bump;
use crate::taobao::oauth::append_query;

/// The APIs a granted token may call (`scope`).
const SCOPE: &[&str] = &[
    "pdd.order.list.get",
    "pdd.order.number.list.increment.get",
    "pdd.order.information.get",
    "pdd.open.decrypt.batch",
];

struct Authorize {
    client_id: String,
    redirect_uri: String,
    state: Option<String>,
}

fn validate(state: &SimState, params: &Params) -> Result<Authorize, String> {
    let get = |k: &str| params.get(k).map(String::as_str).filter(|v| !v.is_empty());
    match get("response_type") {
        Some("code") => {}
        Some(other) => return Err(format!("不支持的 response_type：{other}")),
        None => return Err("缺少参数 response_type".into()),
    }
    let client_id = get("client_id").ok_or("缺少参数 client_id")?;
    if state.apps.find(PLATFORM, client_id).is_none() {
        return Err(format!("应用 {client_id} 不存在或已下线"));
    }
    let redirect_uri = get("redirect_uri").ok_or("缺少参数 redirect_uri")?;
    let valid = url::Url::parse(redirect_uri)
        .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some());
    if !valid {
        return Err(format!("redirect_uri 不合法：{redirect_uri}"));
    }
    Ok(Authorize {
        client_id: client_id.to_owned(),
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
             <title>拼多多服务市场 - 授权失败</title></head>\n<body><div class=\"error\">\
             <h2>授权失败</h2><p>{}</p></div></body></html>\n",
            html_escape(message)
        ),
    )
}

fn consent_page(shop: &Shop, req: &Authorize, params: &Params) -> String {
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
    let mut deny = vec![("error", "access_denied")];
    if let Some(s) = &req.state {
        deny.push(("state", s));
    }
    let deny_url = html_escape(&append_query(&req.redirect_uri, &deny));
    format!(
        "<!DOCTYPE html>\n<html lang=\"zh-CN\">\n<head><meta charset=\"utf-8\">\
         <title>拼多多服务市场 - 授权</title></head>\n<body>\n\
         <div class=\"header\">拼多多 商家后台 ｜ 服务市场授权</div>\n<div class=\"main\">\n\
         <p class=\"account\">店铺：<strong>{nick}</strong></p>\n\
         <p class=\"app\">应用 <strong>{app}</strong> 申请获取以下权限：</p>\n\
         <ul><li>订单信息（订单列表、订单详情、收件人信息解密）</li><li>店铺基本信息</li></ul>\n\
         <form method=\"post\" action=\"/pdd/service-market/auth\">\n{hidden}\
         <button type=\"submit\">确认授权</button>\n</form>\n\
         <p><a class=\"cancel\" href=\"{deny_url}\">取消</a></p>\n</div>\n</body>\n</html>\n",
        nick = html_escape(&shop.nick),
        app = html_escape(&req.client_id),
    )
}

/// `GET /pdd/service-market/auth`: the merchant's consent page.
pub async fn authorize_page(req: HttpRequest, state: web::Data<SimState>) -> HttpResponse {
    let params = request_params(&req, &[]);
    state.stats.with(PLATFORM, |s| s.authorize_pages += 1);
    match validate(&state, &params) {
        Ok(auth) => {
            let shop = shop_for(&state, &auth.client_id);
            html_response(StatusCode::OK, consent_page(&shop, &auth, &params))
        }
        Err(message) => error_page(&state, &message),
    }
}

/// `POST /pdd/service-market/auth`: the merchant approved; redirect back with a code.
pub async fn authorize_submit(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<SimState>,
) -> HttpResponse {
    let params = request_params(&req, &body);
    let auth = match validate(&state, &params) {
        Ok(auth) => auth,
        Err(message) => return error_page(&state, &message),
    };
    let code = state.pdd.tokens().issue_code(&auth.client_id, state.now());
    state
        .stats
        .with(PLATFORM, |s| s.authorizations_approved += 1);
    let mut pairs = vec![("code", code.as_str())];
    if let Some(s) = &auth.state {
        pairs.push(("state", s));
    }
    HttpResponse::Found()
        .insert_header((LOCATION, append_query(&auth.redirect_uri, &pairs)))
        .finish()
}

fn refuse(state: &SimState, error: &PddError) -> HttpResponse {
    state.stats.with(PLATFORM, |s| {
        bump(&mut s.token_errors_by_error, error.error_code.to_string())
    });
    HttpResponse::Ok()
        .content_type("application/json;charset=UTF-8")
        .json(error.to_json())
}

/// The token answer (unwrapped `pop_auth_token_create_response` fields).
pub fn token_body(shop: &Shop, t: &IssuedTokens) -> Value {
    let issued = t.issued_at.timestamp();
    json!({
        "access_token": t.access_token,
        "expires_in": t.expires_in,
        "expires_at": issued + t.expires_in,
        "refresh_token": t.refresh_token,
        "refresh_token_expires_in": t.refresh_expires_in,
        "refresh_token_expires_at": issued + t.refresh_expires_in,
        "owner_id": shop.user_id.to_string(),
        "owner_name": shop.nick,
        "scope": SCOPE,
        "r1_expires_in": t.expires_in,
        "r2_expires_in": t.expires_in,
        "w1_expires_in": t.expires_in,
        "w2_expires_in": t.expires_in,
        "request_id": request_id(),
    })
}

/// `POST /pdd/oauth/token` (JSON body).
pub async fn token(req: HttpRequest, body: web::Bytes, state: web::Data<SimState>) -> HttpResponse {
    state.stats.with(PLATFORM, |s| s.token_requests += 1);
    let is_json = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("application/json"));
    let doc = match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Object(doc)) if is_json => doc,
        _ => {
            let e = PddError::common("body-invalid", "请求体须为 JSON 对象 (application/json)");
            return refuse(&state, &e);
        }
    };
    let get = |k: &str| doc.get(k).and_then(Value::as_str).filter(|v| !v.is_empty());
    let (Some(client_id), Some(secret)) = (get("client_id"), get("client_secret")) else {
        return refuse(
            &state,
            &PddError::invalid_client("client_id 或 client_secret 为空"),
        );
    };
    if state
        .apps
        .find(PLATFORM, client_id)
        .is_none_or(|a| a.secret != secret)
    {
        return refuse(
            &state,
            &PddError::invalid_client("client_id 或 client_secret 不正确"),
        );
    }
    let life = Lifetimes {
        access: state.config.token_expires_in,
        refresh: state.config.refresh_expires_in,
    };
    let now = state.now();
    let issued = match get("grant_type") {
        Some("authorization_code") => {
            let Some(code) = get("code") else {
                return refuse(&state, &PddError::invalid_code("code 不能为空"));
            };
            let mut tokens = state.pdd.tokens();
            match tokens.take_code(code, client_id, now) {
                Ok(()) => tokens.issue(client_id, life, now),
                Err(msg) => {
                    drop(tokens);
                    return refuse(&state, &PddError::invalid_code(msg));
                }
            }
        }
        Some("refresh_token") => {
            let Some(refresh_token) = get("refresh_token") else {
                return refuse(
                    &state,
                    &PddError::invalid_refresh_token("refresh_token 不能为空"),
                );
            };
            let result = state
                .pdd
                .tokens()
                .refresh(client_id, refresh_token, life, now);
            match result {
                Ok(t) => {
                    state.stats.with(PLATFORM, |s| s.tokens_refreshed += 1);
                    t
                }
                Err(msg) => return refuse(&state, &PddError::invalid_refresh_token(msg)),
            }
        }
        _ => {
            let e = PddError::common(
                "grant_type-invalid",
                "grant_type 须为 authorization_code 或 refresh_token",
            );
            return refuse(&state, &e);
        }
    };
    state.stats.with(PLATFORM, |s| s.tokens_issued += 1);
    tracing::info!(client_id, "pdd token issued");
    let shop = shop_for(&state, client_id);
    HttpResponse::Ok()
        .content_type("application/json;charset=UTF-8")
        .json(token_body(&shop, &issued))
}
