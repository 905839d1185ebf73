//! JD OAuth 2.0 (open-oauth.jd.com): the consent page `oauth2/to_login`, its approval, and the
//! token endpoints `oauth2/access_token` and `oauth2/refresh_token` (GET, query parameters).
//!
//! Token answers carry `access_token, expires_in, refresh_token, scope, open_id, uid, xid, time`
//! (issue time, epoch ms) and `token_type`; refusals are `{"code","msg","requestId"}` with HTTP
//! 200 (codes: see [`super::errors::oauth_error`]).

use actix_web::http::StatusCode;
use actix_web::http::header::LOCATION;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use leadgen_platforms::sign::Params;

use super::errors::oauth_error;
use super::tokens::{IssuedTokens, Lifetimes};
use super::{PLATFORM, shop_for};
use crate::http_util::{html_escape, html_response, request_id, request_params};
use crate::shop::Shop;
use crate::state::SimState;
use crate::stats::bump;
use crate::taobao::oauth::append_query;

struct Authorize {
    app_key: String,
    redirect_uri: String,
    state: Option<String>,
}

fn validate(state: &SimState, params: &Params) -> Result<Authorize, String> {
    let get = |k: &str| params.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let app_key = get("app_key").ok_or("缺少参数 app_key")?;
    if state.apps.find(PLATFORM, app_key).is_none() {
        return Err(format!("应用 {app_key} 不存在（app_key 无效）"));
    }
    match get("response_type") {
        Some("code") => {}
        Some(other) => return Err(format!("不支持的 response_type：{other}（仅支持 code）")),
        None => return Err("缺少参数 response_type".into()),
    }
    if let Some(scope) = get("scope").filter(|s| *s != "snsapi_base") {
        return Err(format!("不支持的 scope：{scope}（仅支持 snsapi_base）"));
    }
    let redirect_uri = get("redirect_uri").ok_or("缺少参数 redirect_uri")?;
    let valid = url::Url::parse(redirect_uri)
        .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some());
    if !valid {
        return Err(format!("redirect_uri 不合法：{redirect_uri}"));
    }
    Ok(Authorize {
        app_key: app_key.to_owned(),
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
             <title>京东 - 授权失败</title></head>\n<body><div class=\"error\"><h2>授权失败</h2>\
             <p>{}</p></div></body></html>\n",
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
         <title>京东开放平台 - 授权登录</title></head>\n<body>\n\
         <div class=\"header\">京东 JD.COM ｜ 京东宙斯开放平台授权</div>\n<div class=\"main\">\n\
         <p class=\"account\">商家账号：<strong>{nick}</strong></p>\n\
         <p class=\"app\">应用 <strong>{app}</strong> 请求获得以下权限：</p>\n\
         <ul><li>获取您店铺的订单信息</li><li>获取您的店铺基本信息</li></ul>\n\
         <form method=\"post\" action=\"/jd/oauth2/to_login\">\n{hidden}\
         <button type=\"submit\">同意授权</button>\n</form>\n\
         <p><a class=\"cancel\" href=\"{deny_url}\">取消</a></p>\n</div>\n</body>\n</html>\n",
        nick = html_escape(&shop.nick),
        app = html_escape(&req.app_key),
    )
}

/// `GET /jd/oauth2/to_login`: the merchant's consent page.
pub async fn authorize_page(req: HttpRequest, state: web::Data<SimState>) -> HttpResponse {
    let params = request_params(&req, &[]);
    state.stats.with(PLATFORM, |s| s.authorize_pages += 1);
    match validate(&state, &params) {
        Ok(auth) => {
            let shop = shop_for(&state, &auth.app_key);
            html_response(StatusCode::OK, consent_page(&shop, &auth, &params))
        }
        Err(message) => error_page(&state, &message),
    }
}

/// `POST /jd/oauth2/to_login`: the merchant approved; redirect back with a code.
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
    let code = state.jd.tokens().issue_code(&auth.app_key, state.now());
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

fn refuse(state: &SimState, code: u32, msg: &str) -> HttpResponse {
    state.stats.with(PLATFORM, |s| {
        bump(&mut s.token_errors_by_error, code.to_string())
    });
    HttpResponse::Ok()
        .content_type("application/json;charset=utf-8")
        .json(oauth_error(code, msg, &request_id()))
}

/// The token answer for `shop`.
pub fn token_body(shop: &Shop, t: &IssuedTokens) -> serde_json::Value {
    json!({
        "access_token": t.access_token,
        "expires_in": t.expires_in,
        "refresh_token": t.refresh_token,
        "scope": "snsapi_base",
        "open_id": shop.open_uid,
        "uid": shop.user_id.to_string(),
        "xid": format!("o*AAS{}", shop.open_uid),
        "time": t.issued_at.timestamp_millis(),
        "token_type": "bearer",
    })
}

/// `GET /jd/oauth2/access_token` (`grant_type=authorization_code`) and
/// `GET /jd/oauth2/refresh_token` (`grant_type=refresh_token`).
async fn token(req: HttpRequest, state: web::Data<SimState>, refresh: bool) -> HttpResponse {
    let params = request_params(&req, &[]);
    state.stats.with(PLATFORM, |s| s.token_requests += 1);
    let get = |k: &str| params.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let wanted = if refresh {
        "refresh_token"
    } else {
        "authorization_code"
    };
    if get("grant_type") != Some(wanted) {
        return refuse(&state, 400, &format!("grant_type 必须为 {wanted}"));
    }
    let (Some(app_key), Some(secret)) = (get("app_key"), get("app_secret")) else {
        return refuse(&state, 400, "缺少参数 app_key 或 app_secret");
    };
    if state
        .apps
        .find(PLATFORM, app_key)
        .is_none_or(|a| a.secret != secret)
    {
        return refuse(&state, 401, "app_key或app_secret无效");
    }
    let life = Lifetimes {
        access: state.config.token_expires_in,
        refresh: state.config.refresh_expires_in,
    };
    let now = state.now();
    let issued = if refresh {
        let Some(refresh_token) = get("refresh_token") else {
            return refuse(&state, 400, "缺少参数 refresh_token");
        };
        let result = state.jd.tokens().refresh(app_key, refresh_token, life, now);
        match result {
            Ok(t) => {
                state.stats.with(PLATFORM, |s| s.tokens_refreshed += 1);
                t
            }
            Err(msg) => return refuse(&state, 403, msg),
        }
    } else {
        let Some(code) = get("code") else {
            return refuse(&state, 400, "缺少参数 code");
        };
        let mut tokens = state.jd.tokens();
        match tokens.take_code(code, app_key, now) {
            Ok(()) => tokens.issue(app_key, life, now),
            Err(msg) => {
                drop(tokens);
                return refuse(&state, 402, msg);
            }
        }
    };
    state.stats.with(PLATFORM, |s| s.tokens_issued += 1);
    tracing::info!(app_key, refresh, "jd token issued");
    let shop = shop_for(&state, app_key);
    HttpResponse::Ok()
        .content_type("application/json;charset=utf-8")
        .json(token_body(&shop, &issued))
}

pub async fn access_token(req: HttpRequest, state: web::Data<SimState>) -> HttpResponse {
    token(req, state, false).await
}

pub async fn refresh_token(req: HttpRequest, state: web::Data<SimState>) -> HttpResponse {
    token(req, state, true).await
}
