//! JD OAuth 2.0 (open-oauth.jd.com): the consent page `oauth2/to_login`, its approval, and the
//! token endpoints `oauth2/access_token` and `oauth2/refresh_token` (GET, query parameters).
//!
//! Token answers carry `access_token, expires_in, refresh_token, scope, open_id, uid, xid, time`
//! (issue time, epoch ms) and `token_type`; refusals are `{"code","msg","requestId"}` with HTTP
//! 200 (codes: see [`super::errors::oauth_error`]).

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use leadgen_domain::PlatformType;
use leadgen_platforms::sign::Params;

use super::errors::oauth_error;
use super::{PLATFORM, shop_for};
use crate::consent::{
    Account, Consent, ConsentFlow, ConsentPage, ErrorPage, Permissions, is_web_url,
};
use crate::http_util::{non_empty, request_id, request_params};
use crate::shop::{Shop, ShopKey};
use crate::state::SimState;
use crate::stats::bump;
use crate::tokens::{IssuedTokens, Lifetimes};

/// The merchant's consent page (`/jd/oauth2/to_login`).
pub struct Flow;

impl ConsentFlow for Flow {
    const PLATFORM: PlatformType = PLATFORM;
    const PAGE: ConsentPage = ConsentPage {
        title: "京东开放平台 - 授权登录",
        header: Some("京东 JD.COM ｜ 京东宙斯开放平台授权"),
        account_label: "商家账号：",
        app_label: "应用",
        app_request: "请求获得以下权限：",
        permissions: Permissions::Fixed(&["获取您店铺的订单信息", "获取您的店铺基本信息"]),
        action: "/jd/oauth2/to_login",
        button: "同意授权",
        cancel: Some(&[("error", "access_denied")]),
        note: None,
        error: ErrorPage {
            title: "京东 - 授权失败",
            boxed: true,
            hint: None,
        },
    };

    fn validate(state: &SimState, params: &Params) -> Result<Consent, String> {
        let get = |k: &str| non_empty(params, k);
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
        if !is_web_url(redirect_uri) {
            return Err(format!("redirect_uri 不合法：{redirect_uri}"));
        }
        Ok(Consent::new(app_key, redirect_uri, get("state")))
    }

    fn account(state: &SimState, shop: &ShopKey) -> Account {
        Account::named(shop_for(state, shop).nick)
    }

    fn issue_code(state: &SimState, consent: &Consent) -> String {
        let now = state.now();
        state.jd.tokens().issue_code(&consent.shop(), now)
    }
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
    let get = |k: &str| non_empty(&params, k);
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
    let life = Lifetimes::of(&state.config);
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
            Ok(shop) => tokens.issue(&shop, life, now),
            Err(msg) => {
                drop(tokens);
                return refuse(&state, 402, msg);
            }
        }
    };
    state.stats.with(PLATFORM, |s| s.tokens_issued += 1);
    let seller = issued.shop.seller.as_str();
    tracing::info!(app_key, seller, refresh, "jd token issued");
    let shop = shop_for(&state, &issued.shop);
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
