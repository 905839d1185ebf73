//! The `state` and the merchant's answer: unknown, expired, refused or abandoned consents, the
//! way back to the front end, and a platform that cannot exchange the code.

use chrono::{Duration, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use leadgen_db::schema::t_ecom_platform_auth;
use reqwest::StatusCode;
use serde_json::Value;

use super::{location_of, pending};
use crate::helpers::{expect_envelope, spawn_app, spawn_app_without_relay};

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
    // The callback changes nothing. The abandoned-consent sweep (at start, then every minute)
    // may find the aged state before the assertion on a busy machine: then the row is INVALID
    // with the sweep's reason, never the callback's doing.
    let row = app.platform_row(id).await;
    match row.status.as_str() {
        "PENDING_AUTH" => {}
        "INVALID" => assert!(
            row.status_reason
                .as_deref()
                .is_some_and(|r| r.starts_with("授权未在 30 分钟内完成")),
            "{row:?}"
        ),
        other => panic!("{other}: {row:?}"),
    }
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
    // Without a redirectUrl the refusal is the documented 40003 answer, saying what it means
    // (the platform's own words only in the record and the operation log).
    let body = expect_envelope(response, StatusCode::BAD_REQUEST, 40003).await;
    assert_eq!(
        body["message"],
        "商家在授权页取消或拒绝了授权，可重新发起授权"
    );

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

/// A redirect that carries neither a code nor an error: the platform said nothing, and the
/// record does not quote it as if it had.
#[tokio::test]
async fn a_callback_without_a_code_or_an_error_says_so_in_chinese() {
    let app = spawn_app().await;
    let (id, state) = pending(&app, None).await;
    let response = app.callback(&[("state", &state)]).await;
    let status = response.status();
    assert!(status.is_client_error(), "{status}");
    let row = app.platform_row(id).await;
    assert_eq!(row.status, "INVALID");
    assert_eq!(
        row.status_reason.as_deref(),
        Some("电商平台未返回授权结果（回调中没有授权码），请重新发起授权")
    );
}

/// A consent the merchant never completed: past the state's lifetime the authorization is
/// INVALID with why, logged and announced; a fresh one, one whose code a callback is exchanging,
/// and a connected shop are left alone.
#[tokio::test]
async fn an_abandoned_consent_becomes_invalid_with_the_reason() {
    let app = spawn_app_without_relay().await;
    let (abandoned, state) = pending(&app, None).await;
    let (fresh, _) = pending(&app, None).await;
    let (exchanging, _) = pending(&app, None).await;
    let connected = app.active_taobao(1, "key-connected").await;
    let mut conn = app.conn().await;
    diesel::update(
        t_ecom_platform_auth::table
            .filter(t_ecom_platform_auth::id.eq_any([abandoned, connected, exchanging])),
    )
    .set(t_ecom_platform_auth::oauth_state_issued_at.eq(Some(Utc::now() - Duration::hours(2))))
    .execute(&mut conn)
    .await
    .expect("a consent started two hours ago");
    // A callback that came just in time exchanges its code now.
    diesel::update(t_ecom_platform_auth::table.find(exchanging))
        .set(t_ecom_platform_auth::oauth_exchange_started_at.eq(Some(Utc::now())))
        .execute(&mut conn)
        .await
        .expect("an exchange under way");
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
    assert_eq!(
        app.platform_row(exchanging).await.status,
        "PENDING_AUTH",
        "left to the callback exchanging its code"
    );
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
    assert_eq!(
        location_of(&response),
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
    assert_eq!(
        location_of(&response),
        format!(
            "https://app.example.com/shops?platformId={id}&platformType=TAOBAO\
             &status=PENDING_AUTH&error=50201"
        )
    );
    assert_eq!(app.platform_row(id).await.status, "PENDING_AUTH");
    // The consent is still this browser's: the merchant reloads the callback page, as the
    // message says, and is not taken for another browser (40002, the consent spent).
    let reloaded = app.callback(&[("code", "abc"), ("state", &state)]).await;
    assert_eq!(reloaded.status(), StatusCode::FOUND);
    assert!(
        location_of(&reloaded).ends_with("&status=PENDING_AUTH&error=50201"),
        "{}",
        location_of(&reloaded)
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
    // What the merchant can do, not a bare "try later": a wrong app secret never passes.
    assert_eq!(
        message,
        "授权码换取令牌未成功，可刷新回调页重试；若仍失败，请检查 appKey、appSecret 后重新发起授权"
    );
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

/// Authorizing a shop again takes the way back to the front end under the same rules as
/// connecting it: an http(s) URL of at most 1024 characters on an allowed origin, else 422.
#[tokio::test]
async fn reauthorizing_checks_the_redirect_url_as_connecting_does() {
    let app = spawn_app().await;
    let (id, _) = pending(&app, None).await;
    let long = format!("https://app.example.com/{}", "a".repeat(1100));
    for url in [
        "javascript:alert(1)//app.example.com",
        "https://evil.example.org/",
        long.as_str(),
    ] {
        let response = app
            .client
            .post(app.url(&format!("/platforms/{id}/reauthorize")))
            .bearer_auth(crate::helpers::token(1, &[crate::helpers::AUTH]))
            .json(&serde_json::json!({ "redirectUrl": url }))
            .send()
            .await
            .expect("POST reauthorize");
        let body = expect_envelope(response, StatusCode::UNPROCESSABLE_ENTITY, 422).await;
        assert_eq!(body["errors"][0]["field"], "redirectUrl", "{url}: {body}");
    }
}
