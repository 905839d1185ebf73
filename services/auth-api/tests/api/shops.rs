//! Shop management (design 4.1 `updateAuthStatus`): pausing and resuming a shop, disconnecting
//! it; every transition in the operation log, another tenant's shop a 404.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use leadgen_db::schema::t_ecom_platform_auth;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{
    AUTH, OPERATOR_NAME, Relay, SYNC, SeedTask, TestApp, VIEW, expect_envelope, page_records,
    spawn_app_relaying, spawn_app_without_relay, token,
};
use leadgen_test_support::TestBroker;

/// An ACTIVE Taobao shop of tenant 1 holding a grant (sealed tokens, an expiry).
async fn granted_shop(app: &TestApp, app_key: &str) -> i64 {
    let id = app.active_taobao(1, app_key).await;
    let mut conn = app.conn().await;
    diesel::update(t_ecom_platform_auth::table.find(id))
        .set((
            t_ecom_platform_auth::access_token.eq("sealed-access"),
            t_ecom_platform_auth::refresh_token.eq("sealed-refresh"),
            t_ecom_platform_auth::expiry_time.eq(chrono::Utc::now() + chrono::Duration::days(1)),
        ))
        .execute(&mut conn)
        .await
        .expect("grant");
    id
}

async fn put_status(app: &TestApp, tenant: i64, perms: &[&str], id: i64, body: Value) -> Value {
    let response = app
        .client
        .put(app.url(&format!("/platforms/{id}/status")))
        .bearer_auth(token(tenant, perms))
        .json(&body)
        .send()
        .await
        .expect("PUT status");
    response.json().await.expect("envelope")
}

async fn delete(app: &TestApp, tenant: i64, id: i64) -> Value {
    app.client
        .delete(app.url(&format!("/platforms/{id}")))
        .bearer_auth(token(tenant, &[AUTH]))
        .send()
        .await
        .expect("DELETE")
        .json()
        .await
        .expect("envelope")
}

async fn sync(app: &TestApp, id: i64) -> reqwest::Response {
    app.request_sync(Some(&token(1, &[SYNC])), &id.to_string(), None)
        .await
}

/// The `platform.changed.v1` events in the outbox: their data, in order.
async fn platform_changes(app: &TestApp) -> Vec<Value> {
    app.outbox()
        .await
        .into_iter()
        .filter(|(key, _)| key == "platform.changed.v1")
        .map(|(_, event)| event)
        .collect()
}

#[tokio::test]
async fn a_paused_shop_is_not_synced_until_resumed() {
    let app = spawn_app_without_relay().await;
    let shop = granted_shop(&app, "key-pause").await;
    let running = expect_envelope(sync(&app, shop).await, StatusCode::OK, 200).await;
    let task = running["data"]["syncTaskId"].as_i64().expect("task");

    // Who may, with what: a viewer is 403, another tenant 404, a bad status 422.
    let denied = put_status(&app, 1, &[VIEW], shop, json!({"status": "DISABLED"})).await;
    assert_eq!(denied["code"], 403);
    let foreign = put_status(&app, 2, &[AUTH], shop, json!({"status": "DISABLED"})).await;
    assert_eq!(foreign["code"], 404);
    for bad in [
        json!({}),
        json!({"status": "EXPIRED"}),
        json!({"status": "paused"}),
    ] {
        let answer = put_status(&app, 1, &[AUTH], shop, bad.clone()).await;
        assert_eq!(answer["code"], 422, "{bad}: {answer}");
    }

    let paused = put_status(&app, 1, &[AUTH], shop, json!({"status": "DISABLED"})).await;
    assert_eq!(paused["code"], 200, "{paused}");
    assert_eq!(paused["data"]["status"], "DISABLED");
    let reason = paused["data"]["statusReason"].as_str().unwrap_or_default();
    assert!(reason.contains(OPERATOR_NAME), "{paused}");
    // The answer shows the row as the list does: its newest sync, now cancelled, says why.
    assert_eq!(paused["data"]["lastSync"]["syncId"], task, "{paused}");
    assert_eq!(
        paused["data"]["lastSync"]["status"], "CANCELLED",
        "{paused}"
    );
    // Its running sync was cancelled, and a new one is refused with 40009.
    assert_eq!(app.task_row(task).await.status, "CANCELLED");
    expect_envelope(sync(&app, shop).await, StatusCode::BAD_REQUEST, 40009).await;
    // The refusal is in the operation log with its code (design 7).
    let log = app.operation_log().await;
    let refused = log.last().expect("logged");
    assert_eq!(
        (refused.action.as_str(), refused.result.as_str()),
        ("SYNC_REQUEST", "FAILURE")
    );
    assert!(
        refused
            .error_message
            .as_deref()
            .is_some_and(|m| m.starts_with("40009")),
        "{refused:?}"
    );
    let listed = app
        .list_platforms(Some(&token(1, &[VIEW])), &[("status", "DISABLED")])
        .await;
    let listed = expect_envelope(listed, StatusCode::OK, 200).await;
    assert_eq!(page_records(&listed, 1, 10, 1)[0]["platformId"], shop);
    // Pausing twice changes nothing.
    let again = put_status(&app, 1, &[AUTH], shop, json!({"status": "DISABLED"})).await;
    assert_eq!(again["data"]["status"], "DISABLED");

    let resumed = put_status(&app, 1, &[AUTH], shop, json!({"status": "ACTIVE"})).await;
    assert_eq!(resumed["data"]["status"], "ACTIVE", "{resumed}");
    assert!(resumed["data"]["statusReason"].is_null(), "{resumed}");
    expect_envelope(sync(&app, shop).await, StatusCode::OK, 200).await;
    // The transitions, and tenant 2's attempt on tenant 1's shop, refused in its own log.
    let log = app.operation_log().await;
    assert_eq!(
        log.iter()
            .filter(|e| e.action.starts_with("PLATFORM_AUTH_"))
            .skip(1)
            .map(|e| (e.tenant_id, e.action.as_str(), e.result.as_str()))
            .collect::<Vec<_>>(),
        vec![
            (2, "PLATFORM_AUTH_DISABLE", "FAILURE"),
            (1, "PLATFORM_AUTH_DISABLE", "SUCCESS"),
            (1, "PLATFORM_AUTH_ENABLE", "SUCCESS")
        ]
    );
    // Each change announced once, for other teams (pausing twice changed nothing).
    let changes = platform_changes(&app).await;
    let statuses: Vec<(&str, &str)> = changes
        .iter()
        .map(|e| {
            (
                e["data"]["previousStatus"].as_str().unwrap_or_default(),
                e["data"]["status"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        vec![("ACTIVE", "DISABLED"), ("DISABLED", "ACTIVE")],
        "{changes:?}"
    );
    // Each change raises the shop's statusVersion by one (pausing twice changed nothing), so
    // a subscriber can drop an announcement that arrives after a newer one.
    let versions: Vec<i64> = changes
        .iter()
        .map(|e| e["data"]["statusVersion"].as_i64().expect("statusVersion"))
        .collect();
    assert!(versions[0] >= 1, "{changes:?}");
    assert_eq!(versions[1], versions[0] + 1, "{changes:?}");
    // The API shows the same version, for a team that loads shops before applying events.
    assert_eq!(paused["data"]["statusVersion"], versions[0], "{paused}");
    assert_eq!(resumed["data"]["statusVersion"], versions[1], "{resumed}");
    assert_eq!(changes[0]["subject"], format!("platform/{shop}"));
    assert_eq!(changes[0]["tenantid"], 1);
    assert_eq!(changes[0]["data"]["platformType"], "TAOBAO");
    // Other teams read why, with the staff member's name masked (the API shows it whole).
    assert_eq!(
        changes[0]["data"]["statusReason"], "已由 张* 停用",
        "{changes:?}"
    );
    assert!(
        !changes[0].to_string().contains(OPERATOR_NAME),
        "{changes:?}"
    );
}

/// Waits until some session of this database waits on a lock.
async fn until_one_waits_on_a_lock(app: &TestApp) {
    #[derive(QueryableByName)]
    struct Waiting {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let mut conn = app.conn().await;
    for _ in 0..500 {
        let waiting = diesel::sql_query(
            "SELECT count(*) AS n FROM pg_stat_activity \
             WHERE datname = current_database() AND wait_event_type = 'Lock'",
        )
        .get_result::<Waiting>(&mut conn)
        .await
        .expect("pg_stat_activity");
        if waiting.n > 0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("nothing waited on a lock");
}

/// sync-worker's transactions update their task and then the shop (a window's end moves the
/// watermark; a page's raw orders take a key share on it). Pausing or disconnecting takes the
/// same locks in the same order, so neither side deadlocks, and neither is aborted.
#[tokio::test]
async fn pausing_a_shop_while_its_sync_ends_a_window_waits_instead_of_deadlocking() {
    let app = spawn_app_without_relay().await;
    let shop = granted_shop(&app, "key-pause-race").await;
    let running = expect_envelope(sync(&app, shop).await, StatusCode::OK, 200).await;
    let task = running["data"]["syncTaskId"].as_i64().expect("task");

    // sync-worker's window end, half done: the task updated, the shop not yet.
    let mut worker = app.conn().await;
    diesel::sql_query("BEGIN")
        .execute(&mut worker)
        .await
        .expect("BEGIN");
    diesel::sql_query(format!(
        "UPDATE t_ecom_sync_task SET success_count = success_count + 1 WHERE id = {task}"
    ))
    .execute(&mut worker)
    .await
    .expect("the task's progress");
    let pause = tokio::spawn({
        let (client, url) = (
            app.client.clone(),
            app.url(&format!("/platforms/{shop}/status")),
        );
        async move {
            client
                .put(url)
                .bearer_auth(token(1, &[AUTH]))
                .json(&json!({"status": "DISABLED"}))
                .send()
                .await
                .expect("PUT status")
                .json::<Value>()
                .await
                .expect("envelope")
        }
    });
    until_one_waits_on_a_lock(&app).await;
    // The window's end moves the shop's watermark, then commits.
    diesel::sql_query(format!(
        "UPDATE t_ecom_platform_auth SET modified_watermark = now() WHERE id = {shop}"
    ))
    .execute(&mut worker)
    .await
    .expect("the watermark, without a deadlock");
    diesel::sql_query("COMMIT")
        .execute(&mut worker)
        .await
        .expect("COMMIT");

    let paused = pause.await.expect("the pause");
    assert_eq!(paused["code"], 200, "{paused}");
    assert_eq!(paused["data"]["status"], "DISABLED", "{paused}");
    let row = app.task_row(task).await;
    assert_eq!(row.status, "CANCELLED");
}

#[tokio::test]
async fn a_shop_paused_before_its_backfill_completed_is_backfilled_again_on_resume() {
    let app = spawn_app_relaying(TestBroker::new(Vec::new()), Relay::Off, |s| {
        s.oauth.backfill_days = 90;
    })
    .await;
    let shop = granted_shop(&app, "key-backfill").await;
    let done = granted_shop(&app, "key-backfilled").await;
    let now = chrono::Utc::now();
    let backfill = app
        .insert_task(SeedTask {
            trigger: "BACKFILL",
            status: "RUNNING",
            finished_at: None,
            ..SeedTask::completed(1, shop, now)
        })
        .await;
    app.insert_task(SeedTask {
        trigger: "BACKFILL",
        ..SeedTask::completed(1, done, now - chrono::Duration::days(1))
    })
    .await;

    for id in [shop, done] {
        let paused = put_status(&app, 1, &[AUTH], id, json!({"status": "DISABLED"})).await;
        assert_eq!(paused["data"]["status"], "DISABLED", "{paused}");
    }
    assert_eq!(app.task_row(backfill).await.status, "CANCELLED");

    // Its history was never fetched: resuming backfills it again (what the platform serves).
    let resumed = put_status(&app, 1, &[AUTH], shop, json!({"status": "ACTIVE"})).await;
    assert_eq!(resumed["data"]["status"], "ACTIVE", "{resumed}");
    let again = &resumed["data"]["lastSync"];
    assert_eq!(
        (&again["trigger"], &again["status"]),
        (&json!("BACKFILL"), &json!("RUNNING")),
        "{resumed}"
    );
    let row = app
        .task_row(again["syncId"].as_i64().expect("syncId"))
        .await;
    assert_eq!(row.listing, "CREATED");
    // What the platform serves of the 90 days asked for (Taobao: 88 days).
    assert!(
        row.window_end - row.window_start >= chrono::Duration::days(88),
        "{row:?}"
    );

    // A shop whose backfill completed resumes with no backfill.
    let resumed = put_status(&app, 1, &[AUTH], done, json!({"status": "ACTIVE"})).await;
    assert_eq!(
        resumed["data"]["lastSync"]["status"], "COMPLETED",
        "{resumed}"
    );
    let requested: Vec<Value> = app
        .outbox()
        .await
        .into_iter()
        .map(|(_, event)| event)
        .filter(|e| e["data"]["trigger"] == "BACKFILL")
        .collect();
    assert_eq!(requested.len(), 1, "{requested:?}");
    assert_eq!(requested[0]["data"]["platformId"], shop);
}

#[tokio::test]
async fn a_shop_without_a_grant_cannot_be_resumed() {
    let app = spawn_app_without_relay().await;
    // Created, never approved: nothing to pause, and nothing to resume.
    let pending = app.create_taobao(1, "key-pending").await;
    let answer = put_status(&app, 1, &[AUTH], pending, json!({"status": "DISABLED"})).await;
    assert_eq!(answer["code"], 40001, "{answer}");
    let answer = put_status(&app, 1, &[AUTH], pending, json!({"status": "ACTIVE"})).await;
    assert_eq!(answer["code"], 40001, "{answer}");
}

#[tokio::test]
async fn a_disconnected_shop_loses_its_tokens_but_keeps_its_history() {
    let app = spawn_app_without_relay().await;
    let shop = granted_shop(&app, "key-revoke").await;
    let running = expect_envelope(sync(&app, shop).await, StatusCode::OK, 200).await;
    let task = running["data"]["syncTaskId"].as_i64().expect("task");
    assert_eq!(delete(&app, 2, shop).await["code"], 404);

    let revoked = delete(&app, 1, shop).await;
    assert_eq!(revoked["code"], 200, "{revoked}");
    assert_eq!(revoked["data"]["status"], "REVOKED");
    assert!(revoked["data"]["expiryTime"].is_null(), "{revoked}");
    let mut conn = app.conn().await;
    let tokens: (Option<String>, Option<String>) = t_ecom_platform_auth::table
        .find(shop)
        .select((
            t_ecom_platform_auth::access_token,
            t_ecom_platform_auth::refresh_token,
        ))
        .first(&mut conn)
        .await
        .expect("row");
    assert_eq!(tokens, (None, None), "tokens wiped");
    // The sync stopped; its record is kept, and no new sync starts.
    assert_eq!(app.task_row(task).await.status, "CANCELLED");
    expect_envelope(sync(&app, shop).await, StatusCode::BAD_REQUEST, 40001).await;
    let detail = app.shop_detail(shop).await;
    assert_eq!(detail["data"]["status"], "REVOKED");
    // Disconnecting again is the same answer, logged once.
    assert_eq!(delete(&app, 1, shop).await["data"]["status"], "REVOKED");
    let log = app.operation_log().await;
    let revokes: Vec<(i64, &str)> = log
        .iter()
        .filter(|e| e.action == "PLATFORM_AUTH_REVOKE")
        .map(|e| (e.tenant_id, e.result.as_str()))
        .collect();
    // The other tenant's attempt is in its own log, refused: probing leaves a trace.
    assert_eq!(revokes, vec![(2, "FAILURE"), (1, "SUCCESS")], "{log:?}");
    // Announced once, with when its history goes.
    let changes = platform_changes(&app).await;
    assert_eq!(changes.len(), 1, "{changes:?}");
    let data = &changes[0]["data"];
    assert_eq!(
        (&data["previousStatus"], &data["status"]),
        (&json!("ACTIVE"), &json!("REVOKED"))
    );
    assert_eq!(data["statusReason"], "已由 张* 解除授权", "{data}");
    let purge_at: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(data["historyPurgeAt"].clone()).expect("historyPurgeAt");
    assert!(
        purge_at > chrono::Utc::now() + chrono::Duration::days(1),
        "{data}"
    );
}
