//! PDD OAuth: the merchant consent page (`fuwu.pinduoduo.com/service-market/auth`), its approval,
//! and the JSON token endpoint (`open-api.pinduoduo.com/oauth/token`).
//!
//! The token endpoint takes a JSON body `{client_id, client_secret, grant_type, code}` or
//! `{…, grant_type: "refresh_token", refresh_token}` and answers the fields of
//! `pop_auth_token_create_response` **unwrapped** (as lywzx/pdd-node-sdk reads them); refusals
//! are `error_response`s (HTTP 200): 10001 bad request, 10016 client, 20001 code, 20002 refresh.

use actix_web::http::header::CONTENT_TYPE;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

use leadgen_domain::PlatformType;
use leadgen_platforms::sign::Params;

use super::errors::{PddError, request_id};
use super::{PLATFORM, shop_for};
use crate::consent::{
    Account, Consent, ConsentFlow, ConsentPage, ErrorPage, Permissions, is_web_url,
};
use crate::http_util::non_empty;
use crate::shop::{Shop, ShopKey};
use crate::state::SimState;
use crate::stats::bump;
use crate::tokens::{IssuedTokens, Lifetimes};

/// The APIs a granted token may call (`scope`).
const SCOPE: &[&str] = &[
    "pdd.order.list.get",
    "pdd.order.number.list.increment.get",
    "pdd.order.information.get",
    "pdd.open.decrypt.batch",
];

/// The merchant's consent page (`/pdd/service-market/auth`).
pub struct Flow;

impl ConsentFlow for Flow {
    const PLATFORM: PlatformType = PLATFORM;
    const PAGE: ConsentPage = ConsentPage {
        title: "拼多多服务市场 - 授权",
        header: Some("拼多多 商家后台 ｜ 服务市场授权"),
        account_label: "店铺：",
        app_label: "应用",
        app_request: "申请获取以下权限：",
        permissions: Permissions::Fixed(&[
            "订单信息（订单列表、订单详情、收件人信息解密）",
            "店铺基本信息",
        ]),
        action: "/pdd/service-market/auth",
        button: "确认授权",
        cancel: Some(&[("error", "access_denied")]),
        note: None,
        error: ErrorPage {
            title: "拼多多服务市场 - 授权失败",
            boxed: true,
            hint: None,
        },
    };

    fn validate(state: &SimState, params: &Params) -> Result<Consent, String> {
        let get = |k: &str| non_empty(params, k);
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
        if !is_web_url(redirect_uri) {
            return Err(format!("redirect_uri 不合法：{redirect_uri}"));
        }
        Ok(Consent::new(client_id, redirect_uri, get("state")))
    }

    fn account(state: &SimState, shop: &ShopKey) -> Account {
        Account::named(shop_for(state, shop).nick)
    }

    fn issue_code(state: &SimState, consent: &Consent) -> String {
        let now = state.now();
        state.pdd.tokens().issue_code(&consent.shop(), now)
    }
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
    let life = Lifetimes::of(&state.config);
    let now = state.now();
    let issued = match get("grant_type") {
        Some("authorization_code") => {
            let Some(code) = get("code") else {
                return refuse(&state, &PddError::invalid_code("code 不能为空"));
            };
            let mut tokens = state.pdd.tokens();
            match tokens.take_code(code, client_id, now) {
                Ok(shop) => tokens.issue(&shop, life, now),
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
    let seller = issued.shop.seller.as_str();
    tracing::info!(client_id, seller, "pdd token issued");
    let shop = shop_for(&state, &issued.shop);
    HttpResponse::Ok()
        .content_type("application/json;charset=UTF-8")
        .json(token_body(&shop, &issued))
}
