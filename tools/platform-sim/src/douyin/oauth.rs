//! The service-market consent page (fuwu.jinritemai.com/authorize) and the token methods.
//!
//! `GET /douyin/authorize?service_id=…&state=…&redirect_uri=…`: the real page knows the redirect
//! URL registered with the app; the simulator takes it as `redirect_uri` (required) and takes the
//! app key as the service id. `POST /douyin/authorize` (the one form) redirects to
//! `redirect_uri?code=…&state=…`.

use serde_json::{Value, json};

use leadgen_domain::PlatformType;
use leadgen_platforms::sign::Params;

use super::errors::{DyError, success};
use super::gateway::{ApiAnswer, Call};
use super::orders::DyShop;
use super::tokens::IssuedTokens;
use super::{PLATFORM, shop_for};
use crate::consent::{
    Account, Consent, ConsentFlow, ConsentPage, ErrorPage, Permissions, is_web_url,
};
use crate::http_util::non_empty;
use crate::shop::ShopKey;
use crate::state::SimState;
use crate::stats::bump;
use crate::tokens::CallBudget;

/// The service-market consent page (`/douyin/authorize`).
pub struct Flow;

impl ConsentFlow for Flow {
    const PLATFORM: PlatformType = PLATFORM;
    const PAGE: ConsentPage = ConsentPage {
        title: "抖店 - 服务市场授权",
        header: Some("抖店 ｜ 服务市场"),
        account_label: "当前店铺：",
        app_label: "服务",
        app_request: "申请获得以下权限：",
        permissions: Permissions::Fixed(&["订单信息（查询订单列表、订单详情）", "店铺基础信息"]),
        action: "/douyin/authorize",
        button: "同意授权",
        cancel: None,
        note: Some("授权后服务商可在授权有效期内访问上述数据。"),
        error: ErrorPage {
            title: "抖店服务市场 - 授权失败",
            boxed: false,
            hint: None,
        },
    };

    fn validate(state: &SimState, params: &Params) -> Result<Consent, String> {
        let get = |k: &str| non_empty(params, k);
        let service_id = get("service_id").ok_or("缺少参数 service_id")?;
        if state.apps.find(PLATFORM, service_id).is_none() {
            return Err(format!("服务 {service_id} 不存在或已下架"));
        }
        let redirect_uri = get("redirect_uri")
            .ok_or("缺少参数 redirect_uri（模拟器以此代替应用登记的回调地址）")?;
        if !is_web_url(redirect_uri) {
            return Err(format!("回调地址不合法：{redirect_uri}"));
        }
        Ok(Consent::new(service_id, redirect_uri, get("state")))
    }

    fn account(state: &SimState, key: &ShopKey) -> Account {
        let shop = shop_for(state, key);
        Account {
            name: shop.shop_name,
            detail: format!("（店铺ID {}）", shop.shop_id),
        }
    }

    /// A code valid 10 minutes.
    fn issue_code(state: &SimState, consent: &Consent) -> String {
        let now = state.now();
        state.douyin.tokens().issue_code(&consent.shop(), now)
    }
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

/// `token.create`: `grant_type=authorization_code` with `code` (the shop of the seller who
/// consented), or `authorization_self` with the app's own `shop_id` (a self-built app's own
/// shop: the default seller's).
pub fn token_create(state: &SimState, call: &Call<'_>) -> Result<ApiAnswer, DyError> {
    state.stats.with(PLATFORM, |s| s.token_requests += 1);
    let life = state.config.token_expires_in;
    let (shop, issued) = match str_param(call, "grant_type") {
        Some("authorization_code") => {
            let code = str_param(call, "code").ok_or_else(|| refused(state, "code-invalid"))?;
            let mut tokens = state.douyin.tokens();
            let key = tokens
                .take_code(code, call.app_key, call.now)
                .map_err(|reason| refused(state, reason))?;
            let shop = shop_for(state, &key);
            let issued = tokens.issue(&key, shop.shop_id, life, call.now);
            (shop, issued)
        }
        Some("authorization_self") => {
            let key = ShopKey::default_seller(call.app_key);
            let shop = shop_for(state, &key);
            let shop_id = call.params.get("shop_id").and_then(|v| match v {
                Value::Number(n) => n.as_u64(),
                Value::String(s) => s.parse().ok(),
                _ => None,
            });
            if shop_id != Some(shop.shop_id) {
                return Err(refused(state, "no-authorization"));
            }
            let issued = state
                .douyin
                .tokens()
                .issue(&key, shop.shop_id, life, call.now);
            (shop, issued)
        }
        _ => return Err(refused(state, "grant-type-invalid")),
    };
    state.stats.with(PLATFORM, |s| s.tokens_issued += 1);
    let seller = issued.shop.seller.as_str();
    tracing::info!(app_key = call.app_key, seller, "douyin token created");
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
    let budget = CallBudget::of(&state.faults);
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
    let shop = shop_for(state, &issued.shop);
    Ok(ApiAnswer {
        body: success(token_data(&shop, &issued)),
        is_order_list: false,
    })
}
