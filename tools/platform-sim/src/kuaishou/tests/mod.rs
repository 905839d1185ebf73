//! In-process tests of the Kuaishou simulator (actix test utilities; no network ports).

mod api;
mod change;
mod decrypt;
mod listing;
mod oauth;

use actix_web::http::StatusCode;
use actix_web::web;
use chrono::Utc;
use serde_json::{Value, json};

use leadgen_domain::PlatformType;
use leadgen_platforms::sign::{Params, SignMethod, kuaishou_sign};

use crate::faults::Faults;
use crate::state::SimState;
pub use crate::test_support::*;

pub const APP: &str = "ks700000000000000001";
pub const APP_SECRET: &str = "ksAppSecret01";
pub const SIGN_SECRET: &str = "ksSignSecret01";
/// An app registered without a signSecret: its app secret signs.
pub const OTHER_APP: &str = "ks700000000000000002";
pub const OTHER_SECRET: &str = "ksOtherSecret02";
pub const REDIRECT: &str = "https://client.example.com/oauth/kuaishou";
pub const ORDERS: usize = 300;
pub const LIST: &str = "open.order.cursor.list";

pub fn state_with(faults: Faults) -> web::Data<SimState> {
    let k = PlatformType::Kuaishou;
    let both = format!("{APP_SECRET}:{SIGN_SECRET}");
    sim_state(
        42,
        ORDERS,
        &[(k, APP, &both), (k, OTHER_APP, OTHER_SECRET)],
        faults,
    )
}

pub fn state() -> web::Data<SimState> {
    state_with(Faults::default())
}

/// The consent page's code for `APP`.
pub async fn authorize(app: &impl TestApp) -> String {
    let q = form(&[
        ("app_id", APP),
        ("redirect_uri", REDIRECT),
        ("scope", "merchant_order"),
        ("response_type", "code"),
        ("state", "k-1"),
    ]);
    let page = format!("/kuaishou/oauth/authorize?{q}");
    approve(app, &page, "/kuaishou/oauth/authorize", "k-1").await
}

pub async fn exchange(app: &impl TestApp, app_id: &str, secret: &str, code: &str) -> Value {
    let q = form(&[
        ("app_id", app_id),
        ("app_secret", secret),
        ("grant_type", "code"),
        ("code", code),
    ]);
    let reply = send(app, get(&format!("/kuaishou/oauth2/access_token?{q}"))).await;
    assert_eq!(reply.status, StatusCode::OK);
    reply.json()
}

/// Authorizes `APP`; the token answer.
pub async fn login(app: &impl TestApp) -> Value {
    let code = authorize(app).await;
    let v = exchange(app, APP, APP_SECRET, &code).await;
    assert_eq!(v["result"], 1, "{v}");
    v
}

/// Every parameter of a call of `method` for `APP`, signed (MD5) with its signSecret.
pub fn signed(method: &str, token: &str, param: &Value) -> Params {
    signed_with(APP, SIGN_SECRET, SignMethod::Md5, method, token, param)
}

pub fn signed_with(
    app_key: &str,
    secret: &str,
    sm: SignMethod,
    method: &str,
    token: &str,
    param: &Value,
) -> Params {
    let mut p = Params::new();
    p.insert("appkey".into(), app_key.into());
    p.insert("method".into(), method.into());
    p.insert("version".into(), "1".into());
    p.insert(
        "timestamp".into(),
        Utc::now().timestamp_millis().to_string(),
    );
    p.insert("access_token".into(), token.into());
    p.insert(
        "signMethod".into(),
        sm.wire_name(PlatformType::Kuaishou).into(),
    );
    p.insert("param".into(), param.to_string());
    resign(&mut p, secret);
    p
}

pub fn resign(p: &mut Params, secret: &str) {
    p.remove("sign");
    let sm = if p.get("signMethod").map(String::as_str) == Some("HMAC_SHA256") {
        SignMethod::HmacSha256
    } else {
        SignMethod::Md5
    };
    let sign = kuaishou_sign(sm, secret, p);
    p.insert("sign".into(), sign);
}

/// GETs `/kuaishou/{method path}` with `p` in the query.
pub async fn api(app: &impl TestApp, p: &Params) -> Reply {
    api_at(app, &method_path(p), p).await
}

pub async fn api_at(app: &impl TestApp, path: &str, p: &Params) -> Reply {
    get_params(app, &format!("/kuaishou/{path}"), p).await
}

/// The `result` of an answer.
pub fn result_of(reply: &Reply) -> u64 {
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let v = reply.json();
    v["result"]
        .as_u64()
        .unwrap_or_else(|| panic!("no result: {v}"))
}

/// A list call over the last `days` (≤ 7) with `extra` fields.
pub fn list_call(token: &str, days: i64, extra: Value) -> Params {
    let end = Utc::now().timestamp_millis();
    let mut param = json!({"orderViewStatus": 1, "pageSize": 50, "sort": 1, "queryType": 1,
        "beginTime": end - days * 86_400_000, "endTime": end, "cpsType": 0, "cursor": ""});
    if let (Some(p), Some(e)) = (param.as_object_mut(), extra.as_object()) {
        p.extend(e.clone());
    }
    signed(LIST, token, &param)
}
