//! Kuaishou OAuth: the consent page (`/oauth/authorize?app_id&redirect_uri&scope&response_type
//! =code&state`), `GET /oauth2/access_token` and `POST /oauth2/refresh_token`.
//!
//! Token answer [unverified]: `{"result":1,"access_token","expires_in","refresh_token",
//! "refresh_token_expires_in","open_id","scopes"}`; errors as in `errors`.

use actix_web::http::StatusCode;
use actix_web::http::header::LOCATION;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use leadgen_platforms::sign::Params;

use super::errors::OauthError;
use super::orders::KsShop;
use super::tokens::{IssuedTokens, Lifetimes};
use super::{PLATFORM, secrets, shop_for};
use crate::http_util::{html_escape, html_response, request_params};
use crate::state::SimState;
use crate::stats::bump;
use crate::taobao::oauth::append_query;

/// Scopes a merchant app may ask for.
const SCOPES: &[&str] = &[
    "merchant_order",
    "merchant_item",
    "merchant_refund",
    "merchant_shop",
    "merchant_user",
    "merchant_logistics",
    "merchant_funds",
    "user_info",
];

struct Consent {
    app_id: String,
    redirect_uri: String,
    scopes: Vec<String>,
    state: Option<String>,
}

fn validate(state: &SimState, params: &Params) -> Result<Consent, String> {
    let get = |k: &str| params.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let app_id = get("app_id").ok_or("缺少参数 app_id")?;
    if state.apps.find(PLATFORM, app_id).is_none() {
        return Err(format!("应用 {app_id} 不存在"));
    }
    if get("response_type") != Some("code") {
        return Err("response_type 只支持 code".into());
    }
    let redirect_uri = get("redirect_uri").ok_or("缺少参数 redirect_uri")?;
    let valid = url::Url::parse(redirect_uri)
        .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some());
    if !valid {
        return Err(format!("redirect_uri 不合法：{redirect_uri}"));
    }
    let scopes: Vec<String> = get("scope")
        .ok_or("缺少参数 scope")?
        .split(',')
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect();
    if let Some(bad) = scopes.iter().find(|s| !SCOPES.contains(&s.as_str())) {
        return Err(format!("scope 不合法：{bad}"));
    }
    Ok(Consent {
        app_id: app_id.to_owned(),
        redirect_uri: redirect_uri.to_owned(),
        scopes,
        state: get("state").map(str::to_owned),
    })
}

fn error_page(state: &SimState, message: &str) -> HttpResponse {
    state.stats.with(PLATFORM, |s| s.authorize_errors += 1);
    let body = format!(
        "<!DOCTYPE html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><title>快手开放平台 - \
         授权失败</title></head>\n<body><h2>授权失败</h2><p>{}</p></body></html>\n",
        html_escape(message)
    );
    html_response(StatusCode::BAD_REQUEST, body)
}

fn consent_page(shop: &KsShop, consent: &Consent, params: &Params) -> String {
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
    let scopes: String = consent
        .scopes
        .iter()
        .map(|s| format!("<li>{}</li>", html_escape(s)))
        .collect();
    format!(
        "<!DOCTYPE html>\n<html lang=\"zh-CN\">\n<head><meta charset=\"utf-8\">\
         <title>快手小店 - 授权</title></head>\n<body>\n<div class=\"main\">\n\
         <p class=\"account\">当前账号：<strong>{nick}</strong></p>\n\
         <p class=\"app\">应用 <strong>{app}</strong> 申请以下权限：</p>\n<ul>{scopes}</ul>\n\
         <form method=\"post\" action=\"/kuaishou/oauth/authorize\">\n{hidden}\
         <button type=\"submit\">确认授权</button>\n</form>\n</div>\n</body>\n</html>\n",
        nick = html_escape(&shop.nick),
        app = html_escape(&consent.app_id),
    )
}

/// `GET /kuaishou/oauth/authorize`.
pub async fn authorize_page(req: HttpRequest, state: web::Data<SimState>) -> HttpResponse {
    let params = request_params(&req, &[]);
    state.stats.with(PLATFORM, |s| s.authorize_pages += 1);
    match validate(&state, &params) {
        Ok(consent) => {
            let shop = shop_for(&state, &consent.app_id);
            html_response(StatusCode::OK, consent_page(&shop, &consent, &params))
        }
        Err(message) => error_page(&state, &message),
    }
}

/// `POST /kuaishou/oauth/authorize`: approved; redirect with a code (2 minutes, single use).
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
        .kuaishou
        .tokens()
        .issue_code(&consent.app_id, state.now());
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

fn answer(state: &SimState, result: Result<(KsShop, IssuedTokens), OauthError>) -> HttpResponse {
    let body = match result {
        Ok((shop, t)) => {
            state.stats.with(PLATFORM, |s| s.tokens_issued += 1);
            json!({
                "result": 1,
                "access_token": t.access_token,
                "expires_in": state.config.token_expires_in,
                "refresh_token": t.refresh_token,
                "refresh_token_expires_in": state.config.refresh_expires_in,
                "open_id": shop.open_id,
                "scopes": ["merchant_order", "user_info"],
            })
        }
        Err(e) => {
            state
                .stats
                .with(PLATFORM, |s| bump(&mut s.token_errors_by_error, e.error));
            e.to_json()
        }
    };
    HttpResponse::Ok()
        .content_type("application/json;charset=UTF-8")
        .json(body)
}

/// Checks `app_id` / `app_secret` (the app secret, not the signSecret) and `grant_type`.
fn client<'a>(state: &SimState, params: &'a Params, grant: &str) -> Result<&'a str, OauthError> {
    let get = |k: &str| params.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let (Some(app_id), Some(app_secret)) = (get("app_id"), get("app_secret")) else {
        return Err(OauthError::invalid_request("app_id和app_secret必填"));
    };
    let known = state.apps.find(PLATFORM, app_id);
    if known.is_none_or(|a| secrets(a).0 != app_secret) {
        return Err(OauthError::invalid_client());
    }
    match get("grant_type") {
        Some(g) if g == grant => Ok(app_id),
        Some(other) => Err(OauthError::unsupported_grant_type(other)),
        None => Err(OauthError::invalid_request("grant_type必填")),
    }
}

fn lifetimes(state: &SimState) -> Lifetimes {
    Lifetimes {
        access: state.config.token_expires_in,
        refresh: state.config.refresh_expires_in,
    }
}

/// `GET /kuaishou/oauth2/access_token?app_id&app_secret&grant_type=code&code`.
pub async fn access_token(req: HttpRequest, state: web::Data<SimState>) -> HttpResponse {
    let params = request_params(&req, &[]);
    state.stats.with(PLATFORM, |s| s.token_requests += 1);
    let result = client(&state, &params, "code").and_then(|app_id| {
        let code = params
            .get("code")
            .filter(|c| !c.is_empty())
            .ok_or_else(|| OauthError::invalid_request("code必填"))?;
        let now = state.now();
        let mut tokens = state.kuaishou.tokens();
        tokens
            .take_code(code, app_id, now)
            .map_err(OauthError::invalid_grant)?;
        Ok((
            shop_for(&state, app_id),
            tokens.issue(app_id, lifetimes(&state), now),
        ))
    });
    answer(&state, result)
}

/// `POST /kuaishou/oauth2/refresh_token` (form: `grant_type=refresh_token, app_id, app_secret,
/// refresh_token`).
pub async fn refresh_token(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<SimState>,
) -> HttpResponse {
    let params = request_params(&req, &body);
    state.stats.with(PLATFORM, |s| s.token_requests += 1);
    let result = client(&state, &params, "refresh_token").and_then(|app_id| {
        let refresh_token = params
            .get("refresh_token")
            .filter(|c| !c.is_empty())
            .ok_or_else(|| OauthError::invalid_request("refresh_token必填"))?;
        let issued = state
            .kuaishou
            .tokens()
            .refresh(app_id, refresh_token, lifetimes(&state), state.now())
            .map_err(OauthError::invalid_grant)?;
        state.stats.with(PLATFORM, |s| s.tokens_refreshed += 1);
        Ok((shop_for(&state, app_id), issued))
    });
    answer(&state, result)
}
