//! A newly connected shop's history (its BACKFILL), and when authorizing or syncing again
//! fetches it again.

use chrono::Utc;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use leadgen_db::schema::{t_ecom_platform_auth, t_ecom_sync_task};
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{
    TokenEndpoint, app_backfilling, backfill_statuses, connect, reconnect, taobao_tokens, tasks_of,
};
use crate::helpers::{AUTH, SYNC, VIEW, expect_envelope, page_records, token};

#[tokio::test]
async fn a_shop_connected_for_the_first_time_gets_a_backfill_of_its_history() {
    let endpoint = TokenEndpoint::start(200, taobao_tokens("new", "2200011")).await;
    let app = app_backfilling(&endpoint, None).await;
    let shop = connect(&app).await;

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
    // Taobao serves 88 days by creation time: the backfill asks for those, not the 90
    // configured.
    assert_eq!((end - start).num_days(), 88);
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
    // Its trigger is in the operation log (design 7), the system's: no one asked for it.
    let log = app.operation_log().await;
    let requested: Vec<_> = log.iter().filter(|e| e.action == "SYNC_REQUEST").collect();
    assert_eq!(requested.len(), 1, "{log:?}");
    assert_eq!(
        (requested[0].operator_id, requested[0].result.as_str()),
        (None, "SUCCESS")
    );
    assert_eq!(
        requested[0].target_ids,
        [
            record["syncId"].to_string(),
            format!("{}{shop}", leadgen_db::oplog::SHOP_BESIDE)
        ]
    );
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
    let shop = connect(&app).await;
    let backfill = tasks_of(&app, shop).await[0].0;
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
    let all = tasks_of(&app, shop).await;
    let (_, last) = all.last().expect("a task");
    assert_eq!(
        (last.trigger_type.as_str(), last.listing.as_str()),
        ("BACKFILL", "CREATED"),
        "{all:?}"
    );
    // Taobao serves 88 days by creation time.
    assert_eq!((Utc::now() - last.window_start).num_days(), 88, "{all:?}");
    assert!(last.requested_by.is_some(), "the user who asked: {all:?}");

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
    let all = tasks_of(&app, shop).await;
    let (_, last) = all.last().expect("a task");
    assert_eq!(
        (last.trigger_type.as_str(), last.listing.as_str()),
        ("MANUAL", "MODIFIED"),
        "{all:?}"
    );
}

#[tokio::test]
async fn a_disconnected_shop_keeps_its_history_until_purged_and_starts_anew_after() {
    let endpoint = TokenEndpoint::start(200, taobao_tokens("back", "2200012")).await;
    let app = app_backfilling(&endpoint, Some(45)).await;
    let shop = connect(&app).await;
    let backfills = || async { backfill_statuses(&app, shop).await.len() };
    assert_eq!(backfills().await, 1);
    // The backfill fetched the history (sync-worker's part).
    let (backfill, _) = tasks_of(&app, shop).await.remove(0);
    app.set_task_status(backfill, "COMPLETED").await;
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
    let body = reconnect(&app, shop).await;
    assert_eq!(body["data"]["platformId"], shop, "{body}");
    assert_eq!(backfills().await, 1);
    let row = app.platform_row(shop).await;
    assert_eq!(row.status, "ACTIVE");
    let detail = app.shop_detail(shop).await;
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
    let detail = app.shop_detail(shop).await;
    assert!(detail["data"]["historyPurgedAt"].is_string(), "{detail}");
    reconnect(&app, shop).await;
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
    let shop = connect(&app).await;
    let app = &app;
    let set_last = |status: &'static str| async move {
        let (last, _) = tasks_of(app, shop).await.pop().expect("a task");
        app.set_task_status(last, status).await;
    };
    set_last("CANCELLED").await;
    reconnect(app, shop).await;
    assert_eq!(backfill_statuses(app, shop).await, ["CANCELLED", "RUNNING"]);
    set_last("FAILED").await;
    reconnect(app, shop).await;
    assert_eq!(
        backfill_statuses(app, shop).await,
        ["CANCELLED", "FAILED", "RUNNING"]
    );
    set_last("COMPLETED").await;
    reconnect(app, shop).await;
    assert_eq!(
        backfill_statuses(app, shop).await,
        ["CANCELLED", "FAILED", "COMPLETED"],
        "the history is there: no backfill"
    );
}

/// A shop whose backfill was cancelled, authorized again while a scheduled sync runs: the
/// history it lacks comes first. The sync ends CANCELLED with why, and the backfill starts (the
/// scheduler runs a failed backfill again, never a cancelled one: without this, none would).
#[tokio::test]
async fn authorizing_again_while_a_sync_runs_backfills_the_history_first() {
    let endpoint = TokenEndpoint::start(200, taobao_tokens("again", "2200078")).await;
    let app = app_backfilling(&endpoint, None).await;
    let shop = connect(&app).await;
    let (backfill, _) = tasks_of(&app, shop).await.pop().expect("the backfill");
    app.set_task_status(backfill, "CANCELLED").await;
    let scheduled = app
        .insert_task(crate::helpers::SeedTask {
            status: "RUNNING",
            finished_at: None,
            ..crate::helpers::SeedTask::completed(1, shop, Utc::now())
        })
        .await;
    reconnect(&app, shop).await;
    assert_eq!(
        backfill_statuses(&app, shop).await,
        ["CANCELLED", "RUNNING"]
    );
    let (status, why): (String, Option<String>) = t_ecom_sync_task::table
        .find(scheduled)
        .select((t_ecom_sync_task::status, t_ecom_sync_task::error_message))
        .first(&mut app.conn().await)
        .await
        .expect("the scheduled sync");
    assert_eq!(status, "CANCELLED");
    assert!(
        why.as_deref().is_some_and(|m| m.contains("历史订单")),
        "{why:?}"
    );
}
