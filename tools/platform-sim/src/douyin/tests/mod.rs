//! In-process tests of the Douyin simulator (actix test utilities; no network ports). The
//! generic helpers (`send`, `form`, `hidden_inputs`, …) are shared with the Kuaishou tests.

mod faults;
mod gateway;
mod listing;
mod oauth;

use std::sync::OnceLock;

use actix_http::Request;
use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_TYPE, HeaderMap, LOCATION};
use actix_web::test::{self, TestRequest};
use actix_web::web;
use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use serde_json::{Value, json};

use leadgen_domain::PlatformType;
use leadgen_domain::time::format_beijing;
use leadgen_platforms::douyin::param_json;
use leadgen_platforms::sign::{Params, SignMethod, douyin_sign};

use crate::faults::Faults;
use crate::state::{AppCredentials, AppRegistry, SimConfig, SimState};

pub const APP: &str = "7100000000000000001";
pub const SECRET: &str = "dy-secret-0001";
pub const OTHER_APP: &str = "7100000000000000002";
pub const OTHER_SECRET: &str = "dy-secret-0002";
pub const REDIRECT: &str = "https://client.example.com/oauth/douyin?tenant=7";
pub const ORDERS: usize = 300;
pub const SEARCH: &str = "order.searchList";

/// One anchor for the whole test run, so states built a moment apart hold the same orders.
pub fn anchor() -> DateTime<Utc> {
    static ANCHOR: OnceLock<DateTime<Utc>> = OnceLock::new();
    *ANCHOR.get_or_init(|| Utc::now().duration_trunc(TimeDelta::minutes(1)).unwrap())
}

/// A state with `apps` (platform, key, secret) registered.
pub fn state_of(apps: &[(PlatformType, &str, &str)], faults: Faults) -> web::Data<SimState> {
    let apps = apps
        .iter()
        .map(|(platform, key, secret)| AppCredentials {
            platform: *platform,
            key: (*key).into(),
            secret: (*secret).into(),
        })
        .collect();
    web::Data::new(SimState::new(
        SimConfig::new(42, ORDERS, anchor()),
        AppRegistry::new(apps),
        faults,
    ))
}

pub fn state_with(faults: Faults) -> web::Data<SimState> {
    let d = PlatformType::Douyin;
    state_of(&[(d, APP, SECRET), (d, OTHER_APP, OTHER_SECRET)], faults)
}

pub fn state() -> web::Data<SimState> {
    state_with(Faults::default())
}

/// The whole app, in process.
macro_rules! sim {
    ($state:expr) => {
        actix_web::test::init_service(
            actix_web::App::new()
                .app_data($state.clone())
                .configure(crate::admin::configure),
        )
        .await
    };
}
pub(crate) use sim;

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

pub async fn send<S, B>(app: &S, req: Request) -> Reply
where
    S: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let resp = test::call_service(app, req).await;
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = test::read_body(resp).await;
    Reply {
        status,
        headers,
        body: String::from_utf8(body.to_vec()).unwrap(),
    }
}

pub fn form(pairs: &[(&str, &str)]) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

pub fn get(uri: &str) -> Request {
    TestRequest::get().uri(uri).to_request()
}

pub fn post_form(path: &str, body: String) -> Request {
    TestRequest::post()
        .uri(path)
        .insert_header((CONTENT_TYPE, "application/x-www-form-urlencoded"))
        .set_payload(body)
        .to_request()
}

/// The `(name, value)` hidden inputs of a consent page's form (which must be the only one).
pub fn hidden_inputs(html: &str) -> Vec<(String, String)> {
    assert_eq!(html.matches("<form").count(), 1, "exactly one form: {html}");
    let unescape = |s: &str| {
        s.replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&")
    };
    html.split("<input ")
        .skip(1)
        .filter(|chunk| chunk.starts_with("type=\"hidden\""))
        .map(|chunk| {
            let attr = |name: &str| {
                let start = chunk.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
                let end = start + chunk[start..].find('"').unwrap();
                unescape(&chunk[start..end])
            };
            (attr("name"), attr("value"))
        })
        .collect()
}

/// Follows a consent page: GET `page_uri`, submit its one form to `submit_path`, return the
/// redirect's query parameters.
pub async fn approve<S, B>(app: &S, page_uri: &str, submit_path: &str) -> Params
where
    S: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let page = send(app, get(page_uri)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let inputs = hidden_inputs(&page.body);
    let pairs: Vec<(&str, &str)> = inputs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let approved = send(app, post_form(submit_path, form(&pairs))).await;
    assert_eq!(approved.status, StatusCode::FOUND, "{}", approved.body);
    let location = approved.headers.get(LOCATION).unwrap().to_str().unwrap();
    url::Url::parse(location)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
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
pub async fn api<S, B>(app: &S, c: &DyCall) -> Reply
where
    S: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let path = c
        .query
        .get("method")
        .cloned()
        .unwrap_or_default()
        .replace('.', "/");
    api_at(app, &path, c).await
}

pub async fn api_at<S, B>(app: &S, path: &str, c: &DyCall) -> Reply
where
    S: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let pairs: Vec<(&str, &str)> = c
        .query
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let req = TestRequest::post()
        .uri(&format!("/douyin/{path}?{}", form(&pairs)))
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
pub async fn authorize<S, B>(app: &S) -> String
where
    S: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let q = form(&[
        ("service_id", APP),
        ("state", "st-1"),
        ("redirect_uri", REDIRECT),
    ]);
    let back = approve(app, &format!("/douyin/authorize?{q}"), "/douyin/authorize").await;
    assert_eq!(back.get("state").map(String::as_str), Some("st-1"));
    back.get("code").unwrap().clone()
}

/// Authorizes `APP` and returns the `token.create` data.
pub async fn login<S, B>(app: &S) -> Value
where
    S: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
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
