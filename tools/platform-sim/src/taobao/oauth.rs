//! TOP OAuth 2.0 (server-side flow): the consent page, its approval, and `/token`.

use actix_web::http::StatusCode;
use actix_web::http::header::LOCATION;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use leadgen_platforms::sign::Params;

use super::tokens::{IssuedTokens, Lifetimes};
use super::{PLATFORM, shop_for};
use crate::http_util::{html_escape, html_response, request_params};
use crate::shop::Shop;
use crate::state::SimState;
use crate::stats::bump;

/// A validated authorize request.
struct Authorize {
    client_id: String,
    redirect_uri: String,
    state: Option<String>,
}

fn validate(state: &SimState, params: &Params) -> Result<Authorize, String> {
    let get = |k: &str| params.get(k).map(String::as_str).filter(|v| !v.is_empty());
    match get("response_type") {
        Some("code") => {}
        Some(other) => return Err(format!("不支持的 response_type：{other}（仅支持 code）")),
        None => return Err("缺少参数 response_type".into()),
    }
    let client_id = get("client_id").ok_or("缺少参数 client_id")?;
    if state.apps.find(PLATFORM, client_id).is_none() {
        return Err(format!("应用 {client_id} 不存在（client_id 无效）"));
    }
    let redirect_uri = get("redirect_uri").ok_or("缺少参数 redirect_uri")?;
    let valid_uri = url::Url::parse(redirect_uri)
        .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some());
    if !valid_uri {
        return Err(format!(
            "redirect_uri 不合法：{redirect_uri}（须为 http(s) 绝对地址）"
        ));
    }
    Ok(Authorize {
        client_id: client_id.to_owned(),
        redirect_uri: redirect_uri.to_owned(),
        state: get("state").map(str::to_owned),
    })
}

/// Appends `pairs` to `uri`'s query (with `&` when it already has one), percent-encoding values.
pub fn append_query(uri: &str, pairs: &[(&str, &str)]) -> String {
    let mut out = uri.to_owned();
    for (k, v) in pairs {
        out.push(if out.contains('?') { '&' } else { '?' });
        out.push_str(k);
        out.push('=');
        out.push_str(&urlencoding::encode(v));
    }
    out
}

fn error_page(state: &SimState, message: &str) -> HttpResponse {
    state.stats.with(PLATFORM, |s| s.authorize_errors += 1);
    let message = html_escape(message);
    html_response(
        StatusCode::BAD_REQUEST,
        format!(
            "<!DOCTYPE html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\
             <title>淘宝网 - 授权失败</title></head>\n<body><div class=\"error\">\
             <h2>授权失败</h2><p>{message}</p><p>请联系应用开发者。</p></div></body></html>\n"
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
    let mut deny = vec![
        ("error", "access_denied"),
        ("error_description", "authorize reject"),
    ];
    if let Some(s) = &req.state {
        deny.push(("state", s));
    }
    let deny_url = html_escape(&append_query(&req.redirect_uri, &deny));
    format!(
        "<!DOCTYPE html>\n<html lang=\"zh-CN\">\n<head><meta charset=\"utf-8\">\
         <title>淘宝网 - 授权管理</title></head>\n<body>\n\
         <div class=\"header\">淘宝网 Taobao.com ｜ 授权管理</div>\n\
         <div class=\"main\">\n\
         <p class=\"account\">当前账号：<strong>{nick}</strong></p>\n\
         <p class=\"app\">应用 <strong>{app}</strong> 申请使用您的淘宝账号登录，并获得以下权限：</p>\n\
         <ul><li>获取您店铺的订单信息（交易数据）</li><li>获取您的店铺及账号基本信息</li></ul>\n\
         <form method=\"post\" action=\"/taobao/authorize\">\n{hidden}\
         <button type=\"submit\">授权并登录</button>\n</form>\n\
         <p><a class=\"cancel\" href=\"{deny_url}\">取消</a></p>\n\
         <p class=\"note\">授权后该应用将可以在授权有效期内访问上述数据。</p>\n</div>\n</body>\n</html>\n",
        nick = html_escape(&shop.nick),
        app = html_escape(&req.client_id),
    )
}

/// `GET /taobao/authorize`: the seller's consent page.
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

/// `POST /taobao/authorize`: the seller approved; redirect back with a code.
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
    let code = state
        .taobao
        .tokens()
        .issue_code(&auth.client_id, &auth.redirect_uri, state.now());
    state
        .stats
        .with(PLATFORM, |s| s.authorizations_approved += 1);
    let mut pairs = vec![("code", code.as_str())];
    if let Some(s) = &auth.state {
        pairs.push(("state", s));
    }
    let location = append_query(&auth.redirect_uri, &pairs);
    HttpResponse::Found()
        .insert_header((LOCATION, location))
        .finish()
}

fn oauth_error(
    state: &SimState,
    status: StatusCode,
    error: &str,
    description: &str,
) -> HttpResponse {
    state
        .stats
        .with(PLATFORM, |s| bump(&mut s.token_errors_by_error, error));
    HttpResponse::build(status)
        .content_type("application/json;charset=UTF-8")
        .json(json!({ "error": error, "error_description": description }))
}

fn token_body(shop: &Shop, t: &IssuedTokens) -> serde_json::Value {
    let now_ms = t.issued_at.timestamp_millis();
    let expire_time = now_ms + t.expires_in * 1000;
    json!({
        "access_token": t.access_token,
        "token_type": "Bearer",
        "expires_in": t.expires_in,
        "refresh_token": t.refresh_token,
        "re_expires_in": t.re_expires_in,
        "r1_expires_in": t.expires_in,
        "r2_expires_in": 0,
        "w1_expires_in": t.expires_in,
        "w2_expires_in": 0,
        "taobao_user_nick": urlencoding::encode(&shop.nick),
        "taobao_user_id": shop.user_id.to_string(),
        "taobao_open_uid": shop.open_uid,
        "expire_time": expire_time,
        "refresh_token_valid_time": now_ms + t.re_expires_in * 1000,
        "r1_valid": expire_time,
        "r2_valid": now_ms,
        "w1_valid": expire_time,
        "w2_valid": now_ms,
    })
}

/// `POST /taobao/token`: `grant_type=authorization_code` or `refresh_token`.
pub async fn token(req: HttpRequest, body: web::Bytes, state: web::Data<SimState>) -> HttpResponse {
    let params = request_params(&req, &body);
    state.stats.with(PLATFORM, |s| s.token_requests += 1);
    let get = |k: &str| params.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let bad = StatusCode::BAD_REQUEST;
    let grant_type = match get("grant_type") {
        Some(g @ ("authorization_code" | "refresh_token")) => g,
        Some(other) => {
            let desc = format!("grant_type {other} is not supported");
            return oauth_error(&state, bad, "unsupported_grant_type", &desc);
        }
        None => return oauth_error(&state, bad, "invalid_request", "grant_type is required"),
    };
    let (Some(client_id), Some(client_secret)) = (get("client_id"), get("client_secret")) else {
        return oauth_error(
            &state,
            bad,
            "invalid_request",
            "client_id and client_secret are required",
        );
    };
    let app_ok = state
        .apps
        .find(PLATFORM, client_id)
        .is_some_and(|a| a.secret == client_secret);
    if !app_ok {
        let desc = "client_id or client_secret is invalid";
        return oauth_error(&state, StatusCode::UNAUTHORIZED, "invalid_client", desc);
    }
    let life = Lifetimes {
        access: state.config.token_expires_in,
        refresh: state.config.refresh_expires_in,
    };
    let shop = shop_for(&state, client_id);
    let now = state.now();
    let issued = if grant_type == "authorization_code" {
        let (Some(code), Some(redirect_uri)) = (get("code"), get("redirect_uri")) else {
            return oauth_error(
                &state,
                bad,
                "invalid_request",
                "code and redirect_uri are required",
            );
        };
        let mut tokens = state.taobao.tokens();
        match tokens.take_code(code, client_id, redirect_uri, now) {
            Ok(()) => tokens.issue(client_id, shop.user_id, life, now),
            Err(desc) => {
                drop(tokens);
                return oauth_error(&state, bad, "invalid_grant", desc);
            }
        }
    } else {
        let Some(refresh_token) = get("refresh_token") else {
            return oauth_error(&state, bad, "invalid_request", "refresh_token is required");
        };
        let result = state
            .taobao
            .tokens()
            .refresh(client_id, refresh_token, life, now);
        match result {
            Ok(t) => {
                state.stats.with(PLATFORM, |s| s.tokens_refreshed += 1);
                t
            }
            Err(desc) => return oauth_error(&state, bad, "invalid_grant", desc),
        }
    };
    state.stats.with(PLATFORM, |s| s.tokens_issued += 1);
    tracing::info!(app_key = client_id, grant_type, "taobao token issued");
    HttpResponse::Ok()
        .content_type("application/json;charset=UTF-8")
        .json(token_body(&shop, &issued))
}
