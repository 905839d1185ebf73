//! Test plumbing shared by every platform's in-process tests (actix test utilities; no network
//! ports): the state and the app, requests and replies, following a consent page, posting signed
//! parameters. What differs between platforms (apps, paths, parameter names, signing, error
//! envelopes) stays in each platform's `tests` module.

use std::future::Future;
use std::pin::Pin;
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

use crate::consent::SELLER_FIELD;
use crate::faults::Faults;
pub use crate::shop::{DEFAULT_SELLER, ShopKey};
use crate::state::{AppCredentials, AppRegistry, SimConfig, SimState};

/// One anchor for the whole test run (start time truncated to the minute, as the CLI does), so
/// states built a moment apart generate the same orders.
pub fn anchor() -> DateTime<Utc> {
    static ANCHOR: OnceLock<DateTime<Utc>> = OnceLock::new();
    *ANCHOR.get_or_init(|| Utc::now().duration_trunc(TimeDelta::minutes(1)).unwrap())
}

/// A state with `apps` (platform, key, secret) registered and `orders` orders per shop.
pub fn sim_state(
    seed: u64,
    orders: usize,
    apps: &[(PlatformType, &str, &str)],
    faults: Faults,
) -> web::Data<SimState> {
    sim_state_with(SimConfig::new(seed, orders, anchor()), apps, faults)
}

/// A state with `config` (its decrypt settings, say) and `apps` registered.
pub fn sim_state_with(
    config: SimConfig,
    apps: &[(PlatformType, &str, &str)],
    faults: Faults,
) -> web::Data<SimState> {
    let apps = apps
        .iter()
        .map(|(platform, key, secret)| AppCredentials {
            platform: *platform,
            key: (*key).into(),
            secret: (*secret).into(),
        })
        .collect();
    web::Data::new(SimState::new(config, AppRegistry::new(apps), faults))
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

/// An answer: status, headers and the body as text.
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

/// The in-process app as the helpers use it (what `sim!` builds).
pub trait TestApp {
    fn reply(&self, req: Request) -> Pin<Box<dyn Future<Output = Reply> + '_>>;
}

impl<S, B> TestApp for S
where
    S: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    fn reply(&self, req: Request) -> Pin<Box<dyn Future<Output = Reply> + '_>> {
        Box::pin(async move {
            let resp = test::call_service(self, req).await;
            let status = resp.status();
            let headers = resp.headers().clone();
            let body = test::read_body(resp).await;
            Reply {
                status,
                headers,
                body: String::from_utf8(body.to_vec()).unwrap(),
            }
        })
    }
}

pub async fn send(app: &impl TestApp, req: Request) -> Reply {
    app.reply(req).await
}

/// `pairs` as `application/x-www-form-urlencoded` text.
pub fn form(pairs: &[(&str, &str)]) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

/// `params` as the `(name, value)` pairs [`form`] takes.
pub fn pairs_of(params: &Params) -> Vec<(&str, &str)> {
    params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

pub fn get(uri: &str) -> Request {
    TestRequest::get().uri(uri).to_request()
}

/// A GET of `path` with `pairs` in the query string.
pub fn get_with(path: &str, pairs: &[(&str, &str)]) -> Request {
    get(&format!("{path}?{}", form(pairs)))
}

pub fn post_form(path: &str, body: String) -> Request {
    TestRequest::post()
        .uri(path)
        .insert_header((CONTENT_TYPE, "application/x-www-form-urlencoded"))
        .set_payload(body)
        .to_request()
}

/// The gateway path of a call's `method` (`order.searchList` → `order/searchList`).
pub fn method_path(params: &Params) -> String {
    params
        .get("method")
        .cloned()
        .unwrap_or_default()
        .replace('.', "/")
}

/// POSTs `params` to `path` as a form.
pub async fn post_params(app: &impl TestApp, path: &str, params: &Params) -> Reply {
    send(app, post_form(path, form(&pairs_of(params)))).await
}

/// GETs `path` with `params` in the query string.
pub async fn get_params(app: &impl TestApp, path: &str, params: &Params) -> Reply {
    send(app, get_with(path, &pairs_of(params))).await
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

/// The value of the consent form's text input `seller` (the login name it shows).
pub fn seller_input(html: &str) -> String {
    let tag = format!("<input type=\"text\" name=\"{SELLER_FIELD}\" value=\"");
    let start = html.find(&tag).expect("a seller input") + tag.len();
    let end = start + html[start..].find('"').unwrap();
    html[start..end].to_owned()
}

/// Follows a consent page: GET `page_uri`, submit its one form's hidden inputs (no `seller`: the
/// default seller consents) to `submit_path`, check that the redirect echoes `state`, return its
/// `code`.
pub async fn approve(app: &impl TestApp, page_uri: &str, submit_path: &str, state: &str) -> String {
    submit_consent(app, page_uri, submit_path, state, None).await
}

/// As [`approve`], logging in as `seller` (the form's `seller` field).
pub async fn approve_as(
    app: &impl TestApp,
    page_uri: &str,
    submit_path: &str,
    state: &str,
    seller: &str,
) -> String {
    submit_consent(app, page_uri, submit_path, state, Some(seller)).await
}

async fn submit_consent(
    app: &impl TestApp,
    page_uri: &str,
    submit_path: &str,
    state: &str,
    seller: Option<&str>,
) -> String {
    let page = send(app, get(page_uri)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert_eq!(seller_input(&page.body), DEFAULT_SELLER);
    let inputs = hidden_inputs(&page.body);
    let mut pairs: Vec<(&str, &str)> = inputs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    pairs.extend(seller.map(|s| (SELLER_FIELD, s)));
    let approved = send(app, post_form(submit_path, form(&pairs))).await;
    assert_eq!(approved.status, StatusCode::FOUND, "{}", approved.body);
    let location = approved.headers.get(LOCATION).unwrap().to_str().unwrap();
    let back: Params = url::Url::parse(location)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    assert_eq!(back.get("state").map(String::as_str), Some(state));
    back.get("code").unwrap().clone()
}

/// The ids an admin orders view (`{"<key>": […], "count": N}`) lists for the query `pairs`;
/// checks that `count` matches.
pub async fn admin_list(
    app: &impl TestApp,
    path: &str,
    key: &str,
    pairs: &[(&str, &str)],
) -> Vec<String> {
    let v = send(app, get_with(path, pairs)).await.json();
    let list: Vec<String> = serde_json::from_value(v[key].clone()).unwrap();
    assert_eq!(v["count"].as_u64().unwrap() as usize, list.len());
    list
}

/// POSTs `body` to the test-only `/_sim/<platform>/orders/change`.
pub async fn change_order(app: &impl TestApp, platform: &str, body: Value) -> Reply {
    let req = TestRequest::post()
        .uri(&format!("/_sim/{platform}/orders/change"))
        .set_json(body)
        .to_request();
    send(app, req).await
}

/// Now, to the second (what a change's `at` keeps on every platform but Kuaishou).
pub fn now_second() -> DateTime<Utc> {
    Utc::now().duration_trunc(TimeDelta::seconds(1)).unwrap()
}

/// The `access_token` of a token answer.
pub fn token_of(login: &Value) -> String {
    login["access_token"].as_str().unwrap().to_owned()
}

/// Replaces `sign` with the sorted-concatenation signature (TOP, JOS, PDD) over the rest.
pub fn resign_sorted(p: &mut Params, secret: &str, method: SignMethod) {
    p.remove("sign");
    let sign = sorted_concat_sign(method, secret, p);
    p.insert("sign".into(), sign);
}

/// Beijing wall-clock `days` before now.
pub fn days_ago(days: i64) -> String {
    format_beijing(Utc::now() - TimeDelta::days(days))
}

pub fn now_bj() -> String {
    format_beijing(Utc::now())
}
