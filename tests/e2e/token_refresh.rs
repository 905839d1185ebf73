//! Tokens are refreshed ahead of expiry through the platform's own refresh call, and a shop
//! whose refresh token the platform refuses becomes EXPIRED with the reason (and is no longer
//! scheduled). A shop paused by the merchant keeps its grant: its tokens are refreshed too,
//! and a refusal leaves it paused.
//! Through the simulator's OAuth.

use std::time::{Duration, Instant};

use leadgen_e2e::system::System;

use crate::flow::{self, Api};

/// The shop's access token expires in five minutes: inside the refresher's window.
async fn expire_soon(system: &System, platform_id: i64) {
    flow::scalar(
        system,
        &format!(
            "WITH u AS (UPDATE t_ecom_platform_auth SET expiry_time = now() + interval '5 minutes', \
             update_time = now() - interval '1 day' \
             WHERE id = {platform_id} RETURNING 1) SELECT count(*) AS n FROM u"
        ),
    )
    .await;
}

async fn seconds_left(system: &System, platform_id: i64) -> i64 {
    flow::scalar(
        system,
        &format!(
            "SELECT extract(epoch FROM expiry_time - now())::BIGINT AS n \
             FROM t_ecom_platform_auth WHERE id = {platform_id}"
        ),
    )
    .await
}

/// The merchant pauses (`DISABLED`) or resumes (`ACTIVE`) the shop.
async fn set_status(api: &Api, platform_id: i64, status: &str) {
    let answer = api
        .put(
            &format!("/platforms/{platform_id}/status"),
            serde_json::json!({ "status": status }),
        )
        .await;
    assert_eq!(answer["data"]["status"], status, "{answer}");
}

/// Waits until the shop's access token has more than an hour left: refreshed.
async fn wait_until_refreshed(system: &System, platform_id: i64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while seconds_left(system, platform_id).await < 3600 {
        assert!(Instant::now() < deadline, "the token was not refreshed");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

const REFRESH_EVERY_SECOND: [(&str, &str); 1] =
    [("LEADGEN__SYNC__TOKEN_REFRESH_INTERVAL_SECS", "1")];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_about_to_expire_is_refreshed_ahead_of_time() {
    let system = System::start_with(&[], &REFRESH_EVERY_SECOND).await;
    let api = Api::new(&system, 6);
    let platform_id = api.authorize(&system, "DOUYIN").await;
    expire_soon(&system, platform_id).await;
    wait_until_refreshed(&system, platform_id).await;
    let detail = api.get(&format!("/platforms/{platform_id}")).await;
    assert_eq!(detail["data"]["status"], "ACTIVE", "{detail}");
}

/// A Douyin refresh token lives 14 days: a shop paused for longer, its tokens left alone,
/// could not be resumed without the merchant authorizing again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_shop_keeps_its_grant_alive() {
    let system = System::start_with(&[], &REFRESH_EVERY_SECOND).await;
    let api = Api::new(&system, 6);
    let platform_id = api.authorize(&system, "DOUYIN").await;
    set_status(&api, platform_id, "DISABLED").await;
    expire_soon(&system, platform_id).await;
    wait_until_refreshed(&system, platform_id).await;
    let detail = api.get(&format!("/platforms/{platform_id}")).await;
    assert_eq!(detail["data"]["status"], "DISABLED", "{detail}");
    set_status(&api, platform_id, "ACTIVE").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_refresh_token_makes_the_shop_expired_with_the_reason() {
    // The simulator's refresh tokens live one second.
    let system = System::start_with(&["--refresh-expires-in", "1"], &REFRESH_EVERY_SECOND).await;
    let api = Api::new(&system, 6);
    let spy = crate::spy::Spy::bind(&system.broker.prefix, &["platform.changed.v1"]).await;
    let platform_id = api.authorize(&system, "TAOBAO").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    expire_soon(&system, platform_id).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let detail = api.get(&format!("/platforms/{platform_id}")).await;
        if detail["data"]["status"] == "EXPIRED" {
            let reason = detail["data"]["statusReason"].as_str().unwrap_or_default();
            assert!(reason.contains("重新授权"), "{detail}");
            break;
        }
        assert!(Instant::now() < deadline, "never marked EXPIRED: {detail}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // The transition is in the operation log, with the platform's refusal.
    let logged = api
        .get(&format!(
            "/operation-logs?action=PLATFORM_AUTH_EXPIRE&targetId={platform_id}"
        ))
        .await;
    assert_eq!(logged["data"]["total"], 1, "{logged}");
    // Other teams learn it: connected by auth-api, then expired by sync-worker's refresher.
    spy.wait_for("platform.changed.v1", 2, Duration::from_secs(10))
        .await;
    let changes = spy.events("platform.changed.v1");
    let last = changes.last().expect("an event");
    assert_eq!(last["source"], "/leadgen/sync-worker", "{changes:?}");
    assert_eq!(last["data"]["platformId"], platform_id);
    assert_eq!(
        (&last["data"]["previousStatus"], &last["data"]["status"]),
        (&serde_json::json!("ACTIVE"), &serde_json::json!("EXPIRED")),
        "{changes:?}"
    );
    spy.caught_up().await;
    let violations = spy.schema_violations();
    assert!(violations.is_empty(), "{violations:#?}");
    // An EXPIRED shop is not synced: a manual sync is refused.
    let refused = api
        .post(
            &format!("/platforms/{platform_id}/sync"),
            serde_json::json!({}),
        )
        .await;
    assert_eq!(refused["code"], 40001, "{refused}");
}

/// A paused shop whose refresh the platform refuses stays paused: the merchant's decision,
/// which only the merchant undoes. Nothing is announced or logged as an expiry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_shop_whose_refresh_is_refused_stays_paused() {
    let system = System::start_with(&["--refresh-expires-in", "1"], &REFRESH_EVERY_SECOND).await;
    let api = Api::new(&system, 6);
    let platform_id = api.authorize(&system, "TAOBAO").await;
    set_status(&api, platform_id, "DISABLED").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    expire_soon(&system, platform_id).await;
    let refused = ["platform=\"TAOBAO\"", "outcome=\"auth_refused\""];
    let deadline = Instant::now() + Duration::from_secs(30);
    while system
        .metric("sync-worker", "leadgen_platform_calls_total", &refused)
        .await
        < 1.0
    {
        assert!(Instant::now() < deadline, "the refresh was never refused");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let detail = api.get(&format!("/platforms/{platform_id}")).await;
    assert_eq!(detail["data"]["status"], "DISABLED", "{detail}");
    let logged = api
        .get(&format!(
            "/operation-logs?action=PLATFORM_AUTH_EXPIRE&targetId={platform_id}"
        ))
        .await;
    assert_eq!(logged["data"]["total"], 0, "{logged}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_that_keeps_failing_long_after_expiry_makes_the_shop_expired() {
    // JD documents no token-endpoint errors: its refusal of a dead refresh token is an answer
    // of unknown meaning, tried again rather than taken as a refusal. Once the access token has
    // been expired for the give-up time (0 hours here), the shop cannot work anyway: EXPIRED,
    // with the platform's words, so the merchant authorizes again.
    let system = System::start_with(
        &["--refresh-expires-in", "1"],
        &[
            REFRESH_EVERY_SECOND[0],
            ("LEADGEN__SYNC__TOKEN_REFRESH_GIVE_UP_HOURS", "0"),
        ],
    )
    .await;
    let api = Api::new(&system, 6);
    let platform_id = api.authorize(&system, "JD").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    flow::scalar(
        &system,
        &format!(
            "WITH u AS (UPDATE t_ecom_platform_auth SET expiry_time = now() - interval '1 minute' \
             WHERE id = {platform_id} RETURNING 1) SELECT count(*) AS n FROM u"
        ),
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let detail = api.get(&format!("/platforms/{platform_id}")).await;
        if detail["data"]["status"] == "EXPIRED" {
            let reason = detail["data"]["statusReason"].as_str().unwrap_or_default();
            assert!(reason.contains("刷新仍然失败"), "{detail}");
            assert!(reason.contains("重新授权"), "{detail}");
            break;
        }
        assert_eq!(detail["data"]["status"], "ACTIVE", "{detail}");
        assert!(Instant::now() < deadline, "never marked EXPIRED: {detail}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
