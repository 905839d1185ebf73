//! A shop connected or authorized again keeps its one record: renewed, not duplicated, even
//! at once or while its backfill runs, a consent stored once however often its callback comes;
//! another seller's approval is refused.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use leadgen_db::schema::{t_ecom_platform_auth, t_ecom_sync_task};
use leadgen_domain::PlatformId;
use reqwest::StatusCode;

use super::{
    APP_SECRET, Hold, TokenEndpoint, app_backfilling, app_with_token_endpoint, connect,
    location_of, pending, reauthorize, refusals, taobao_tokens,
};
use crate::helpers::{
    AUTH, CALLBACK_URL, Relay, SYNC, VIEW, expect_envelope, page_records, spawn_app, token,
};

#[tokio::test]
async fn connecting_a_shop_again_renews_its_authorization_instead_of_adding_a_second() {
    let endpoint = TokenEndpoint::start(200, taobao_tokens("renewed", "2200009")).await;
    let app = app_with_token_endpoint(&endpoint).await;
    let first = connect(&app).await;
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
    let detail = app.shop_detail(second).await;
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
    let endpoint = TokenEndpoint::start(200, taobao_tokens("again", "2200010")).await;
    let app = app_backfilling(&endpoint, None).await;
    let first = connect(&app).await;
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
    let endpoint = TokenEndpoint::start(200, taobao_tokens("twice", "2200011")).await;
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
    let (answer, _) = reauthorize(&app, shop, None).await;
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
    let endpoint = TokenEndpoint::start(200, taobao_tokens("again", "2200010")).await;
    let app = app_with_token_endpoint(&endpoint).await;
    let (shop, state) = pending(&app, None).await;
    let response = app.callback(&[("code", "code-1"), ("state", &state)]).await;
    expect_envelope(response, StatusCode::OK, 200).await;
    app.set_status(shop, "EXPIRED").await;

    let (answer, again) = reauthorize(&app, shop, None).await;
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
    // The scheduler's wait after the old grant's failed syncs starts afresh from here.
    let activated: Option<chrono::DateTime<chrono::Utc>> = t_ecom_platform_auth::table
        .find(shop)
        .select(t_ecom_platform_auth::activated_at)
        .first(&mut app.conn().await)
        .await
        .expect("row");
    let ago = chrono::Utc::now() - activated.expect("activated_at");
    assert!(ago < chrono::Duration::minutes(1), "{ago}");
    // The state is single-use.
    let reused = app.callback(&[("code", "code-3"), ("state", &again)]).await;
    expect_envelope(reused, StatusCode::BAD_REQUEST, 40002).await;
    let listed = app.list_platforms(Some(&token(1, &[VIEW])), &[]).await;
    let listed = expect_envelope(listed, StatusCode::OK, 200).await;
    assert_eq!(page_records(&listed, 1, 10, 1)[0]["platformId"], shop);
}

/// A shop marked expired while the merchant's consent was being exchanged for tokens (a worker
/// found its token refused, and announced it) comes back ACTIVE with its own announcement:
/// subscribers keep the last status they were told, so it must be the shop's.
#[tokio::test]
async fn a_shop_that_expired_during_its_token_exchange_is_announced_active_again() {
    let hold = Hold::default();
    let endpoint =
        TokenEndpoint::start_holding(200, taobao_tokens("raced", "2200011"), hold.clone()).await;
    let app = super::app_with_token_endpoint_and(&endpoint, Relay::Off, |_| {}).await;
    let (shop, state) = pending(&app, None).await;
    let released = async {
        hold.received.notified().await;
        hold.release.notify_one();
    };
    let query = [("code", "code-1"), ("state", state.as_str())];
    let (first, ()) = tokio::join!(app.callback(&query), released);
    expect_envelope(first, StatusCode::OK, 200).await;
    let (_, again) = reauthorize(&app, shop, None).await;

    // A worker marks the shop expired while the platform answers the second consent.
    let expired_meanwhile = async {
        hold.received.notified().await;
        app.set_status(shop, "EXPIRED").await;
        hold.release.notify_one();
    };
    let query = [("code", "code-2"), ("state", again.as_str())];
    let (second, ()) = tokio::join!(app.callback(&query), expired_meanwhile);
    expect_envelope(second, StatusCode::OK, 200).await;

    assert_eq!(app.platform_row(shop).await.status, "ACTIVE");
    let events = app.outbox().await;
    let last = events
        .iter()
        .filter(|(key, _)| key == "platform.changed.v1")
        .map(|(_, event)| event)
        .next_back()
        .expect("announced");
    assert_eq!(last["data"]["platformId"], shop, "{events:?}");
    assert_eq!(last["data"]["status"], "ACTIVE", "{events:?}");
    assert_eq!(last["data"]["previousStatus"], "EXPIRED", "{events:?}");
}

/// A re-authorization approved by another seller is refused like any refusal: the state is
/// spent, the refusal logged with its reason, and the browser goes back to the front end with
/// the shop's own status (its earlier grant stands) and the business code.
#[tokio::test]
async fn a_reauthorization_approved_for_another_shop_goes_back_to_the_front_end() {
    let endpoint = TokenEndpoint::start(200, taobao_tokens("other", "2200099")).await;
    let app = app_backfilling(&endpoint, None).await;
    let shop = connect(&app).await;
    // The record is another seller's shop than the one the next consent names.
    let mut conn = app.conn().await;
    diesel::update(t_ecom_platform_auth::table.find(shop))
        .set(t_ecom_platform_auth::shop_id.eq(Some("2200001")))
        .execute(&mut conn)
        .await
        .expect("shop id");
    let (_, state) = reauthorize(&app, shop, Some("https://app.example.com/shops")).await;
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
    let refused = refusals(&app).await;
    assert_eq!(
        refused,
        [auth_api::error::SHOP_MISMATCH],
        "the reason is logged"
    );
    // The state is spent.
    let again = app.callback(&[("code", "code-2"), ("state", &state)]).await;
    expect_envelope(again, StatusCode::BAD_REQUEST, 40002).await;
}

/// A re-authorization answered without the shop it logged into (every platform documents one)
/// cannot be told from another seller's: refused as one, and the record keeps its shop.
#[tokio::test]
async fn a_reauthorization_answered_without_its_shop_is_refused_and_the_record_keeps_its_shop() {
    let mut unnamed = taobao_tokens("unnamed", "0");
    unnamed
        .as_object_mut()
        .expect("object")
        .remove("taobao_user_id");
    let endpoint = TokenEndpoint::answering(
        vec![(200, taobao_tokens("first", "2200010")), (200, unnamed)],
        None,
    )
    .await;
    let app = app_with_token_endpoint(&endpoint).await;
    let shop = connect(&app).await;
    let (_, state) = reauthorize(&app, shop, None).await;
    let response = app.callback(&[("code", "code-2"), ("state", &state)]).await;
    expect_envelope(response, StatusCode::BAD_REQUEST, 40003).await;
    let mut conn = app.conn().await;
    let (status, shop_id): (String, Option<String>) = t_ecom_platform_auth::table
        .find(shop)
        .select((t_ecom_platform_auth::status, t_ecom_platform_auth::shop_id))
        .first(&mut conn)
        .await
        .expect("row");
    assert_eq!(
        (status.as_str(), shop_id.as_deref()),
        ("ACTIVE", Some("2200010"))
    );
    assert_eq!(refusals(&app).await, [auth_api::error::SHOP_MISMATCH]);
}

/// Two callbacks of one consent that both read its state before either stored the tokens (a
/// double navigation): the first stores them, the second finds the state spent and changes
/// nothing, for a first connection and for a renewal alike.
#[tokio::test]
async fn a_consent_is_stored_once_when_two_callbacks_read_its_state_at_once() {
    use auth_api::service::activation::{Granted, activate};
    let app = spawn_app().await;
    let settings = leadgen_test_support::crypto_settings();
    let sealer =
        leadgen_crypto::Sealer::new(settings.key_id, &settings.data_key, &[]).expect("sealer");
    let tokens = leadgen_platforms::TokenSet {
        access_token: "AT-once".into(),
        refresh_token: Some("RT-once".into()),
        expires_at: None,
        refresh_expires_at: None,
        shop_id: Some("2200077".into()),
        shop_name: Some("shop".into()),
    };
    let mut conn = app.conn().await;
    let granted_twice = |state: String| {
        let (app, sealer, tokens) = (&app, &sealer, &tokens);
        let hash = auth_api::service::oauth::hash_state(&state);
        async move {
            let mut conn = app.conn().await;
            let row = auth_api::repo::platforms::find_pending_by_state(&mut conn, &hash)
                .await
                .expect("lookup")
                .expect("pending");
            let granted = || Granted {
                row: &row,
                state_hash: &hash,
                tokens,
                auth_info: "{}",
                backfill_days: 0,
            };
            let first = activate(&mut conn, sealer, granted()).await;
            let second = activate(&mut conn, sealer, granted()).await;
            (first.map(|id| id.get()), second.map(|id| id.get()))
        }
    };
    let (id, state) = pending(&app, None).await;
    let (first, second) = granted_twice(state).await;
    assert_eq!(first.expect("stored"), id);
    assert!(
        matches!(second, Err(auth_api::error::AuthApiError::OAuthState)),
        "{second:?}"
    );
    // The same shop consented again through a new authorization: renewed once.
    let (again, state) = pending(&app, None).await;
    let (first, second) = granted_twice(state).await;
    assert_eq!(first.expect("renewed"), id);
    assert!(
        matches!(second, Err(auth_api::error::AuthApiError::OAuthState)),
        "{second:?}"
    );
    let superseded: Option<i64> = t_ecom_platform_auth::table
        .find(again)
        .select(t_ecom_platform_auth::superseded_by)
        .first(&mut conn)
        .await
        .expect("row");
    assert_eq!(superseded, Some(id));
}

/// A refresh of the shop's old grant under way when the merchant authorizes it again (the
/// refresher, a sync, a reveal holding the shop's renewal lock) stores its answer first; the
/// consent's tokens are written after it, never overwritten by it.
#[tokio::test]
async fn a_refresh_under_way_does_not_overwrite_a_new_consents_tokens() {
    let endpoint = TokenEndpoint::start(200, taobao_tokens("again", "2200010")).await;
    let app = app_with_token_endpoint(&endpoint).await;
    let shop = connect(&app).await;
    let (_, again) = reauthorize(&app, shop, None).await;
    let key = leadgen_shop_session::renewal_lock_key(PlatformId::new(shop));
    let refreshing = leadgen_db::held_lock::HeldLock::try_acquire(&app.db.pool, key)
        .await
        .expect("lock")
        .expect("nobody renews the shop");
    let query = [("code", "code-2"), ("state", again.as_str())];
    let callback = app.callback(&query);
    let refresh = async {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        // The old grant's refresh stores its answer, then lets go.
        diesel::update(t_ecom_platform_auth::table.find(shop))
            .set(t_ecom_platform_auth::access_token.eq(Some("refreshed-from-the-old-grant")))
            .execute(&mut app.conn().await)
            .await
            .expect("store");
        refreshing.release().await;
    };
    let (response, ()) = tokio::join!(callback, refresh);
    expect_envelope(response, StatusCode::OK, 200).await;
    let stored: Option<String> = t_ecom_platform_auth::table
        .find(shop)
        .select(t_ecom_platform_auth::access_token)
        .first(&mut app.conn().await)
        .await
        .expect("row");
    assert_ne!(stored.as_deref(), Some("refreshed-from-the-old-grant"));
    assert!(stored.is_some());
}

/// The callback `query`, and the same again once the first request's exchange has reached the
/// token endpoint (`hold`), which answers half a second later (and a second exchange, if one
/// was sent, after it): the two answers.
async fn reloaded_while_exchanging(
    app: &crate::helpers::TestApp,
    hold: &Hold,
    query: &[(&str, &str)],
) -> [reqwest::Response; 2] {
    let first = app.callback(query);
    let reload = async {
        hold.received.notified().await;
        let reload = app.callback(query);
        let release = async {
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            hold.release.notify_one();
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            hold.release.notify_one();
        };
        tokio::join!(reload, release).0
    };
    let (first, reload) = tokio::join!(first, reload);
    [first, reload]
}

/// The merchant reloads the callback page while its first request still waits on the
/// platform: the reload does not spend the single-use code a second time (refused, it would
/// mark the new authorization INVALID under the first, which then drops the tokens it was
/// granted); it waits for the first and answers what the first came to.
#[tokio::test]
async fn a_reloaded_callback_waits_for_the_first_instead_of_spending_the_code_again() {
    let hold = Hold::default();
    let endpoint = TokenEndpoint::answering(
        vec![
            (200, taobao_tokens("granted", "2200012")),
            (
                400,
                serde_json::json!({"error": "invalid_grant", "error_description": "code used"}),
            ),
        ],
        Some(hold.clone()),
    )
    .await;
    let app = app_with_token_endpoint(&endpoint).await;
    let (shop, state) = pending(&app, None).await;
    let query = [("code", "code-1"), ("state", state.as_str())];
    for answer in reloaded_while_exchanging(&app, &hold, &query).await {
        let body = expect_envelope(answer, StatusCode::OK, 200).await;
        assert_eq!(body["data"]["status"], "ACTIVE", "{body}");
        assert_eq!(body["data"]["platformId"], shop, "{body}");
    }
    assert_eq!(endpoint.forms().len(), 1, "the code was exchanged once");
    assert_eq!(app.platform_row(shop).await.status, "ACTIVE");
}

/// A shop another account holds through the same app (one chain of tokens per app and shop:
/// two records would refresh each other's away) is refused to a second account, whose new
/// authorization ends INVALID with the reason; the first keeps it. Through another app it
/// may be connected.
#[tokio::test]
async fn a_shop_another_account_connected_through_the_same_app_is_refused() {
    let endpoint = TokenEndpoint::start(200, taobao_tokens("shared", "2200030")).await;
    let app = app_with_token_endpoint(&endpoint).await;
    let first = connect(&app).await;
    let consent = async |app_key: &str| {
        let body = serde_json::json!({
            "platformType": "TAOBAO",
            "authInfo": { "appKey": app_key, "appSecret": APP_SECRET },
        });
        let created = app
            .create_authorization(Some(&token(2, &[AUTH])), &body)
            .await;
        let created = expect_envelope(created, StatusCode::CREATED, 201).await;
        let id = created["data"]["platformId"].as_i64().expect("platformId");
        let state = super::state_of(&created);
        (
            id,
            app.callback(&[("code", "code-2"), ("state", &state)]).await,
        )
    };
    let (second, answer) = consent(super::APP_KEY).await;
    let body = expect_envelope(answer, StatusCode::BAD_REQUEST, 40003).await;
    assert_eq!(
        body["message"],
        auth_api::error::SHOP_CONNECTED_ELSEWHERE,
        "{body}"
    );
    assert_eq!(app.platform_row(second).await.status, "INVALID");
    assert_eq!(
        app.platform_row(second).await.status_reason.as_deref(),
        Some(auth_api::error::SHOP_CONNECTED_ELSEWHERE)
    );
    assert_eq!(app.platform_row(first).await.status, "ACTIVE");

    let (other_app, answer) = consent("another-app-key").await;
    expect_envelope(answer, StatusCode::OK, 200).await;
    assert_eq!(app.platform_row(other_app).await.status, "ACTIVE");
}

/// A reload of the callback of a re-authorization the platform refused answers the refusal,
/// though the shop (its earlier grant kept) reads ACTIVE.
#[tokio::test]
async fn a_reloaded_callback_of_a_refused_reauthorization_answers_the_refusal() {
    let hold = Hold::default();
    let endpoint = TokenEndpoint::answering(
        vec![
            (200, taobao_tokens("first", "2200013")),
            (
                400,
                serde_json::json!({"error": "invalid_grant", "error_description": "code used"}),
            ),
        ],
        Some(hold.clone()),
    )
    .await;
    let app = app_with_token_endpoint(&endpoint).await;
    let connected = async {
        hold.received.notified().await;
        hold.release.notify_one();
    };
    let (shop, ()) = tokio::join!(connect(&app), connected);
    let (_, again) = reauthorize(&app, shop, None).await;
    let query = [("code", "code-2"), ("state", again.as_str())];
    for answer in reloaded_while_exchanging(&app, &hold, &query).await {
        expect_envelope(answer, StatusCode::BAD_REQUEST, 40003).await;
    }
    assert_eq!(
        endpoint.forms().len(),
        2,
        "connected once, re-authorized once"
    );
    assert_eq!(app.platform_row(shop).await.status, "ACTIVE");
}
