//! Kuaishou OAuth: the consent page (`/oauth/authorize?app_id&redirect_uri&scope&response_type
//! =code&state`), `GET /oauth2/access_token` and `POST /oauth2/refresh_token`.
//!
//! Token answer [unverified]: `{"result":1,"access_token","expires_in","refresh_token",
//! "refresh_token_expires_in","open_id","scopes"}`; errors as in `errors`.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use leadgen_domain::PlatformType;
use leadgen_platforms::sign::Params;

use super::errors::OauthError;
use super::orders::KsShop;
use super::{PLATFORM, secrets, shop_for};
use crate::consent::{
    Account, Consent, ConsentFlow, ConsentPage, ErrorPage, Permissions, is_web_url,
};
use crate::http_util::{non_empty, request_params};
use crate::shop::ShopKey;
use crate::state::SimState;
use crate::stats::bump;
use crate::tokens::{IssuedTokens, Lifetimes};

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

/// The consent page (`/kuaishou/oauth/authorize`); it lists the scopes asked for.
pub struct Flow;

impl ConsentFlow for Flow {
    const PLATFORM: PlatformType = PLATFORM;
    const PAGE: ConsentPage = ConsentPage {
        title: "快手小店 - 授权",
        header: None,
        account_label: "当前账号：",
        app_label: "应用",
        app_request: "申请以下权限：",
        permissions: Permissions::Requested,
        action: "/kuaishou/oauth/authorize",
        button: "确认授权",
        cancel: None,
        note: None,
        error: ErrorPage {
            title: "快手开放平台 - 授权失败",
            boxed: false,
            hint: None,
        },
    };

    fn validate(state: &SimState, params: &Params) -> Result<Consent, String> {
        let get = |k: &str| non_empty(params, k);
        let app_id = get("app_id").ok_or("缺少参数 app_id")?;
        if state.apps.find(PLATFORM, app_id).is_none() {
            return Err(format!("应用 {app_id} 不存在"));
        }
        if get("response_type") != Some("code") {
            return Err("response_type 只支持 code".into());
        }
        let redirect_uri = get("redirect_uri").ok_or("缺少参数 redirect_uri")?;
        if !is_web_url(redirect_uri) {
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
            scopes,
            ..Consent::new(app_id, redirect_uri, get("state"))
        })
    }

    fn account(state: &SimState, shop: &ShopKey) -> Account {
        Account::named(shop_for(state, shop).nick)
    }

    /// A code valid 2 minutes, single use.
    fn issue_code(state: &SimState, consent: &Consent) -> String {
        let now = state.now();
        state.kuaishou.tokens().issue_code(&consent.shop(), now)
    }
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
    let get = |k: &str| non_empty(params, k);
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
        let shop = tokens
            .take_code(code, app_id, now)
            .map_err(OauthError::invalid_grant)?;
        Ok((
            shop_for(&state, &shop),
            tokens.issue(&shop, Lifetimes::of(&state.config), now),
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
            .refresh(
                app_id,
                refresh_token,
                Lifetimes::of(&state.config),
                state.now(),
            )
            .map_err(OauthError::invalid_grant)?;
        state.stats.with(PLATFORM, |s| s.tokens_refreshed += 1);
        Ok((shop_for(&state, &issued.shop), issued))
    });
    answer(&state, result)
}
