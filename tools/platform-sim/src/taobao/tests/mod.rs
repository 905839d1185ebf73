//! In-process tests of the Taobao simulator (actix test utilities; no network ports).

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
use serde_json::Value;

use leadgen_domain::PlatformType;
use leadgen_domain::time::format_beijing;
use leadgen_platforms::sign::{Params, SignMethod, sorted_concat_sign};

use crate::faults::Faults;
use crate::state::{AppCredentials, AppRegistry, SimConfig, SimState};

pub const APP: &str = "test-app";
pub const SECRET: &str = "test-secret";
pub const OTHER_APP: &str = "other-app";
pub const OTHER_SECRET: &str = "other-secret";
pub const REDIRECT: &str = "https://client.example.com/oauth/callback?tenant=7";
pub const ORDERS: usize = 300;

/// Every trade type the generator uses.
pub const ALL_TYPES: &str =
    "fixed,auction,guarantee_trade,step,independent_simple_trade,ec,cod,auto_delivery";

/// One anchor for the whole test run (start time truncated to the minute, as the CLI does), so
/// states built a moment apart generate the same orders.
pub fn anchor() -> DateTime<Utc> {
    static ANCHOR: OnceLock<DateTime<Utc>> = OnceLock::new();
    *ANCHOR.get_or_init(|| Utc::now().duration_trunc(TimeDelta::minutes(1)).unwrap())
}

pub fn state_with(seed: u64, faults: Faults) -> web::Data<SimState> {
    let anchor = anchor();
    let apps = AppRegistry::new(vec![
        AppCredentials {
            platform: PlatformType::Taobao,
            key: APP.into(),
            secret: SECRET.into(),
        },
        AppCredentials {
            platform: PlatformType::Taobao,
            key: OTHER_APP.into(),
            secret: OTHER_SECRET.into(),
        },
    ]);
    web::Data::new(SimState::new(
        SimConfig::new(seed, ORDERS, anchor),
        apps,
        faults,
    ))
}

pub fn state() -> web::Data<SimState> {
    state_with(42, Faults::default())
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

pub fn post_form(path: &str, body: String) -> Request {
    TestRequest::post()
        .uri(path)
        .insert_header((CONTENT_TYPE, "application/x-www-form-urlencoded"))
        .set_payload(body)
        .to_request()
}

/// The `(name, value)` hidden inputs of the consent page's form.
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

/// Opens the consent page for `app`, submits its form, returns the `code` from the redirect.
pub async fn authorize<S, B>(app: &S, client_id: &str) -> String
where
    S: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let query = form(&[
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", REDIRECT),
        ("state", "st-1"),
        ("view", "web"),
    ]);
    let page = send(
        app,
        TestRequest::get()
            .uri(&format!("/taobao/authorize?{query}"))
            .to_request(),
    )
    .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let inputs = hidden_inputs(&page.body);
    let pairs: Vec<(&str, &str)> = inputs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let approved = send(app, post_form("/taobao/authorize", form(&pairs))).await;
    assert_eq!(approved.status, StatusCode::FOUND, "{}", approved.body);
    let location = approved
        .headers
        .get(LOCATION)
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let url = url::Url::parse(&location).unwrap();
    let q: Params = url.query_pairs().into_owned().collect();
    assert_eq!(q.get("state").map(String::as_str), Some("st-1"));
    q.get("code").unwrap().clone()
}

pub async fn exchange<S, B>(app: &S, client_id: &str, secret: &str, code: &str) -> Reply
where
    S: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
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
pub async fn login<S, B>(app: &S) -> Value
where
    S: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
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

pub fn resign(p: &mut Params, secret: &str, sign_method: SignMethod) {
    p.remove("sign");
    let sign = sorted_concat_sign(sign_method, secret, p);
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
    send(app, post_form("/taobao/router/rest", form(&pairs))).await
}

/// GETs the gateway with `params` in the query string.
pub async fn api_get<S, B>(app: &S, params: &Params) -> Reply
where
    S: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let pairs: Vec<(&str, &str)> = params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let uri = format!("/taobao/router/rest?{}", form(&pairs));
    send(app, TestRequest::get().uri(&uri).to_request()).await
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

/// Beijing wall-clock `days` before now.
pub fn days_ago(days: i64) -> String {
    format_beijing(Utc::now() - TimeDelta::days(days))
}

pub fn now_bj() -> String {
    format_beijing(Utc::now())
}
