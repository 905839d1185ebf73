//! In-process tests of the PDD simulator (actix test utilities; no network ports).

mod change;
mod decrypt;
mod gateway;
mod increment;
mod listing;
mod oauth;

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use actix_web::web;
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Value, json};

use leadgen_domain::PlatformType;
use leadgen_platforms::sign::{Params, SignMethod, sorted_concat_sign};

use crate::faults::Faults;
use crate::state::SimState;
pub use crate::test_support::*;

pub const APP: &str = "pdd-test-client";
pub const SECRET: &str = "pdd-test-secret";
pub const OTHER_APP: &str = "pdd-other-client";
pub const OTHER_SECRET: &str = "pdd-other-secret";
pub const REDIRECT: &str = "https://client.example.com/oauth/pdd";
pub const ORDERS: usize = 500;
pub const LIST: &str = "pdd.order.list.get";
pub const RESPONSE: &str = "order_list_get_response";

pub fn state_with(seed: u64, faults: Faults) -> web::Data<SimState> {
    let p = PlatformType::Pdd;
    let apps = [(p, APP, SECRET), (p, OTHER_APP, OTHER_SECRET)];
    sim_state(seed, ORDERS, &apps, faults)
}

pub fn state() -> web::Data<SimState> {
    state_with(42, Faults::default())
}

pub fn consent_query(client_id: &str) -> String {
    form(&[
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", REDIRECT),
        ("state", "st-1"),
    ])
}

/// Opens the consent page, submits its one form, returns the `code` from the redirect.
pub async fn authorize(app: &impl TestApp, client_id: &str) -> String {
    let page = format!("/pdd/service-market/auth?{}", consent_query(client_id));
    approve(app, &page, "/pdd/service-market/auth", "st-1").await
}

pub async fn token_call(app: &impl TestApp, body: Value) -> Value {
    let req = TestRequest::post()
        .uri("/pdd/oauth/token")
        .set_json(body)
        .to_request();
    let reply = send(app, req).await;
    assert_eq!(reply.status, StatusCode::OK);
    reply.json()
}

pub async fn exchange(app: &impl TestApp, client_id: &str, secret: &str, code: &str) -> Value {
    let body = json!({"client_id": client_id, "client_secret": secret,
        "grant_type": "authorization_code", "code": code});
    token_call(app, body).await
}

/// Authorizes `APP` and returns its access token.
pub async fn login(app: &impl TestApp) -> String {
    let code = authorize(app, APP).await;
    let t = exchange(app, APP, SECRET, &code).await;
    t["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("{t}"))
        .to_owned()
}

/// A signed PDD request for `APP`.
pub fn signed(api_type: &str, token: &str, business: &[(&str, &str)]) -> Params {
    let mut p = Params::new();
    p.insert("type".into(), api_type.into());
    p.insert("client_id".into(), APP.into());
    p.insert("access_token".into(), token.into());
    p.insert("timestamp".into(), Utc::now().timestamp().to_string());
    p.insert("data_type".into(), "JSON".into());
    p.insert("version".into(), "V1".into());
    for (k, v) in business {
        p.insert((*k).into(), (*v).into());
    }
    resign(&mut p, SECRET);
    p
}

/// Drops empty parameters, then signs the rest again (md5).
pub fn resign(p: &mut Params, secret: &str) {
    p.retain(|_, v| !v.is_empty());
    resign_sorted(p, secret, SignMethod::Md5);
}

pub async fn api(app: &impl TestApp, params: &Params) -> Reply {
    post_params(app, "/pdd/api/router", params).await
}

/// The `error_code` of a reply (panics when it is not an error envelope).
pub fn error_code(reply: &Reply) -> u64 {
    assert_eq!(
        reply.status,
        StatusCode::OK,
        "PDD answers errors with HTTP 200"
    );
    let v = reply.json();
    v["error_response"]["error_code"]
        .as_u64()
        .unwrap_or_else(|| panic!("not an error: {v}"))
}

/// The listing parameters for `[start, end]` (unix seconds).
pub fn window(start: i64, end: i64) -> Vec<(&'static str, String)> {
    vec![
        ("order_status", "5".into()),
        ("refund_status", "5".into()),
        ("start_confirm_at", start.to_string()),
        ("end_confirm_at", end.to_string()),
    ]
}

pub fn pairs<'a>(b: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    b.iter().map(|(k, v)| (*k, v.as_str())).collect()
}
