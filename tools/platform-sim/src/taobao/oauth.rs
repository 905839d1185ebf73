//! TOP OAuth 2.0 (server-side flow): the consent page ([`Flow`]), its approval, and `/token`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use leadgen_domain::PlatformType;
use leadgen_platforms::sign::Params;

use super::{PLATFORM, shop_for};
use crate::consent::{
    Account, Consent, ConsentFlow, ConsentPage, ErrorPage, Permissions, is_web_url,
};
use crate::http_util::{non_empty, request_params};
use crate::shop::{Shop, ShopKey};
use crate::state::SimState;
use crate::stats::bump;
use crate::tokens::{IssuedTokens, Lifetimes};

/// The seller's consent page (`/taobao/authorize`).
pub struct Flow;

impl ConsentFlow for Flow {
    const PLATFORM: PlatformType = PLATFORM;
    const PAGE: ConsentPage = ConsentPage {
        title: "淘宝网 - 授权管理",
        header: Some("淘宝网 Taobao.com ｜ 授权管理"),
        account_label: "当前账号：",
        app_label: "应用",
        app_request: "申请使用您的淘宝账号登录，并获得以下权限：",
        permissions: Permissions::Fixed(&[
            "获取您店铺的订单信息（交易数据）",
            "获取您的店铺及账号基本信息",
        ]),
        action: "/taobao/authorize",
        button: "授权并登录",
        cancel: Some(&[
            ("error", "access_denied"),
            ("error_description", "authorize reject"),
        ]),
        note: Some("授权后该应用将可以在授权有效期内访问上述数据。"),
        error: ErrorPage {
            title: "淘宝网 - 授权失败",
            boxed: true,
            hint: Some("请联系应用开发者。"),
        },
    };

    fn validate(state: &SimState, params: &Params) -> Result<Consent, String> {
        let get = |k: &str| non_empty(params, k);
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
        if !is_web_url(redirect_uri) {
            return Err(format!(
                "redirect_uri 不合法：{redirect_uri}（须为 http(s) 绝对地址）"
            ));
        }
        Ok(Consent::new(client_id, redirect_uri, get("state")))
    }

    fn account(state: &SimState, shop: &ShopKey) -> Account {
        Account::named(shop_for(state, shop).nick)
    }

    /// The code is bound to `redirect_uri`: `/token` must send the same one.
    fn issue_code(state: &SimState, consent: &Consent) -> String {
        let now = state.now();
        state
            .taobao
            .tokens()
            .issue_code(&consent.shop(), &consent.redirect_uri, now)
    }
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
        "re_expires_in": t.refresh_expires_in,
        "r1_expires_in": t.expires_in,
        "r2_expires_in": 0,
        "w1_expires_in": t.expires_in,
        "w2_expires_in": 0,
        "taobao_user_nick": urlencoding::encode(&shop.nick),
        "taobao_user_id": shop.user_id.to_string(),
        "taobao_open_uid": shop.open_uid,
        "expire_time": expire_time,
        "refresh_token_valid_time": now_ms + t.refresh_expires_in * 1000,
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
    let get = |k: &str| non_empty(&params, k);
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
    let life = Lifetimes::of(&state.config);
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
            Ok(key) => {
                let user_id = shop_for(&state, &key).user_id;
                tokens.issue(&key, user_id, life, now)
            }
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
    let seller = issued.shop.seller.as_str();
    tracing::info!(
        app_key = client_id,
        seller,
        grant_type,
        "taobao token issued"
    );
    let shop = shop_for(&state, &issued.shop);
    HttpResponse::Ok()
        .content_type("application/json;charset=UTF-8")
        .json(token_body(&shop, &issued))
}
