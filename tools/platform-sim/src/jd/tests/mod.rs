//! In-process tests of the JD simulator (actix test utilities; no network ports).

mod change;
mod decrypt;
mod gateway;
mod listing;
mod oauth;
mod sellers;

use actix_web::http::StatusCode;
use actix_web::web;
use chrono::{TimeDelta, Utc};
use serde_json::Value;

use leadgen_domain::PlatformType;
use leadgen_domain::time::format_beijing;
use leadgen_platforms::sign::{Params, SignMethod};

use crate::faults::Faults;
use crate::state::SimState;
pub use crate::test_support::get_with as get;
pub use crate::test_support::*;

pub const APP: &str = "jd-test-app";
pub const SECRET: &str = "jd-test-secret";
pub const OTHER_APP: &str = "jd-other-app";
pub const OTHER_SECRET: &str = "jd-other-secret";
pub const REDIRECT: &str = "https://client.example.com/oauth/jd?tenant=7";
pub const ORDERS: usize = 500;
pub const ALL_STATES: &str = "WAIT_SELLER_STOCK_OUT,WAIT_GOODS_RECEIVE_CONFIRM,\
WAIT_SELLER_DELIVERY,PAUSE,FINISHED_L,TRADE_CANCELED,LOCKED,POP_ORDER_PAUSE";
pub const SEARCH: &str = "jingdong.pop.order.enSearch";
pub const RESPONSE: &str = "jingdong_pop_order_enSearch_responce";

pub fn state_with(seed: u64, faults: Faults) -> web::Data<SimState> {
    let j = PlatformType::Jd;
    let apps = [(j, APP, SECRET), (j, OTHER_APP, OTHER_SECRET)];
    sim_state(seed, ORDERS, &apps, faults)
}

pub fn state() -> web::Data<SimState> {
    state_with(42, Faults::default())
}

pub fn consent_query<'a>(app_key: &'a str, state: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("app_key", app_key),
        ("response_type", "code"),
        ("redirect_uri", REDIRECT),
        ("state", state),
        ("scope", "snsapi_base"),
    ]
}

/// Opens the consent page, submits its one form, returns the `code` from the redirect.
pub async fn authorize(app: &impl TestApp, app_key: &str) -> String {
    let page = format!(
        "/jd/oauth2/to_login?{}",
        form(&consent_query(app_key, "st-1"))
    );
    approve(app, &page, "/jd/oauth2/to_login", "st-1").await
}

pub async fn exchange(app: &impl TestApp, app_key: &str, secret: &str, code: &str) -> Reply {
    let q = [
        ("app_key", app_key),
        ("app_secret", secret),
        ("grant_type", "authorization_code"),
        ("code", code),
    ];
    send(app, get("/jd/oauth2/access_token", &q)).await
}

/// Authorizes `APP` and returns its token JSON.
pub async fn login(app: &impl TestApp) -> Value {
    let code = authorize(app, APP).await;
    let reply = exchange(app, APP, SECRET, &code).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let v = reply.json();
    assert!(v["access_token"].is_string(), "{v}");
    v
}

/// `360buy_param_json` with string values, keys sorted.
pub fn param_json(business: &[(&str, &str)]) -> String {
    let map: serde_json::Map<String, Value> = business
        .iter()
        .map(|(k, v)| ((*k).to_owned(), Value::String((*v).to_owned())))
        .collect();
    Value::Object(map).to_string()
}

/// A signed JOS request for `APP` (md5).
pub fn signed(method: &str, token: &str, business: &[(&str, &str)]) -> Params {
    let mut p = Params::new();
    p.insert("method".into(), method.into());
    p.insert("app_key".into(), APP.into());
    p.insert("access_token".into(), token.into());
    p.insert("timestamp".into(), format_beijing(Utc::now()));
    p.insert("v".into(), "2.0".into());
    p.insert("360buy_param_json".into(), param_json(business));
    resign(&mut p, SECRET, SignMethod::Md5);
    p
}

/// Drops empty parameters, then signs the rest again.
pub fn resign(p: &mut Params, secret: &str, method: SignMethod) {
    p.retain(|_, v| !v.is_empty());
    resign_sorted(p, secret, method);
}

/// POSTs `params` to the gateway as a form.
pub async fn api(app: &impl TestApp, params: &Params) -> Reply {
    post_params(app, "/jd/routerjson", params).await
}

/// The gateway error code of a reply (panics when it is not an error envelope).
pub fn error_code(reply: &Reply) -> String {
    assert_eq!(
        reply.status,
        StatusCode::OK,
        "JOS answers errors with HTTP 200"
    );
    let v = reply.json();
    v["error_response"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("not an error: {v}"))
        .to_owned()
}
