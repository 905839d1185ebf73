//! The code exchanged for tokens sealed at rest, codes the platform refuses, a HEAD that must
//! not spend the consent, and a burst of consents on a small connection pool.

use chrono::Utc;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use leadgen_db::schema::t_ecom_platform_auth;
use leadgen_domain::PlatformId;
use leadgen_test_support::TestBroker;
use reqwest::StatusCode;
use serde_json::json;

use super::{
    APP_KEY, APP_SECRET, TokenEndpoint, app_with_token_endpoint, param, pending, state_of,
    taobao_tokens,
};
use crate::helpers::{
    AUTH, CALLBACK_URL, SYNC, VIEW, expect_envelope, page_records, spawn_app_with, token,
};

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

/// A code is single-use, so it is sent again only after a failure the platform did not act on:
/// a busy token endpoint (503) is asked again while the merchant waits, and the consent
/// completes; an answer the adapter cannot read may follow a spent code, and is not.
#[tokio::test]
async fn a_code_the_platform_was_too_busy_for_is_sent_again_and_only_then() {
    let endpoint = TokenEndpoint::answering(
        vec![
            (503, json!({})),
            (200, taobao_tokens("second-try", "2200012")),
        ],
        None,
    )
    .await;
    let app = app_with_token_endpoint(&endpoint).await;
    let (id, state) = pending(&app, None).await;
    let response = app.callback(&[("code", "busy"), ("state", &state)]).await;
    expect_envelope(response, StatusCode::OK, 200).await;
    assert_eq!(app.platform_row(id).await.status, "ACTIVE");
    let forms = endpoint.forms();
    assert_eq!(forms.len(), 2, "sent again once");
    assert!(forms.iter().all(|form| param(form, "code") == Some("busy")));

    let unreadable = TokenEndpoint::start(200, json!({ "unexpected": true })).await;
    let app = app_with_token_endpoint(&unreadable).await;
    let (id, state) = pending(&app, None).await;
    let response = app.callback(&[("code", "once"), ("state", &state)]).await;
    expect_envelope(response, StatusCode::BAD_GATEWAY, 50201).await;
    assert_eq!(unreadable.forms().len(), 1, "not sent again");
    assert_eq!(app.platform_row(id).await.status, "PENDING_AUTH");
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
    let body = expect_envelope(response, StatusCode::BAD_REQUEST, 40003).await;
    assert_eq!(body["message"], "授权码无效或已过期，请重新发起授权");
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
            "authInfo": { "appKey": "burst-app", "appSecret": "burst-secret", "serviceId": "burst-service" },
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

/// A grant whose refresh token cannot be used (Taobao's `re_expires_in = 0`: re-authorize, README
/// §1.1) ends with its access token, not at the moment it was granted.
#[tokio::test]
async fn a_grant_without_a_usable_refresh_token_ends_with_its_access_token() {
    let mut tokens = taobao_tokens("no-refresh", "2200001");
    tokens["expires_in"] = json!(7_776_000);
    tokens["re_expires_in"] = json!(0);
    let endpoint = TokenEndpoint::start(200, tokens).await;
    let app = app_with_token_endpoint(&endpoint).await;
    let (_, state) = pending(&app, None).await;
    let response = app
        .callback(&[("code", "the-auth-code"), ("state", &state)])
        .await;
    expect_envelope(response, StatusCode::OK, 200).await;
    let response = app.list_platforms(Some(&token(1, &[VIEW])), &[]).await;
    let body = expect_envelope(response, StatusCode::OK, 200).await;
    let record = &page_records(&body, 1, 10, 1)[0];
    let time = |key: &str| -> chrono::DateTime<Utc> {
        serde_json::from_value(record[key].clone()).expect(key)
    };
    assert_eq!(time("grantExpiryTime"), time("expiryTime"), "{record}");
    assert!(
        (time("expiryTime") - Utc::now()).num_days() >= 89,
        "{record}"
    );
}

/// The code is spent once the platform answered it: when the database fails for a passing
/// reason as the consent's tokens are stored (here the storing connection ends while it waits
/// for the shop's row, as a restarting database ends it), they are stored again on a new
/// connection rather than lost.
#[tokio::test]
async fn a_consent_whose_store_fails_for_a_passing_reason_is_stored_again() {
    use diesel_async::SimpleAsyncConnection as _;
    let hold = super::Hold::default();
    let endpoint =
        TokenEndpoint::start_holding(200, taobao_tokens("granted-once", "2200031"), hold.clone())
            .await;
    let app = app_with_token_endpoint(&endpoint).await;
    let (shop, state) = pending(&app, None).await;
    let query = [("code", "code-1"), ("state", state.as_str())];
    let callback = app.callback(&query);
    let database_fails = async {
        // The platform has the code; the shop's row is held before its answer comes back.
        hold.received.notified().await;
        let mut holder = app.conn().await;
        holder
            .batch_execute(&format!(
                "BEGIN; SELECT id FROM t_ecom_platform_auth WHERE id = {shop} FOR UPDATE"
            ))
            .await
            .expect("held");
        hold.release.notify_one();
        app.db.end_a_connection_waiting_for_a_lock().await;
        holder.batch_execute("COMMIT").await.expect("released");
    };
    let (response, ()) = tokio::join!(callback, database_fails);
    let body = expect_envelope(response, StatusCode::OK, 200).await;
    assert_eq!(body["data"]["status"], "ACTIVE", "{body}");
    let (status, token): (String, Option<String>) = t_ecom_platform_auth::table
        .find(shop)
        .select((
            t_ecom_platform_auth::status,
            t_ecom_platform_auth::access_token,
        ))
        .first(&mut app.conn().await)
        .await
        .expect("row");
    assert_eq!(status, "ACTIVE");
    assert!(token.is_some(), "the granted tokens are stored");
}
