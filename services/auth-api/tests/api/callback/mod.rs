//! `GET /platforms/auth/callback`: the platform's redirect after the merchant's consent.
//!
//! - `consent`: the `state` and the merchant's answer (refusal, abandonment, the way back to
//!   the front end, a platform that cannot exchange the code);
//! - `exchange`: the code exchanged for sealed tokens, refused codes, HEAD, a burst of consents;
//! - `renewal`: a shop connected or authorized again keeps its one record;
//! - `backfill`: a newly connected shop's history, and when it is fetched again;
//! - `browser`: a consent completes only in the browser that asked for it.
//!
//! The fixtures below: a Taobao authorization through the API, a stand-in token endpoint, and
//! the steps every test repeats.

mod backfill;
mod browser;
mod consent;
mod exchange;
mod renewal;

use std::sync::{Arc, Mutex};

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use leadgen_db::schema::t_ecom_sync_task;
use leadgen_test_support::TestBroker;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::sync::Notify;

use crate::helpers::{AUTH, Relay, TaskRow, TestApp, expect_envelope, spawn_app_relaying, token};

const APP_KEY: &str = "callback-app-key";
const APP_SECRET: &str = "callback-app-secret";

/// Adds a Taobao authorization through the API; its id and the raw `state` of its consent URL.
async fn pending(app: &TestApp, redirect_url: Option<&str>) -> (i64, String) {
    let (id, state, _) = pending_with_cookies(app, redirect_url).await;
    (id, state)
}

/// [`pending`], with the `Set-Cookie` headers of the answer.
async fn pending_with_cookies(
    app: &TestApp,
    redirect_url: Option<&str>,
) -> (i64, String, Vec<String>) {
    let mut body = json!({
        "platformType": "TAOBAO",
        "authInfo": { "appKey": APP_KEY, "appSecret": APP_SECRET },
    });
    if let Some(url) = redirect_url {
        body["redirectUrl"] = json!(url);
    }
    let response = app
        .create_authorization(Some(&token(1, &[AUTH])), &body)
        .await;
    let cookies = set_cookies(&response);
    let body = expect_envelope(response, StatusCode::CREATED, 201).await;
    let id = body["data"]["platformId"].as_i64().expect("platformId");
    (id, state_of(&body), cookies)
}

/// The raw `state` of the consent URL a `POST /platforms/auth` answered.
fn state_of(created: &Value) -> String {
    let auth_url = created["data"]["authUrl"].as_str().expect("authUrl");
    url::Url::parse(auth_url)
        .expect("authUrl")
        .query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .expect("state in authUrl")
}

/// A stand-in for the platform's token endpoint: answers every request with `status` and
/// `body` (or each with the next of a list of answers, the last repeated), and keeps the form
/// bodies it received.
struct TokenEndpoint {
    url: String,
    requests: Arc<Mutex<Vec<String>>>,
}

/// A token endpoint's answers held back: `received` is notified when a request has come in,
/// and the answer goes out once `release` is notified.
#[derive(Clone, Default)]
struct Hold {
    received: Arc<Notify>,
    release: Arc<Notify>,
}

impl TokenEndpoint {
    async fn start(status: u16, body: Value) -> TokenEndpoint {
        Self::answering(vec![(status, body)], None).await
    }

    /// [`TokenEndpoint::start`], each answer waiting for `hold`'s release.
    async fn start_holding(status: u16, body: Value, hold: Hold) -> TokenEndpoint {
        Self::answering(vec![(status, body)], Some(hold)).await
    }

    /// Answers the n-th request with `answers[n]`, and every request past them with the last.
    async fn answering(answers: Vec<(u16, Value)>, hold: Option<Hold>) -> TokenEndpoint {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!(
            "http://{}/taobao/token",
            listener.local_addr().expect("addr")
        );
        let requests: Arc<Mutex<Vec<String>>> = Arc::default();
        let seen = Arc::clone(&requests);
        tokio::spawn(async move {
            let mut answers = answers.into_iter();
            let mut last = (500, Value::Null);
            while let Ok((mut stream, _)) = listener.accept().await {
                let request = read_request(&mut stream).await;
                seen.lock().expect("lock").push(request);
                if let Some(hold) = &hold {
                    hold.received.notify_one();
                    hold.release.notified().await;
                }
                if let Some(next) = answers.next() {
                    last = next;
                }
                let (status, body) = (last.0, last.1.to_string());
                let response = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
                let _ = stream.shutdown().await;
            }
        });
        TokenEndpoint { url, requests }
    }

    fn forms(&self) -> Vec<Vec<(String, String)>> {
        self.requests
            .lock()
            .expect("lock")
            .iter()
            .map(|body| {
                url::form_urlencoded::parse(body.as_bytes())
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect()
            })
            .collect()
    }
}

/// Reads one HTTP/1.1 request; returns its body.
async fn read_request(stream: &mut tokio::net::TcpStream) -> String {
    leadgen_test_support::http_stub::read_request(stream)
        .await
        .and_then(|request| request.split_once('\n').map(|(_, body)| body.to_owned()))
        .unwrap_or_default()
}

async fn app_with_token_endpoint(endpoint: &TokenEndpoint) -> TestApp {
    app_with_token_endpoint_and(endpoint, Relay::Running, |_| {}).await
}

/// [`app_with_token_endpoint`], its settings changed by `customize` too.
async fn app_with_token_endpoint_and(
    endpoint: &TokenEndpoint,
    relay: Relay,
    customize: impl FnOnce(&mut auth_api::Settings),
) -> TestApp {
    let url = endpoint.url.clone();
    spawn_app_relaying(TestBroker::new(Vec::new()), relay, move |s| {
        if let Some(taobao) = s
            .platforms
            .endpoints
            .get_mut(&leadgen_domain::PlatformType::Taobao)
        {
            taobao.token_url = url;
        }
        customize(s);
    })
    .await
}

/// The app of [`app_with_token_endpoint`], backfilling 90 days of a newly connected shop, and
/// keeping a disconnected shop's history `retention_days` (the default when `None`).
async fn app_backfilling(endpoint: &TokenEndpoint, retention_days: Option<i64>) -> TestApp {
    // No relay, so the events a callback writes stay in the outbox to be read.
    app_with_token_endpoint_and(endpoint, Relay::Off, move |s| {
        s.oauth.backfill_days = 90;
        if let Some(days) = retention_days {
            s.shops.history_retention_days = days;
        }
    })
    .await
}

/// `POST /platforms/{shop}/reauthorize`, with the front end's `redirect_url` if any: the answer,
/// and the state of its new `authUrl`.
async fn reauthorize(app: &TestApp, shop: i64, redirect_url: Option<&str>) -> (Value, String) {
    let mut request = app
        .client
        .post(app.url(&format!("/platforms/{shop}/reauthorize")))
        .bearer_auth(token(1, &[AUTH]));
    if let Some(url) = redirect_url {
        request = request.json(&json!({ "redirectUrl": url }));
    }
    let answer = request.send().await.expect("POST reauthorize");
    let answer = expect_envelope(answer, StatusCode::OK, 200).await;
    let state = state_of(&answer);
    (answer, state)
}

/// Taobao's token answer for the shop `user_id`, with tokens named after `tag`.
fn taobao_tokens(tag: &str, user_id: &str) -> Value {
    json!({
        "access_token": format!("AT-{tag}"),
        "expires_in": 86400,
        "refresh_token": format!("RT-{tag}"),
        "re_expires_in": 2_592_000,
        "taobao_user_id": user_id,
        "taobao_user_nick": "shop",
    })
}

fn param<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Where `response` sends the browser.
fn location_of(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .expect("Location")
        .to_owned()
}

/// The `Set-Cookie` headers of `response`.
fn set_cookies(response: &reqwest::Response) -> Vec<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(str::to_owned)
        .collect()
}

/// Connects a Taobao shop: a new authorization whose consent completes (the token endpoint
/// approves); its id.
async fn connect(app: &TestApp) -> i64 {
    let (id, state) = pending(app, None).await;
    let response = app.callback(&[("code", "code-1"), ("state", &state)]).await;
    expect_envelope(response, StatusCode::OK, 200).await;
    id
}

/// Authorizes `shop` again (`POST /platforms/{shop}/reauthorize`, then its consent): the
/// callback's answer.
async fn reconnect(app: &TestApp, shop: i64) -> Value {
    let (_, state) = reauthorize(app, shop, None).await;
    let response = app.callback(&[("code", "code-2"), ("state", &state)]).await;
    expect_envelope(response, StatusCode::OK, 200).await
}

/// The shop's sync tasks with their ids, oldest first.
async fn tasks_of(app: &TestApp, shop: i64) -> Vec<(i64, TaskRow)> {
    let mut conn = app.conn().await;
    t_ecom_sync_task::table
        .filter(t_ecom_sync_task::platform_id.eq(shop))
        .order(t_ecom_sync_task::id.asc())
        .select((t_ecom_sync_task::id, TaskRow::as_select()))
        .load(&mut conn)
        .await
        .expect("the shop's sync tasks")
}

/// The statuses of the shop's BACKFILL tasks, oldest first.
async fn backfill_statuses(app: &TestApp, shop: i64) -> Vec<String> {
    tasks_of(app, shop)
        .await
        .into_iter()
        .filter(|(_, task)| task.trigger_type == "BACKFILL")
        .map(|(_, task)| task.status)
        .collect()
}

/// The errors of the failed consents (`PLATFORM_AUTH_ACTIVATE`) in the operation log.
async fn refusals(app: &TestApp) -> Vec<String> {
    app.operation_log()
        .await
        .into_iter()
        .filter(|l| l.action == "PLATFORM_AUTH_ACTIVATE")
        .filter_map(|l| l.error_message)
        .collect()
}
