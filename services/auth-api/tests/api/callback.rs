//! `GET /platforms/auth/callback`: the platform's redirect after the merchant's consent.

use std::sync::{Arc, Mutex};

use chrono::{Duration, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use leadgen_db::schema::{t_ecom_platform_auth, t_ecom_sync_task};
use leadgen_domain::PlatformId;
use leadgen_test_support::TestBroker;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::helpers::{
    AUTH, CALLBACK_URL, SYNC, TestApp, VIEW, expect_envelope, page_records, spawn_app,
    spawn_app_with, spawn_app_without_relay, token,
};

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
/// `body`, and keeps the form bodies it received.
struct TokenEndpoint {
    url: String,
    requests: Arc<Mutex<Vec<String>>>,
}

impl TokenEndpoint {
    async fn start(status: u16, body: Value) -> TokenEndpoint {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!(
            "http://{}/taobao/token",
            listener.local_addr().expect("addr")
        );
        let requests: Arc<Mutex<Vec<String>>> = Arc::default();
        let seen = Arc::clone(&requests);
        let body = body.to_string();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let request = read_request(&mut stream).await;
                seen.lock().expect("lock").push(request);
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
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream.read(&mut chunk).await.unwrap_or(0);
        if n == 0 {
            break;
        }
        buffer.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buffer).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if body.len() >= length {
                return body.to_owned();
            }
        }
    }
    String::new()
}

async fn app_with_token_endpoint(endpoint: &TokenEndpoint) -> TestApp {
    app_with_token_endpoint_and(endpoint, |_| {}).await
}

/// [`app_with_token_endpoint`], its settings changed by `customize` too.
async fn app_with_token_endpoint_and(
    endpoint: &TokenEndpoint,
    customize: impl FnOnce(&mut auth_api::Settings),
) -> TestApp {
    let url = endpoint.url.clone();
    spawn_app_with(TestBroker::new(Vec::new()), move |s| {
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
    app_with_token_endpoint_and(endpoint, move |s| {
        s.oauth.backfill_days = 90;
        // The relay paused, so the events a callback writes stay in the outbox to be read (a
        // running relay may publish and delete them first).
        s.outbox.poll_interval_ms = 3_600_000;
        if let Some(days) = retention_days {
            s.shops.history_retention_days = days;
        }
    })
    .await
}

/// `POST /platforms/{shop}/reauthorize`: the answer, and the state of its new `authUrl`.
async fn reauthorize(app: &TestApp, shop: i64) -> (Value, String) {
    let answer = app
        .client
        .post(app.url(&format!("/platforms/{shop}/reauthorize")))
        .bearer_auth(token(1, &[AUTH]))
        .send()
        .await
        .expect("POST reauthorize");
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

#[tokio::test]
async fn callback_with_an_unknown_or_missing_state_answers_40002() {
    let app = spawn_app().await;
    pending(&app, None).await;
    for query in [
        vec![("code", "abc"), ("state", "not-a-state-we-issued")],
        vec![("code", "abc")],
        vec![("code", "abc"), ("state", "")],
        vec![],
    ] {
        let response = app.callback(&query).await;
        expect_envelope(response, StatusCode::BAD_REQUEST, 40002).await;
    }
}

#[tokio::test]
async fn callback_after_the_state_expired_answers_40002() {
    let app = spawn_app().await;
    let (id, state) = pending(&app, None).await;
    let mut conn = app.conn().await;
    // Issued 31 minutes ago; the record itself changed a moment ago (a token refresh, a status
    // change): the link's age is the state's, not the record's.
    diesel::update(t_ecom_platform_auth::table.find(id))
        .set((
            t_ecom_platform_auth::oauth_state_issued_at.eq(Utc::now() - Duration::minutes(31)),
            t_ecom_platform_auth::update_time.eq(Utc::now()),
        ))
        .execute(&mut conn)
        .await
        .expect("age the state");
    let response = app.callback(&[("code", "abc"), ("state", &state)]).await;
    expect_envelope(response, StatusCode::BAD_REQUEST, 40002).await;
    assert_eq!(app.platform_row(id).await.status, "PENDING_AUTH");
}

#[tokio::test]
async fn callback_with_the_merchants_refusal_marks_the_authorization_invalid() {
    let app = spawn_app().await;
    let (id, state) = pending(&app, None).await;
    let response = app
        .callback(&[
            ("error", "access_denied"),
            ("error_description", "merchant said no"),
            ("state", &state),
        ])
        .await;
    // Without a redirectUrl the refusal is the documented 40003 answer.
    expect_envelope(response, StatusCode::BAD_REQUEST, 40003).await;

    let row = app.platform_row(id).await;
    assert_eq!(row.status, "INVALID");
    assert_eq!(row.oauth_state_hash, None, "the state is spent");
    // What it means, then the platform's words.
    assert_eq!(
        row.status_reason.as_deref(),
        Some(
            "商家在授权页取消或拒绝了授权，可重新发起授权（平台返回：access_denied merchant said no）"
        )
    );
    let log = app.operation_log().await;
    let entry = log
        .iter()
        .find(|e| e.action == "PLATFORM_AUTH_ACTIVATE")
        .expect("activation logged");
    assert_eq!(entry.result, "FAILURE");
    assert_eq!(entry.target_ids, vec![id.to_string()]);
    // The user who started the consent, by id; no name at hand: null, not "".
    assert_eq!(
        (entry.operator_id, entry.operator_name.as_deref()),
        (Some(7), None)
    );
    assert!(
        entry
            .error_message
            .as_deref()
            .is_some_and(|m| m.contains("access_denied")),
        "{entry:?}"
    );

    // The same state cannot be used twice.
    let response = app.callback(&[("code", "abc"), ("state", &state)]).await;
    expect_envelope(response, StatusCode::BAD_REQUEST, 40002).await;
}

/// A consent the merchant never completed: past the state's lifetime the authorization is
/// INVALID with why, logged and announced; a fresh one, and a connected shop, are left alone.
#[tokio::test]
async fn an_abandoned_consent_becomes_invalid_with_the_reason() {
    let app = spawn_app_without_relay().await;
    let (abandoned, state) = pending(&app, None).await;
    let (fresh, _) = pending(&app, None).await;
    let connected = app.active_taobao(1, "key-connected").await;
    let mut conn = app.conn().await;
    diesel::update(
        t_ecom_platform_auth::table.filter(t_ecom_platform_auth::id.eq_any([abandoned, connected])),
    )
    .set(t_ecom_platform_auth::oauth_state_issued_at.eq(Some(Utc::now() - Duration::hours(2))))
    .execute(&mut conn)
    .await
    .expect("a consent started two hours ago");
    drop(conn);
    let sweep = auth_api::service::abandoned::AbandonedConsents {
        pool: app.db.pool.clone(),
        ttl: Duration::minutes(30),
        every: std::time::Duration::from_secs(60),
    };
    assert_eq!(sweep.expire_once().await.expect("sweep"), 1);
    assert_eq!(sweep.expire_once().await.expect("sweep"), 0, "once");

    let row = app.platform_row(abandoned).await;
    assert_eq!(row.status, "INVALID");
    assert_eq!(row.oauth_state_hash, None);
    assert!(
        row.status_reason
            .as_deref()
            .is_some_and(|r| r.contains("30 分钟")),
        "{row:?}"
    );
    assert_eq!(app.platform_row(fresh).await.status, "PENDING_AUTH");
    assert_eq!(app.platform_row(connected).await.status, "ACTIVE");
    let log = app.operation_log().await;
    let entry = log
        .iter()
        .find(|e| e.target_ids == vec![abandoned.to_string()] && e.result == "FAILURE")
        .expect("logged");
    assert_eq!(entry.action, "PLATFORM_AUTH_ACTIVATE");
    let events = app.outbox().await;
    let changed: Vec<&Value> = events
        .iter()
        .filter(|(key, _)| key == "platform.changed.v1")
        .map(|(_, e)| e)
        .collect();
    assert_eq!(changed.len(), 1, "{events:?}");
    assert_eq!(changed[0]["data"]["platformId"], abandoned);
    assert_eq!(changed[0]["data"]["status"], "INVALID");
    // The spent state no longer completes anything.
    let response = app.callback(&[("code", "abc"), ("state", &state)]).await;
    expect_envelope(response, StatusCode::BAD_REQUEST, 40002).await;
}

#[tokio::test]
async fn callback_sends_the_browser_back_to_the_redirect_url() {
    let app = spawn_app().await;
    // A single-page app's route in the fragment: the result goes into the query before it.
    let redirect = "https://app.example.com/platforms?tab=mine#/shops";
    let (id, state) = pending(&app, Some(redirect)).await;
    let response = app
        .callback(&[("error", "access_denied"), ("state", &state)])
        .await;
    assert_eq!(response.status(), StatusCode::FOUND);
    let location = response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .expect("Location");
    assert_eq!(
        location,
        format!(
            "https://app.example.com/platforms?tab=mine&platformId={id}&platformType=TAOBAO\
             &status=INVALID&error=40003#/shops"
        )
    );
}

/// The token exchange failed (the platform down here): a browser a front end sent goes back
/// to it, with the record still pending and the business code, not to a JSON page.
#[tokio::test]
async fn callback_that_cannot_exchange_the_code_sends_the_browser_back_too() {
    let app = spawn_app().await;
    let (id, state) = pending(&app, Some("https://app.example.com/shops")).await;
    let response = app.callback(&[("code", "abc"), ("state", &state)]).await;
    assert_eq!(response.status(), StatusCode::FOUND);
    let location = response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .expect("Location");
    assert_eq!(
        location,
        format!(
            "https://app.example.com/shops?platformId={id}&platformType=TAOBAO\
             &status=PENDING_AUTH&error=50201"
        )
    );
    assert_eq!(app.platform_row(id).await.status, "PENDING_AUTH");
}

#[tokio::test]
async fn callback_when_the_platform_is_down_answers_50201_and_keeps_the_state() {
    // The configured token URL is an unused port: the exchange cannot connect.
    let app = spawn_app().await;
    let (id, state) = pending(&app, None).await;
    let response = app.callback(&[("code", "abc"), ("state", &state)]).await;
    let body = expect_envelope(response, StatusCode::BAD_GATEWAY, 50201).await;
    let message = body["message"].as_str().expect("message");
    assert!(!message.contains("127.0.0.1"), "opaque: {message}");
    let row = app.platform_row(id).await;
    assert_eq!(row.status, "PENDING_AUTH");
    // The record says why meanwhile (no address, no query with a secret in it).
    let reason = row.status_reason.unwrap_or_default();
    assert!(reason.starts_with("授权码换取令牌未成功"), "{reason}");
    assert!(
        !reason.contains("127.0.0.1") && !reason.contains("secret"),
        "{reason}"
    );

    // The state is still good for another try.
    let response = app
        .callback(&[("error", "access_denied"), ("state", &state)])
        .await;
    expect_envelope(response, StatusCode::BAD_REQUEST, 40003).await;
    assert_eq!(app.platform_row(id).await.status, "INVALID");
}

#[tokio::test]
async fn callback_exchanges_the_code_seals_the_tokens_and_activates() {
    let endpoint = TokenEndpoint::start(
        200,
        json!({
            "access_token": "AT-very-secret-access",
            "token_type": "Bearer",
            "expires_in": 86400,
            "refresh_token": "RT-very-secret-refresh",
            "re_expires_in": 2_592_000,
            "taobao_user_id": "2200001",
            "taobao_user_nick": "%E6%B5%8B%E8%AF%95%E5%BA%97",
        }),
    )
    .await;
    let app = app_with_token_endpoint(&endpoint).await;
    let (id, state) = pending(&app, None).await;

    let response = app
        .callback(&[("code", "the-auth-code"), ("state", &state)])
        .await;
    let body = expect_envelope(response, StatusCode::OK, 200).await;
    assert_eq!(body["data"]["platformId"], id);
    assert_eq!(body["data"]["status"], "ACTIVE");
    assert_eq!(body["data"]["shopName"], "测试店");
    let text = body.to_string();
    assert!(!text.contains("AT-very-secret-access"), "{text}");
    assert!(!text.contains("RT-very-secret-refresh"), "{text}");

    // The exchange used the code, the app's real (sealed) secret and the same redirect URI.
    let forms = endpoint.forms();
    assert_eq!(forms.len(), 1, "{forms:?}");
    let form = &forms[0];
    assert_eq!(param(form, "grant_type"), Some("authorization_code"));
    assert_eq!(param(form, "code"), Some("the-auth-code"));
    assert_eq!(param(form, "client_id"), Some(APP_KEY));
    assert_eq!(param(form, "client_secret"), Some(APP_SECRET));
    assert_eq!(param(form, "redirect_uri"), Some(CALLBACK_URL));

    // Tokens are stored sealed and bound to the row.
    let mut conn = app.conn().await;
    let (access, refresh, status, state_hash): (
        Option<String>,
        Option<String>,
        String,
        Option<String>,
    ) = t_ecom_platform_auth::table
        .find(id)
        .select((
            t_ecom_platform_auth::access_token,
            t_ecom_platform_auth::refresh_token,
            t_ecom_platform_auth::status,
            t_ecom_platform_auth::oauth_state_hash,
        ))
        .first(&mut conn)
        .await
        .expect("row");
    assert_eq!(status, "ACTIVE");
    assert_eq!(state_hash, None);
    let access = access.expect("access token stored");
    let refresh = refresh.expect("refresh token stored");
    assert!(!access.contains("AT-very-secret-access"));
    assert!(!refresh.contains("RT-very-secret-refresh"));
    let sealer = leadgen_runtime::sealer(&leadgen_test_support::crypto_settings()).expect("sealer");
    assert_eq!(
        sealer
            .open(
                &leadgen_db::sealed::platform_auth("access_token", PlatformId::new(id)),
                &access
            )
            .expect("opens"),
        "AT-very-secret-access"
    );
    assert_eq!(
        sealer
            .open(
                &leadgen_db::sealed::platform_auth("refresh_token", PlatformId::new(id)),
                &refresh
            )
            .expect("opens"),
        "RT-very-secret-refresh"
    );

    // Listed as ACTIVE with the shop's name; a sync is now accepted.
    let response = app.list_platforms(Some(&token(1, &[VIEW])), &[]).await;
    let body = expect_envelope(response, StatusCode::OK, 200).await;
    let records = page_records(&body, 1, 10, 1);
    assert_eq!(records[0]["status"], "ACTIVE");
    assert_eq!(records[0]["shopName"], "测试店");
    assert!(
        records[0]["shopId"]
            .as_str()
            .is_some_and(|id| !id.is_empty()),
        "{}",
        records[0]
    );
    assert!(records[0]["expiryTime"].is_string());
    // The grant's own end (Taobao's re_expires_in, 30 days): when the merchant must authorize
    // again.
    let grant: chrono::DateTime<Utc> =
        serde_json::from_value(records[0]["grantExpiryTime"].clone()).expect("grantExpiryTime");
    let days = (grant - Utc::now()).num_hours() as f64 / 24.0;
    assert!((29.9..=30.0).contains(&days), "{}", records[0]);
    let response = app
        .request_sync(Some(&token(1, &[SYNC])), &id.to_string(), None)
        .await;
    expect_envelope(response, StatusCode::OK, 200).await;

    // The state is spent.
    let response = app
        .callback(&[("code", "the-auth-code"), ("state", &state)])
        .await;
    expect_envelope(response, StatusCode::BAD_REQUEST, 40002).await;
    assert_eq!(endpoint.forms().len(), 1);
}

#[tokio::test]
async fn callback_with_a_code_the_platform_refuses_invalidates_the_authorization() {
    let endpoint = TokenEndpoint::start(
        400,
        json!({ "error": "invalid_grant", "error_description": "code expired" }),
    )
    .await;
    let app = app_with_token_endpoint(&endpoint).await;
    let (id, state) = pending(&app, None).await;
    let _ = app.callback(&[("code", "stale"), ("state", &state)]).await;
    let row = app.platform_row(id).await;
    assert_eq!(row.status, "INVALID");
    assert_eq!(row.oauth_state_hash, None);
    let response = app.callback(&[("code", "stale"), ("state", &state)]).await;
    expect_envelope(response, StatusCode::BAD_REQUEST, 40002).await;
}

#[tokio::test]
async fn callback_with_a_code_the_platform_refuses_answers_40003() {
    let endpoint = TokenEndpoint::start(
        400,
        json!({ "error": "invalid_grant", "error_description": "code expired" }),
    )
    .await;
    let app = app_with_token_endpoint(&endpoint).await;
    let (_, state) = pending(&app, None).await;
    let response = app.callback(&[("code", "stale"), ("state", &state)]).await;
    expect_envelope(response, StatusCode::BAD_REQUEST, 40003).await;
}

#[tokio::test]
async fn connecting_a_shop_again_renews_its_authorization_instead_of_adding_a_second() {
    let endpoint = TokenEndpoint::start(
        200,
        json!({
            "access_token": "AT-renewed",
            "token_type": "Bearer",
            "expires_in": 86400,
            "refresh_token": "RT-renewed",
            "re_expires_in": 2_592_000,
            "taobao_user_id": "2200009",
            "taobao_user_nick": "%E5%90%8C%E4%B8%80%E5%BA%97",
        }),
    )
    .await;
    let app = app_with_token_endpoint(&endpoint).await;
    let (first, state) = pending(&app, None).await;
    let response = app.callback(&[("code", "code-1"), ("state", &state)]).await;
    expect_envelope(response, StatusCode::OK, 200).await;
    app.set_status(first, "EXPIRED").await;

    // The merchant connects the same shop again: the old authorization comes back ACTIVE.
    let (second, state) = pending(&app, None).await;
    assert_ne!(first, second);
    let response = app.callback(&[("code", "code-2"), ("state", &state)]).await;
    let body = expect_envelope(response, StatusCode::OK, 200).await;
    assert_eq!(body["data"]["platformId"], first, "{body}");
    assert_eq!(body["data"]["status"], "ACTIVE");
    assert_eq!(app.platform_row(first).await.status, "ACTIVE");

    let listed = app.list_platforms(Some(&token(1, &[VIEW])), &[]).await;
    let listed = expect_envelope(listed, StatusCode::OK, 200).await;
    let records = page_records(&listed, 1, 10, 1);
    assert_eq!(records[0]["platformId"], first);

    // The renewed row's secrets are sealed for its own id, so sync-worker can open them.
    let mut conn = app.conn().await;
    let (access, auth_info): (Option<String>, String) = t_ecom_platform_auth::table
        .find(first)
        .select((
            t_ecom_platform_auth::access_token,
            t_ecom_platform_auth::auth_info,
        ))
        .first(&mut conn)
        .await
        .expect("row");
    let settings = leadgen_test_support::crypto_settings();
    let sealer =
        leadgen_crypto::Sealer::new(settings.key_id, &settings.data_key, &[]).expect("sealer");
    let context = |column| leadgen_db::sealed::platform_auth(column, PlatformId::new(first));
    assert_eq!(
        sealer
            .open(&context("access_token"), &access.expect("token"))
            .expect("open"),
        "AT-renewed"
    );
    assert!(
        sealer
            .open(&context("auth_info"), &auth_info)
            .expect("open")
            .contains(APP_SECRET)
    );
    let accepted = app
        .request_sync(Some(&token(1, &[SYNC])), &first.to_string(), Some("{}"))
        .await;
    expect_envelope(accepted, StatusCode::OK, 200).await;

    // The second id was answered in a 201 `Location`: it keeps resolving, to the shop's record.
    // A sync through it is the shop's sync, already running (a task for the pending alias
    // would have been accepted, and failed in sync-worker).
    let again = app
        .request_sync(Some(&token(1, &[SYNC])), &second.to_string(), Some("{}"))
        .await;
    expect_envelope(again, StatusCode::CONFLICT, 40901).await;
    let detail = app
        .client
        .get(app.url(&format!("/platforms/{second}")))
        .bearer_auth(token(1, &[VIEW]))
        .send()
        .await
        .expect("GET");
    let detail = expect_envelope(detail, StatusCode::OK, 200).await;
    assert_eq!(detail["data"]["platformId"], first, "{detail}");
    assert_eq!(detail["data"]["status"], "ACTIVE");
    // Its sync records are the shop's: filtering by it finds the running sync.
    let records = app
        .sync_records(
            Some(&token(1, &[VIEW])),
            &[("platformId", &second.to_string())],
        )
        .await;
    let records = expect_envelope(records, StatusCode::OK, 200).await;
    assert_eq!(records["data"]["total"], 1, "{records}");
    assert_eq!(
        records["data"]["records"][0]["platformId"], first,
        "{records}"
    );
}

#[tokio::test]
async fn connecting_a_shop_again_while_its_backfill_runs_renews_it_and_is_audited() {
    let endpoint = TokenEndpoint::start(
        200,
        json!({
            "access_token": "AT-again",
            "token_type": "Bearer",
            "expires_in": 86400,
            "refresh_token": "RT-again",
            "re_expires_in": 2_592_000,
            "taobao_user_id": "2200010",
            "taobao_user_nick": "%E5%86%8D%E6%9D%A5",
        }),
    )
    .await;
    let app = app_backfilling(&endpoint, None).await;
    let (first, state) = pending(&app, None).await;
    let response = app.callback(&[("code", "code-1"), ("state", &state)]).await;
    expect_envelope(response, StatusCode::OK, 200).await;
    // Its backfill is still RUNNING when the merchant connects the same shop again.
    let (_, state) = pending(&app, None).await;
    let response = app.callback(&[("code", "code-2"), ("state", &state)]).await;
    let body = expect_envelope(response, StatusCode::OK, 200).await;
    assert_eq!(body["data"]["platformId"], first, "{body}");
    assert_eq!(body["data"]["status"], "ACTIVE");
    let mut conn = app.conn().await;
    let running: i64 = t_ecom_sync_task::table
        .filter(t_ecom_sync_task::platform_id.eq(first))
        .filter(t_ecom_sync_task::status.eq("RUNNING"))
        .count()
        .get_result(&mut conn)
        .await
        .expect("count");
    assert_eq!(running, 1, "the running backfill goes on, alone");
    let callbacks = app
        .operation_log()
        .await
        .into_iter()
        .filter(|l| l.action.starts_with("PLATFORM_AUTH_") && l.result == "SUCCESS")
        .filter(|l| l.action != "PLATFORM_AUTH_CREATE")
        .count();
    assert_eq!(callbacks, 2, "both callbacks are audited");
}

#[tokio::test]
async fn two_approvals_of_one_shop_at_once_connect_it_once() {
    let endpoint = TokenEndpoint::start(
        200,
        json!({
            "access_token": "AT-twice",
            "token_type": "Bearer",
            "expires_in": 86400,
            "refresh_token": "RT-twice",
            "re_expires_in": 2_592_000,
            "taobao_user_id": "2200011",
            "taobao_user_nick": "%E5%90%8C%E6%97%B6",
        }),
    )
    .await;
    let app = app_with_token_endpoint(&endpoint).await;
    // Several pending authorizations of the same seller, their callbacks all at once.
    let mut states = Vec::new();
    for _ in 0..4 {
        states.push(pending(&app, None).await.1);
    }
    let callbacks = states.iter().enumerate().map(|(i, state)| {
        let code = format!("code-{i}");
        let app = &app;
        async move {
            let response = app.callback(&[("code", &code), ("state", state)]).await;
            expect_envelope(response, StatusCode::OK, 200).await["data"]["platformId"].clone()
        }
    });
    let ids = futures::future::join_all(callbacks).await;
    assert!(
        ids.windows(2).all(|w| w[0] == w[1]),
        "one shop, one record: {ids:?}"
    );
    let listed = app
        .list_platforms(Some(&token(1, &[VIEW])), &[("status", "ACTIVE")])
        .await;
    let listed = expect_envelope(listed, StatusCode::OK, 200).await;
    assert_eq!(listed["data"]["total"], 1, "{listed}");
}

#[tokio::test]
async fn reauthorizing_replaces_a_stored_callback_that_is_not_ours() {
    let app = spawn_app().await;
    let (shop, _) = pending(&app, None).await;
    // Stored before callbackUrl was checked.
    let foreign = "https://evil.example/steal";
    let mut conn = app.conn().await;
    diesel::update(t_ecom_platform_auth::table.find(shop))
        .set(t_ecom_platform_auth::callback_url.eq(foreign))
        .execute(&mut conn)
        .await
        .expect("store a foreign callback");
    let (answer, _) = reauthorize(&app, shop).await;
    let auth_url = answer["data"]["authUrl"].as_str().expect("authUrl");
    let redirect_uri = url::Url::parse(auth_url)
        .expect("authUrl")
        .query_pairs()
        .find(|(k, _)| k == "redirect_uri")
        .map(|(_, v)| v.into_owned());
    assert_eq!(redirect_uri.as_deref(), Some(CALLBACK_URL), "{auth_url}");
    // The code exchange sends the same redirect URI.
    assert_eq!(app.platform_row(shop).await.callback_url, CALLBACK_URL);
}

#[tokio::test]
async fn reauthorizing_a_shop_renews_the_same_record() {
    let endpoint = TokenEndpoint::start(
        200,
        json!({
            "access_token": "AT-again",
            "expires_in": 86400,
            "refresh_token": "RT-again",
            "re_expires_in": 2_592_000,
            "taobao_user_id": "2200010",
            "taobao_user_nick": "shop",
        }),
    )
    .await;
    let app = app_with_token_endpoint(&endpoint).await;
    let (shop, state) = pending(&app, None).await;
    let response = app.callback(&[("code", "code-1"), ("state", &state)]).await;
    expect_envelope(response, StatusCode::OK, 200).await;
    app.set_status(shop, "EXPIRED").await;

    let (answer, again) = reauthorize(&app, shop).await;
    assert_eq!(answer["data"]["platformId"], shop);
    assert_eq!(
        answer["data"]["status"], "EXPIRED",
        "unchanged until the merchant approves"
    );
    assert_ne!(again, state);

    let response = app.callback(&[("code", "code-2"), ("state", &again)]).await;
    let body = expect_envelope(response, StatusCode::OK, 200).await;
    assert_eq!(body["data"]["platformId"], shop, "{body}");
    assert_eq!(app.platform_row(shop).await.status, "ACTIVE");
    // The state is single-use.
    let reused = app.callback(&[("code", "code-3"), ("state", &again)]).await;
    expect_envelope(reused, StatusCode::BAD_REQUEST, 40002).await;
    let listed = app.list_platforms(Some(&token(1, &[VIEW])), &[]).await;
    let listed = expect_envelope(listed, StatusCode::OK, 200).await;
    assert_eq!(page_records(&listed, 1, 10, 1)[0]["platformId"], shop);
}

#[tokio::test]
async fn a_shop_connected_for_the_first_time_gets_a_backfill_of_its_history() {
    let endpoint = TokenEndpoint::start(200, taobao_tokens("new", "2200011")).await;
    let app = app_backfilling(&endpoint, None).await;
    let (shop, state) = pending(&app, None).await;
    let response = app.callback(&[("code", "code-1"), ("state", &state)]).await;
    expect_envelope(response, StatusCode::OK, 200).await;

    let records = app
        .sync_records(
            Some(&token(1, &[VIEW])),
            &[("platformId", &shop.to_string())],
        )
        .await;
    let records = expect_envelope(records, StatusCode::OK, 200).await;
    let record = &page_records(&records, 1, 10, 1)[0];
    assert_eq!(record["trigger"], "BACKFILL", "{record}");
    assert_eq!(record["status"], "RUNNING");
    let start =
        chrono::DateTime::parse_from_rfc3339(record["windowStart"].as_str().expect("start"))
            .expect("time");
    let end = chrono::DateTime::parse_from_rfc3339(record["windowEnd"].as_str().expect("end"))
        .expect("time");
    // Taobao serves 89 days by creation time: the backfill asks for those, not the 90
    // configured.
    assert_eq!((end - start).num_days(), 89);
    let events = app.outbox().await;
    let keys: Vec<&str> = events.iter().map(|(key, _)| key.as_str()).collect();
    assert_eq!(
        keys,
        ["sync.requested.v1", "platform.changed.v1"],
        "{events:?}"
    );
    assert_eq!(events[0].1["data"]["trigger"], "BACKFILL");
    // Other teams learn the shop is connected.
    let connected = &events[1].1["data"];
    assert_eq!(
        (&connected["previousStatus"], &connected["status"]),
        (&json!("PENDING_AUTH"), &json!("ACTIVE")),
        "{connected}"
    );
    assert_eq!(connected["platformId"], shop);
    // While it runs, a manual sync waits its turn.
    let manual = app
        .request_sync(Some(&token(1, &[SYNC])), &shop.to_string(), None)
        .await;
    expect_envelope(manual, StatusCode::CONFLICT, 40901).await;
}

/// The merchant cancelled the first backfill: a sync that names no period fetches the history
/// (a BACKFILL again) instead of catching up on the last minutes' changes, which would leave
/// the history out for good. Once a backfill completed, such a sync catches up on changes.
#[tokio::test]
async fn a_sync_after_a_cancelled_backfill_fetches_the_history() {
    let endpoint = TokenEndpoint::start(200, taobao_tokens("cancel", "2200013")).await;
    let app = app_backfilling(&endpoint, None).await;
    let (shop, state) = pending(&app, None).await;
    let response = app.callback(&[("code", "code-1"), ("state", &state)]).await;
    expect_envelope(response, StatusCode::OK, 200).await;
    let tasks = || async {
        let mut conn = app.conn().await;
        t_ecom_sync_task::table
            .filter(t_ecom_sync_task::platform_id.eq(shop))
            .order(t_ecom_sync_task::id.asc())
            .select((
                t_ecom_sync_task::id,
                t_ecom_sync_task::trigger_type,
                t_ecom_sync_task::listing,
                t_ecom_sync_task::window_start,
                t_ecom_sync_task::requested_by,
            ))
            .load::<(i64, String, String, chrono::DateTime<Utc>, Option<i64>)>(&mut conn)
            .await
            .expect("tasks")
    };
    let backfill = tasks().await[0].0;
    let cancelled = app
        .client
        .post(app.url(&format!("/sync-records/{backfill}/cancel")))
        .bearer_auth(token(1, &[SYNC]))
        .send()
        .await
        .expect("cancel");
    expect_envelope(cancelled, StatusCode::OK, 200).await;

    let sync = || async {
        app.request_sync(Some(&token(1, &[SYNC])), &shop.to_string(), None)
            .await
    };
    expect_envelope(sync().await, StatusCode::OK, 200).await;
    let all = tasks().await;
    let (_, trigger, listing, start, requested_by) = all.last().expect("a task").clone();
    assert_eq!(
        (trigger.as_str(), listing.as_str()),
        ("BACKFILL", "CREATED"),
        "{all:?}"
    );
    // Taobao serves 89 days by creation time.
    assert_eq!((Utc::now() - start).num_days(), 89, "{all:?}");
    assert!(requested_by.is_some(), "the user who asked: {all:?}");

    // That backfill completed: the next such sync catches up on changes.
    let mut conn = app.conn().await;
    diesel::update(t_ecom_sync_task::table.filter(t_ecom_sync_task::platform_id.eq(shop)))
        .set((
            t_ecom_sync_task::status.eq("COMPLETED"),
            t_ecom_sync_task::windows_done.eq(1),
        ))
        .execute(&mut conn)
        .await
        .expect("completed");
    drop(conn);
    expect_envelope(sync().await, StatusCode::OK, 200).await;
    let all = tasks().await;
    let (_, trigger, listing, ..) = all.last().expect("a task").clone();
    assert_eq!(
        (trigger.as_str(), listing.as_str()),
        ("MANUAL", "MODIFIED"),
        "{all:?}"
    );
}

#[tokio::test]
async fn a_disconnected_shop_keeps_its_history_until_purged_and_starts_anew_after() {
    let endpoint = TokenEndpoint::start(200, taobao_tokens("back", "2200012")).await;
    let app = app_backfilling(&endpoint, Some(45)).await;
    let (shop, state) = pending(&app, None).await;
    let response = app.callback(&[("code", "code-1"), ("state", &state)]).await;
    expect_envelope(response, StatusCode::OK, 200).await;
    let backfills = || async {
        let mut conn = app.conn().await;
        t_ecom_sync_task::table
            .filter(t_ecom_sync_task::platform_id.eq(shop))
            .filter(t_ecom_sync_task::trigger_type.eq("BACKFILL"))
            .count()
            .get_result::<i64>(&mut conn)
            .await
            .expect("count")
    };
    assert_eq!(backfills().await, 1);
    // The backfill fetched the history (sync-worker's part).
    let complete_backfills = || async {
        let mut conn = app.conn().await;
        diesel::update(
            t_ecom_sync_task::table
                .filter(t_ecom_sync_task::platform_id.eq(shop))
                .filter(t_ecom_sync_task::trigger_type.eq("BACKFILL")),
        )
        .set(t_ecom_sync_task::status.eq("COMPLETED"))
        .execute(&mut conn)
        .await
        .expect("completed")
    };
    complete_backfills().await;
    let reconnect = || async {
        let (_, state) = reauthorize(&app, shop).await;
        let response = app.callback(&[("code", "code-2"), ("state", &state)]).await;
        expect_envelope(response, StatusCode::OK, 200).await
    };
    let disconnect = || async {
        app.client
            .delete(app.url(&format!("/platforms/{shop}")))
            .bearer_auth(token(1, &[AUTH]))
            .send()
            .await
            .expect("DELETE")
            .json::<Value>()
            .await
            .expect("envelope")
    };

    // Disconnected: the record says when its history goes.
    let revoked = disconnect().await;
    let purge_at = chrono::DateTime::parse_from_rfc3339(
        revoked["data"]["historyPurgeAt"]
            .as_str()
            .expect("historyPurgeAt"),
    )
    .expect("time");
    let days = (purge_at.with_timezone(&Utc) - Utc::now()).num_hours() as f64 / 24.0;
    assert!((44.9..=45.0).contains(&days), "{revoked}");
    // Connected again within the period: the history is still there, no backfill, no purge.
    let body = reconnect().await;
    assert_eq!(body["data"]["platformId"], shop, "{body}");
    assert_eq!(backfills().await, 1);
    let row = app.platform_row(shop).await;
    assert_eq!(row.status, "ACTIVE");
    let detail = app
        .client
        .get(app.url(&format!("/platforms/{shop}")))
        .bearer_auth(token(1, &[VIEW]))
        .send()
        .await
        .expect("GET");
    let detail = expect_envelope(detail, StatusCode::OK, 200).await;
    assert!(detail["data"].get("historyPurgeAt").is_none(), "{detail}");

    // Disconnected again, and order-processor purged its history: connecting it again starts
    // its history anew with a backfill.
    disconnect().await;
    let mut conn = app.conn().await;
    diesel::update(t_ecom_platform_auth::table.find(shop))
        .set((
            t_ecom_platform_auth::purge_after.eq(None::<chrono::DateTime<Utc>>),
            t_ecom_platform_auth::purged_at.eq(Some(Utc::now())),
        ))
        .execute(&mut conn)
        .await
        .expect("purged");
    let detail = app
        .client
        .get(app.url(&format!("/platforms/{shop}")))
        .bearer_auth(token(1, &[VIEW]))
        .send()
        .await
        .expect("GET");
    let detail = expect_envelope(detail, StatusCode::OK, 200).await;
    assert!(detail["data"]["historyPurgedAt"].is_string(), "{detail}");
    reconnect().await;
    assert_eq!(backfills().await, 2);
    let (purge_after, purged_at): (Option<chrono::DateTime<Utc>>, Option<chrono::DateTime<Utc>>) =
        t_ecom_platform_auth::table
            .find(shop)
            .select((
                t_ecom_platform_auth::purge_after,
                t_ecom_platform_auth::purged_at,
            ))
            .first(&mut conn)
            .await
            .expect("row");
    assert_eq!((purge_after, purged_at), (None, None));
}

/// A shop whose backfill never completed (it failed, or the merchant cancelled it) lacks its
/// history: authorizing it again starts the backfill again; once one completed, it does not.
#[tokio::test]
async fn authorizing_again_a_shop_whose_backfill_never_completed_backfills_it() {
    let endpoint = TokenEndpoint::start(200, taobao_tokens("again", "2200077")).await;
    let app = app_backfilling(&endpoint, None).await;
    let (shop, state) = pending(&app, None).await;
    let response = app.callback(&[("code", "code-1"), ("state", &state)]).await;
    expect_envelope(response, StatusCode::OK, 200).await;
    let backfill_statuses = || async {
        let mut conn = app.conn().await;
        t_ecom_sync_task::table
            .filter(t_ecom_sync_task::platform_id.eq(shop))
            .filter(t_ecom_sync_task::trigger_type.eq("BACKFILL"))
            .order(t_ecom_sync_task::id.asc())
            .select(t_ecom_sync_task::status)
            .load::<String>(&mut conn)
            .await
            .expect("backfills")
    };
    let app = &app;
    let set_last = |status: &'static str| async move {
        let mut conn = app.conn().await;
        let last: i64 = t_ecom_sync_task::table
            .filter(t_ecom_sync_task::platform_id.eq(shop))
            .select(diesel::dsl::max(t_ecom_sync_task::id))
            .first::<Option<i64>>(&mut conn)
            .await
            .expect("last task")
            .expect("a task");
        diesel::update(t_ecom_sync_task::table.find(last))
            .set(t_ecom_sync_task::status.eq(status))
            .execute(&mut conn)
            .await
            .expect("status");
    };
    let reconnect = || async {
        let (_, state) = reauthorize(app, shop).await;
        let response = app.callback(&[("code", "code-2"), ("state", &state)]).await;
        expect_envelope(response, StatusCode::OK, 200).await
    };
    set_last("CANCELLED").await;
    reconnect().await;
    assert_eq!(backfill_statuses().await, ["CANCELLED", "RUNNING"]);
    set_last("FAILED").await;
    reconnect().await;
    assert_eq!(
        backfill_statuses().await,
        ["CANCELLED", "FAILED", "RUNNING"]
    );
    set_last("COMPLETED").await;
    reconnect().await;
    assert_eq!(
        backfill_statuses().await,
        ["CANCELLED", "FAILED", "COMPLETED"],
        "the history is there: no backfill"
    );
}

/// A re-authorization approved by another seller is refused like any refusal: the state is
/// spent, the refusal logged with its reason, and the browser goes back to the front end with
/// the shop's own status (its earlier grant stands) and the business code.
#[tokio::test]
async fn a_reauthorization_approved_for_another_shop_goes_back_to_the_front_end() {
    let endpoint = TokenEndpoint::start(200, taobao_tokens("other", "2200099")).await;
    let app = app_backfilling(&endpoint, None).await;
    let (shop, state) = pending(&app, None).await;
    let response = app.callback(&[("code", "code-1"), ("state", &state)]).await;
    expect_envelope(response, StatusCode::OK, 200).await;
    // The record is another seller's shop than the one the next consent names.
    let mut conn = app.conn().await;
    diesel::update(t_ecom_platform_auth::table.find(shop))
        .set(t_ecom_platform_auth::shop_id.eq(Some("2200001")))
        .execute(&mut conn)
        .await
        .expect("shop id");
    let answer = app
        .client
        .post(app.url(&format!("/platforms/{shop}/reauthorize")))
        .bearer_auth(token(1, &[AUTH]))
        .json(&json!({"redirectUrl": "https://app.example.com/shops"}))
        .send()
        .await
        .expect("POST reauthorize");
    let answer = expect_envelope(answer, StatusCode::OK, 200).await;
    let state = url::Url::parse(answer["data"]["authUrl"].as_str().expect("authUrl"))
        .expect("authUrl")
        .query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .expect("state");
    let response = app.callback(&[("code", "code-2"), ("state", &state)]).await;
    assert_eq!(response.status(), StatusCode::FOUND);
    let location = location_of(&response);
    assert_eq!(
        location,
        format!(
            "https://app.example.com/shops?platformId={shop}&platformType=TAOBAO\
             &status=ACTIVE&error=40003"
        )
    );
    assert_eq!(app.platform_row(shop).await.status, "ACTIVE");
    let refused = app
        .operation_log()
        .await
        .into_iter()
        .filter(|l| l.action == "PLATFORM_AUTH_ACTIVATE")
        .filter_map(|l| l.error_message)
        .collect::<Vec<_>>();
    assert_eq!(
        refused,
        [auth_api::error::SHOP_MISMATCH],
        "the reason is logged"
    );
    // The state is spent.
    let again = app.callback(&[("code", "code-2"), ("state", &state)]).await;
    expect_envelope(again, StatusCode::BAD_REQUEST, 40002).await;
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

#[tokio::test]
async fn a_consent_completes_only_in_the_browser_that_asked_for_it() {
    let endpoint = TokenEndpoint::start(200, taobao_tokens("mine", "2200001")).await;
    let app = app_with_token_endpoint(&endpoint).await;
    let (id, state, cookies) =
        pending_with_cookies(&app, Some("https://app.example.com/shops")).await;
    // One cookie holding the state, sent back only to our callback, unreadable by scripts,
    // and no longer than the consent lasts (30 minutes).
    assert_eq!(cookies.len(), 1, "{cookies:?}");
    let cookie = &cookies[0];
    assert!(cookie.starts_with("leadgen_oauth_"), "{cookie}");
    assert!(cookie.contains(&format!("={state};")), "{cookie}");
    for attribute in [
        "HttpOnly",
        "SameSite=Lax",
        "Path=/api/v1/lead-generation/orders/platforms/auth/callback",
        "Max-Age=1800",
    ] {
        assert!(cookie.contains(attribute), "{attribute}: {cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain HTTP here: {cookie}");

    // The link opened in another browser (a merchant sent someone else's consent link): refused
    // and spent, nothing exchanged, and the attempt in the operation log.
    let elsewhere = app
        .callback_elsewhere(&[("code", "victims-grant"), ("state", &state)])
        .await;
    assert_eq!(elsewhere.status(), StatusCode::FOUND);
    assert_eq!(
        location_of(&elsewhere),
        format!(
            "https://app.example.com/shops?platformId={id}&platformType=TAOBAO\
             &status=INVALID&error=40002"
        )
    );
    assert!(endpoint.forms().is_empty(), "no code was exchanged");
    let row = app.platform_row(id).await;
    assert_eq!(row.status, "INVALID");
    assert!(row.oauth_state_hash.is_none(), "the consent is spent");
    let refused = app
        .operation_log()
        .await
        .into_iter()
        .filter(|l| l.action == "PLATFORM_AUTH_ACTIVATE")
        .filter_map(|l| l.error_message)
        .collect::<Vec<_>>();
    assert_eq!(
        refused,
        [format!("40002 {}", auth_api::error::FOREIGN_BROWSER)]
    );
    // The same link forwarded back to the browser that asked cannot use the victim's code.
    let forwarded = app
        .callback(&[("code", "victims-grant"), ("state", &state)])
        .await;
    expect_envelope(forwarded, StatusCode::BAD_REQUEST, 40002).await;
    assert!(endpoint.forms().is_empty(), "still no code exchanged");
    assert_eq!(app.platform_row(id).await.status, "INVALID");

    // A consent completed in the browser that asked connects the shop, and its cookie is removed.
    let (id, state, cookies) = pending_with_cookies(&app, None).await;
    let done = app
        .callback(&[("code", "my-grant"), ("state", &state)])
        .await;
    let removal = set_cookies(&done);
    expect_envelope(done, StatusCode::OK, 200).await;
    assert_eq!(removal.len(), 1, "{removal:?}");
    let name = cookies[0].split('=').next().expect("name");
    assert!(removal[0].starts_with(&format!("{name}=;")), "{removal:?}");
    assert!(removal[0].contains("Max-Age=0"), "{removal:?}");
    assert!(
        removal[0].contains("Path=/api/v1/lead-generation/orders/platforms/auth/callback"),
        "{removal:?}"
    );
    assert_eq!(app.platform_row(id).await.status, "ACTIVE");
    assert_eq!(endpoint.forms().len(), 1);
}

#[tokio::test]
async fn without_browser_binding_any_browser_completes_the_consent() {
    let endpoint = TokenEndpoint::start(200, taobao_tokens("mine", "2200001")).await;
    let app =
        app_with_token_endpoint_and(&endpoint, |s| s.oauth.bind_state_to_browser = false).await;
    let (_, state, cookies) = pending_with_cookies(&app, None).await;
    assert!(cookies.is_empty(), "no cookie when off");
    let done = app
        .callback_elsewhere(&[("code", "a-grant"), ("state", &state)])
        .await;
    let done = expect_envelope(done, StatusCode::OK, 200).await;
    assert_eq!(done["data"]["status"], "ACTIVE");
}

#[tokio::test]
async fn a_head_request_to_the_callback_changes_nothing() {
    let endpoint = TokenEndpoint::start(200, taobao_tokens("head", "2200011")).await;
    let app = app_with_token_endpoint(&endpoint).await;
    let (shop, state) = pending(&app, None).await;

    let head = app
        .client
        .head(app.url("/platforms/auth/callback"))
        .query(&[("code", "code-1"), ("state", state.as_str())])
        .send()
        .await
        .expect("HEAD /platforms/auth/callback");
    assert_eq!(head.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(head.headers()["allow"], "GET");
    assert!(
        endpoint.requests.lock().expect("lock").is_empty(),
        "a HEAD exchanged the code"
    );
    assert_eq!(app.platform_row(shop).await.status, "PENDING_AUTH");

    // The consent is still the merchant's to complete.
    let response = app.callback(&[("code", "code-1"), ("state", &state)]).await;
    let body = expect_envelope(response, StatusCode::OK, 200).await;
    assert_eq!(body["data"]["platformId"], shop, "{body}");
    let post = app
        .client
        .post(app.url("/platforms/auth/callback"))
        .send()
        .await
        .expect("POST /platforms/auth/callback");
    assert_eq!(post.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(post.headers()["allow"], "GET");
}

#[tokio::test]
async fn consents_completed_at_once_never_starve_the_connection_pool() {
    // Douyin's token call is a signed API call: it waits for its slot at the shared rate gate,
    // which takes a connection of its own.
    let endpoint = TokenEndpoint::start(
        200,
        json!({
            "code": 10000,
            "msg": "success",
            "data": {
                "access_token": "AT-burst",
                "expires_in": 86_400,
                "refresh_token": "RT-burst",
                "shop_id": 4_400_012,
                "shop_name": "burst",
            },
        }),
    )
    .await;
    // Two connections for four consents: a callback holding one across its token call waits
    // for the other until the pool's timeout, and the callbacks behind it answer 503.
    let url = endpoint.url.clone();
    let app = spawn_app_with(TestBroker::new(Vec::new()), move |s| {
        if let Some(douyin) = s
            .platforms
            .endpoints
            .get_mut(&leadgen_domain::PlatformType::Douyin)
        {
            douyin.token_url = url;
        }
        s.database.max_connections = 2;
        s.platforms.shared_rate_limit = true;
    })
    .await;
    let mut states = Vec::new();
    for _ in 0..4 {
        let body = json!({
            "platformType": "DOUYIN",
            "authInfo": { "appKey": "burst-app", "appSecret": "burst-secret" },
        });
        let response = app
            .create_authorization(Some(&token(1, &[AUTH])), &body)
            .await;
        let created = expect_envelope(response, StatusCode::CREATED, 201).await;
        states.push(state_of(&created));
    }
    let callbacks = states.iter().enumerate().map(|(i, state)| {
        let code = format!("code-{i}");
        let app = &app;
        async move {
            let response = app.callback(&[("code", &code), ("state", state)]).await;
            expect_envelope(response, StatusCode::OK, 200).await;
        }
    });
    futures::future::join_all(callbacks).await;
    assert_eq!(endpoint.requests.lock().expect("lock").len(), 4);
}
