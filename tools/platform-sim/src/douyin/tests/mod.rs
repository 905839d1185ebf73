//! In-process tests of the Douyin simulator (actix test utilities; no network ports).

mod change;
mod decrypt;
mod faults;
mod gateway;
mod listing;
mod oauth;
mod sellers;

use actix_web::http::StatusCode;
use actix_web::http::header::CONTENT_TYPE;
use actix_web::test::TestRequest;
use actix_web::web;
use chrono::{TimeDelta, Utc};
use serde_json::{Value, json};

use leadgen_domain::PlatformType;
use leadgen_domain::time::format_beijing;
use leadgen_platforms::douyin::param_json;
use leadgen_platforms::sign::{Params, SignMethod, douyin_sign};

use crate::faults::Faults;
use crate::state::SimState;
pub use crate::test_support::*;

pub const APP: &str = "7100000000000000001";
pub const SECRET: &str = "dy-secret-0001";
pub const OTHER_APP: &str = "7100000000000000002";
pub const OTHER_SECRET: &str = "dy-secret-0002";
pub const REDIRECT: &str = "https://client.example.com/oauth/douyin?tenant=7";
pub const ORDERS: usize = 300;
pub const SEARCH: &str = "order.searchList";

pub fn state_with(faults: Faults) -> web::Data<SimState> {
    let d = PlatformType::Douyin;
    sim_state(
        42,
        ORDERS,
        &[(d, APP, SECRET), (d, OTHER_APP, OTHER_SECRET)],
        faults,
    )
}

pub fn state() -> web::Data<SimState> {
    state_with(Faults::default())
}

/// A Douyin call: the query (system parameters, signed) and the `param_json` body.
pub struct DyCall {
    pub query: Params,
    pub body: String,
}

/// A signed call of `method` for `APP` (hmac-sha256, Beijing timestamp).
pub fn call(method: &str, token: Option<&str>, params: Value) -> DyCall {
    call_with(
        APP,
        SECRET,
        SignMethod::HmacSha256,
        method,
        token,
        &param_json(&params),
    )
}

pub fn call_with(
    app_key: &str,
    secret: &str,
    sign_method: SignMethod,
    method: &str,
    token: Option<&str>,
    body: &str,
) -> DyCall {
    let mut query = Params::new();
    query.insert("app_key".into(), app_key.into());
    query.insert("method".into(), method.into());
    if let Some(t) = token {
        query.insert("access_token".into(), t.into());
    }
    query.insert("timestamp".into(), format_beijing(Utc::now()));
    query.insert("v".into(), "2".into());
    query.insert(
        "sign_method".into(),
        sign_method.wire_name(PlatformType::Douyin).into(),
    );
    let mut c = DyCall {
        query,
        body: body.to_owned(),
    };
    resign(&mut c, secret);
    c
}

/// Signs `c` again (after tampering) with `secret` and its own `sign_method`.
pub fn resign(c: &mut DyCall, secret: &str) {
    let method = match c.query.get("sign_method").map(String::as_str) {
        Some("hmac-sha256") => SignMethod::HmacSha256,
        _ => SignMethod::Md5,
    };
    let q = |k: &str| c.query.get(k).cloned().unwrap_or_default();
    let sign = douyin_sign(
        method,
        secret,
        &q("app_key"),
        &q("method"),
        &c.body,
        &q("timestamp"),
    );
    c.query.insert("sign".into(), sign);
}

/// POSTs `c` to `/douyin/{method path}`.
pub async fn api(app: &impl TestApp, c: &DyCall) -> Reply {
    api_at(app, &method_path(&c.query), c).await
}

pub async fn api_at(app: &impl TestApp, path: &str, c: &DyCall) -> Reply {
    let req = TestRequest::post()
        .uri(&format!("/douyin/{path}?{}", form(&pairs_of(&c.query))))
        .insert_header((CONTENT_TYPE, "application/json"))
        .set_payload(c.body.clone())
        .to_request();
    send(app, req).await
}

/// `(code, sub_code)` of an answer (10000 on success).
pub fn code_of(reply: &Reply) -> (u64, String) {
    assert_eq!(
        reply.status,
        StatusCode::OK,
        "Douyin answers errors with HTTP 200"
    );
    let v = reply.json();
    (
        v["code"].as_u64().unwrap_or_else(|| panic!("no code: {v}")),
        v["sub_code"].as_str().unwrap_or_default().to_owned(),
    )
}

/// Authorizes `APP` through the consent page and returns the code.
pub async fn authorize(app: &impl TestApp) -> String {
    let q = form(&[
        ("service_id", APP),
        ("state", "st-1"),
        ("redirect_uri", REDIRECT),
    ]);
    approve(
        app,
        &format!("/douyin/authorize?{q}"),
        "/douyin/authorize",
        "st-1",
    )
    .await
}

/// Authorizes `APP` and returns the `token.create` data.
pub async fn login(app: &impl TestApp) -> Value {
    let code = authorize(app).await;
    let c = call(
        "token.create",
        None,
        json!({"code": code, "grant_type": "authorization_code"}),
    );
    let reply = api(app, &c).await;
    assert_eq!(code_of(&reply).0, 10000, "{}", reply.body);
    reply.json()["data"].clone()
}

/// A search over the last `days` days (unix seconds), ascending, with `extra` parameters.
pub fn search(token: &str, days: i64, extra: Value) -> DyCall {
    let now = Utc::now().timestamp();
    let mut params = json!({"create_time_start": now - days * 86_400, "create_time_end": now,
        "order_by": "create_time", "order_asc": true, "page": 0, "size": 100});
    if let (Some(p), Some(e)) = (params.as_object_mut(), extra.as_object()) {
        p.extend(e.clone());
    }
    call(SEARCH, Some(token), params)
}
