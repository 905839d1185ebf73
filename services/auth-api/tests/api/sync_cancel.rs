//! `POST /sync-records/{syncId}/cancel`: a running sync ends CANCELLED at once, the shop accepts
//! a new sync, the operation log says who; a finished task cannot be cancelled; another tenant's
//! task is 404.

use reqwest::StatusCode;

use crate::helpers::{
    OPERATOR_NAME, SYNC, TestApp, VIEW, expect_envelope, spawn_app_without_relay, token,
};

async fn cancel(app: &TestApp, tenant: i64, perms: &[&str], sync_id: i64) -> reqwest::Response {
    app.client
        .post(app.url(&format!("/sync-records/{sync_id}/cancel")))
        .bearer_auth(token(tenant, perms))
        .send()
        .await
        .expect("POST cancel")
}

async fn start_sync(app: &TestApp, platform: i64) -> reqwest::Response {
    app.request_sync(Some(&token(1, &[SYNC])), &platform.to_string(), None)
        .await
}

#[tokio::test]
async fn a_running_sync_is_cancelled_at_once_and_the_shop_can_sync_again() {
    let app = spawn_app_without_relay().await;
    let platform = app.active_taobao(1, "key-cancel").await;
    let first = expect_envelope(start_sync(&app, platform).await, StatusCode::OK, 200).await;
    let task = first["data"]["syncTaskId"].as_i64().expect("syncTaskId");
    // While it runs, a second sync is refused.
    expect_envelope(
        start_sync(&app, platform).await,
        StatusCode::CONFLICT,
        40901,
    )
    .await;

    // Permission, and another tenant's id: refused before anything changes.
    expect_envelope(
        cancel(&app, 1, &[VIEW], task).await,
        StatusCode::FORBIDDEN,
        403,
    )
    .await;
    expect_envelope(
        cancel(&app, 2, &[SYNC], task).await,
        StatusCode::NOT_FOUND,
        404,
    )
    .await;
    expect_envelope(
        cancel(&app, 1, &[SYNC], 999_999).await,
        StatusCode::NOT_FOUND,
        404,
    )
    .await;
    assert_eq!(app.task_row(task).await.status, "RUNNING");

    let record = expect_envelope(cancel(&app, 1, &[SYNC], task).await, StatusCode::OK, 200).await;
    assert_eq!(record["data"]["syncId"], task);
    assert_eq!(record["data"]["status"], "CANCELLED");
    let note = record["data"]["errorMessage"].as_str().unwrap_or_default();
    assert!(
        note.contains("取消") && note.contains(OPERATOR_NAME),
        "{record}"
    );
    assert!(record["data"]["finishTime"].is_string(), "{record}");
    let row = app.task_row(task).await;
    assert_eq!(row.status, "CANCELLED");

    let logged = app.operation_log().await;
    // The refused attempts first, each in the caller's own tenant: another tenant's task, then
    // an unknown one.
    let attempts: Vec<(i64, &str, &str)> = logged
        .iter()
        .filter(|e| e.action == "SYNC_CANCEL")
        .map(|e| (e.tenant_id, e.target_ids[0].as_str(), e.result.as_str()))
        .collect();
    let task_id = task.to_string();
    assert_eq!(
        attempts,
        vec![
            (2, task_id.as_str(), "FAILURE"),
            (1, "999999", "FAILURE"),
            (1, task_id.as_str(), "SUCCESS")
        ]
    );
    let entry = logged
        .iter()
        .find(|e| e.action == "SYNC_CANCEL" && e.result == "SUCCESS")
        .expect("SYNC_CANCEL logged");
    assert_eq!(entry.target_ids[0], task.to_string());
    assert_eq!(entry.operator_name.as_deref(), Some(OPERATOR_NAME));

    // Cancelled is final: cancelling again is 40904, and the shop accepts a new sync.
    expect_envelope(
        cancel(&app, 1, &[SYNC], task).await,
        StatusCode::CONFLICT,
        40904,
    )
    .await;
    expect_envelope(start_sync(&app, platform).await, StatusCode::OK, 200).await;
}
