//! In-process tests of the Taobao simulator (actix test utilities; no network ports).

mod change;
mod decrypt;
mod faults;
mod gateway;
mod listing;
mod oauth;
mod sellers;

use actix_web::http::StatusCode;
use actix_web::http::header::CONTENT_TYPE;
use actix_web::web;
use chrono::{TimeDelta, Utc};
use serde_json::Value;

use leadgen_domain::PlatformType;
use leadgen_domain::time::format_beijing;
use leadgen_platforms::sign::{Params, SignMethod};

use crate::faults::Faults;
use crate::state::SimState;
pub use crate::test_support::resign_sorted as resign;
pub use crate::test_support::*;

pub const APP: &str = "test-app";
pub const SECRET: &str = "test-secret";
pub const OTHER_APP: &str = "other-app";
pub const OTHER_SECRET: &str = "other-secret";
pub const REDIRECT: &str = "https://client.example.com/oauth/callback?tenant=7";
pub const ORDERS: usize = 300;

/// Every trade type the generator uses.
pub const ALL_TYPES: &str =
    "fixed,auction,guarantee_trade,step,independent_simple_trade,ec,cod,auto_delivery";

pub fn state_with(seed: u64, faults: Faults) -> web::Data<SimState> {
    let t = PlatformType::Taobao;
    let apps = [(t, APP, SECRET), (t, OTHER_APP, OTHER_SECRET)];
    sim_state(seed, ORDERS, &apps, faults)
}

pub fn state() -> web::Data<SimState> {
    state_with(42, Faults::default())
}

/// Opens the consent page for `app`, submits its form, returns the `code` from the redirect.
pub async fn authorize(app: &impl TestApp, client_id: &str) -> String {
    let query = form(&[
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", REDIRECT),
        ("state", "st-1"),
        ("view", "web"),
    ]);
    let page = format!("/taobao/authorize?{query}");
    approve(app, &page, "/taobao/authorize", "st-1").await
}

pub async fn exchange(app: &impl TestApp, client_id: &str, secret: &str, code: &str) -> Reply {
    let body = form(&[
        ("grant_type", "authorization_code"),
        ("code", code),
        ("client_id", client_id),
        ("client_secret", secret),
        ("redirect_uri", REDIRECT),
    ]);
    send(app, post_form("/taobao/token", body)).await
}

/// Authorizes `APP` and returns its token JSON.
pub async fn login(app: &impl TestApp) -> Value {
    let code = authorize(app, APP).await;
    let reply = exchange(app, APP, SECRET, &code).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.json()
}

/// A signed TOP request for `APP`: system parameters, `extra`, then `sign` (md5).
pub fn signed(method: &str, session: &str, extra: &[(&str, &str)]) -> Params {
    signed_with(APP, SECRET, SignMethod::Md5, method, session, extra)
}

pub fn signed_with(
    app_key: &str,
    secret: &str,
    sign_method: SignMethod,
    method: &str,
    session: &str,
    extra: &[(&str, &str)],
) -> Params {
    let mut p = Params::new();
    p.insert("method".into(), method.into());
    p.insert("app_key".into(), app_key.into());
    p.insert("timestamp".into(), format_beijing(Utc::now()));
    p.insert("v".into(), "2.0".into());
    p.insert("format".into(), "json".into());
    p.insert(
        "sign_method".into(),
        sign_method.wire_name(PlatformType::Taobao).into(),
    );
    if !session.is_empty() {
        p.insert("session".into(), session.into());
    }
    for (k, v) in extra {
        p.insert((*k).into(), (*v).into());
    }
    resign(&mut p, secret, sign_method);
    p
}

/// POSTs `params` to the gateway as a form.
pub async fn api(app: &impl TestApp, params: &Params) -> Reply {
    post_params(app, "/taobao/router/rest", params).await
}

/// GETs the gateway with `params` in the query string.
pub async fn api_get(app: &impl TestApp, params: &Params) -> Reply {
    get_params(app, "/taobao/router/rest", params).await
}

/// The TOP error code of a reply (panics when it is not an error envelope).
pub fn error_code(reply: &Reply) -> u64 {
    assert_eq!(
        reply.status,
        StatusCode::OK,
        "TOP answers errors with HTTP 200"
    );
    let v = reply.json();
    v["error_response"]["code"]
        .as_u64()
        .unwrap_or_else(|| panic!("not an error: {v}"))
}
