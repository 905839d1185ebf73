//! In-process tests of the PDD simulator (actix test utilities; no network ports).

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
use leadgen_platforms::sign::{Params, SignMethod, sorted_concat_sign};

use crate::faults::Faults;
use crate::state::{AppCredentials, AppRegistry, SimConfig, SimState};

pub const APP: &str = "pdd-test-client";
pub const SECRET: &str = "pdd-test-secret";
pub const OTHER_APP: &str = "pdd-other-client";
pub const OTHER_SECRET: &str = "pdd-other-secret";
pub const REDIRECT: &str = "https://client.example.com/oauth/pdd";
pub const ORDERS: usize = 500;
pub const LIST: &str = "pdd.order.list.get";
pub const RESPONSE: &str = "order_list_get_response";

pub fn anchor() -> DateTime<Utc> {
    static ANCHOR: OnceLock<DateTime<Utc>> = OnceLock::new();
    *ANCHOR.get_or_init(|| Utc::now().duration_trunc(TimeDelta::minutes(1)).unwrap())
}

pub fn state_with(seed: u64, faults: Faults) -> web::Data<SimState> {
    let app = |key: &str, secret: &str| AppCredentials {
        platform: PlatformType::Pdd,
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

pub fn post_form(path: &str, body: String) -> Request {
    TestRequest::post()
        .uri(path)
        .insert_header((CONTENT_TYPE, "application/x-www-form-urlencoded"))
        .set_payload(body)
        .to_request()
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
pub async fn authorize<S, B>(app: &S, client_id: &str) -> String
where
    S: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let uri = format!("/pdd/service-market/auth?{}", consent_query(client_id));
    let page = send(app, TestRequest::get().uri(&uri).to_request()).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let inputs = crate::jd::tests::hidden_inputs(&page.body);
    let pairs: Vec<(&str, &str)> = inputs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let approved = send(app, post_form("/pdd/service-market/auth", form(&pairs))).await;
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

pub async fn token_call<S, B>(app: &S, body: Value) -> Value
where
    S: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let req = TestRequest::post()
        .uri("/pdd/oauth/token")
        .set_json(body)
        .to_request();
    let reply = send(app, req).await;
    assert_eq!(reply.status, StatusCode::OK);
    reply.json()
}

pub async fn exchange<S, B>(app: &S, client_id: &str, secret: &str, code: &str) -> Value
where
    S: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let body = json!({"client_id": client_id, "client_secret": secret,
        "grant_type": "authorization_code", "code": code});
    token_call(app, body).await
}

/// Authorizes `APP` and returns its access token.
pub async fn login<S, B>(app: &S) -> String
where
    S: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
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

pub fn resign(p: &mut Params, secret: &str) {
    p.remove("sign");
    p.retain(|_, v| !v.is_empty());
    let sign = sorted_concat_sign(SignMethod::Md5, secret, p);
    p.insert("sign".into(), sign);
}

pub async fn api<S, B>(app: &S, params: &Params) -> Reply
where
    S: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let pairs: Vec<(&str, &str)> = params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    send(app, post_form("/pdd/api/router", form(&pairs))).await
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
