//! In-process tests of the JD simulator (actix test utilities; no network ports).

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
use serde_json::Value;

use leadgen_domain::PlatformType;
use leadgen_domain::time::format_beijing;
use leadgen_platforms::sign::{Params, SignMethod, sorted_concat_sign};

use crate::faults::Faults;
use crate::state::{AppCredentials, AppRegistry, SimConfig, SimState};

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

/// One anchor for the whole test run, so states built a moment apart share their orders.
pub fn anchor() -> DateTime<Utc> {
    static ANCHOR: OnceLock<DateTime<Utc>> = OnceLock::new();
    *ANCHOR.get_or_init(|| Utc::now().duration_trunc(TimeDelta::minutes(1)).unwrap())
}

pub fn state_with(seed: u64, faults: Faults) -> web::Data<SimState> {
    let app = |key: &str, secret: &str| AppCredentials {
        platform: PlatformType::Jd,
        key: key.into(),
        secret: secret.into(),
    };
    let apps = AppRegistry::new(vec![app(APP, SECRET), app(OTHER_APP, OTHER_SECRET)]);
    web::Data::new(SimState::new(
        SimConfig::new(seed, ORDERS, anchor()),
        apps,
        faults,
    ))
}

pub fn state() -> web::Data<SimState> {
    state_with(42, Faults::default())
}

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

pub fn get(path: &str, pairs: &[(&str, &str)]) -> Request {
    TestRequest::get()
        .uri(&format!("{path}?{}", form(pairs)))
        .to_request()
}

pub fn post_form(path: &str, body: String) -> Request {
    TestRequest::post()
        .uri(path)
        .insert_header((CONTENT_TYPE, "application/x-www-form-urlencoded"))
        .set_payload(body)
        .to_request()
}

/// The `(name, value)` hidden inputs of a consent page's form.
pub fn hidden_inputs(html: &str) -> Vec<(String, String)> {
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
pub async fn authorize<S, B>(app: &S, app_key: &str) -> String
where
    S: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let page = send(
        app,
        get("/jd/oauth2/to_login", &consent_query(app_key, "st-1")),
    )
    .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let inputs = hidden_inputs(&page.body);
    let pairs: Vec<(&str, &str)> = inputs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let approved = send(app, post_form("/jd/oauth2/to_login", form(&pairs))).await;
    assert_eq!(approved.status, StatusCode::FOUND, "{}", approved.body);
    let location = approved.headers.get(LOCATION).unwrap().to_str().unwrap();
    let q: Params = url::Url::parse(location)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    assert_eq!(q.get("state").map(String::as_str), Some("st-1"));
    q.get("code").unwrap().clone()
}

pub async fn exchange<S, B>(app: &S, app_key: &str, secret: &str, code: &str) -> Reply
where
    S: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let q = [
        ("app_key", app_key),
        ("app_secret", secret),
        ("grant_type", "authorization_code"),
        ("code", code),
    ];
    send(app, get("/jd/oauth2/access_token", &q)).await
}

/// Authorizes `APP` and returns its token JSON.
pub async fn login<S, B>(app: &S) -> Value
where
    S: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
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

pub fn resign(p: &mut Params, secret: &str, method: SignMethod) {
    p.remove("sign");
    p.retain(|_, v| !v.is_empty());
    let sign = sorted_concat_sign(method, secret, p);
    p.insert("sign".into(), sign);
}

/// POSTs `params` to the gateway as a form.
pub async fn api<S, B>(app: &S, params: &Params) -> Reply
where
    S: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let pairs: Vec<(&str, &str)> = params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    send(app, post_form("/jd/routerjson", form(&pairs))).await
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

/// Beijing wall-clock `days` before now.
pub fn days_ago(days: i64) -> String {
    format_beijing(Utc::now() - TimeDelta::days(days))
}

pub fn now_bj() -> String {
    format_beijing(Utc::now())
}
