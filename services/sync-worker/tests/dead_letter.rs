//! A `SyncRequested` that goes to the dead-letter queue fails its task with the reason, instead
//! of leaving it RUNNING (which would block every later sync of the shop), and the operation log
//! says so. Against the real PostgreSQL.

#![expect(
    clippy::expect_used,
    reason = "a failed step must stop the test at once"
)]

use std::collections::HashMap;
use std::time::Duration;

use chrono::Utc;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use leadgen_db::schema::{t_ecom_sync_task as task, t_operation_log};
use leadgen_domain::{PlatformType, SyncTrigger};
use leadgen_events::{CloudEvent, SyncRequestedV1};
use leadgen_messaging::{Handler, Incoming};
use leadgen_shop_session as shop_session;
use leadgen_test_support::{TestDb, crypto_settings, unreachable_platforms};
use sync_worker::handler::SyncRequestedHandler;
use sync_worker::repo::tasks;
use sync_worker::sync::{self, Syncer};

async fn task_with_status(db: &TestDb, status: &str) -> (i64, i64) {
    let platform = db.active_shop(1, "TAOBAO").await;
    let id = db.sync_task(1, platform, "TAOBAO", status).await;
    (platform, id)
}

/// `message` as `leadctl dlq replay` puts it back: marked as a replay.
fn replay(message: Incoming) -> Incoming {
    Incoming {
        headers: HashMap::from([(
            leadgen_messaging::dead_letter::REPLAYED.to_owned(),
            "leadctl".to_owned(),
        )]),
        ..message
    }
}

fn request(platform: i64, task_id: i64) -> Incoming {
    let now = Utc::now();
    let event = CloudEvent::new(
        "sync-worker-test",
        leadgen_domain::TenantId::new(1),
        SyncRequestedV1 {
            sync_task_id: leadgen_domain::SyncTaskId::new(task_id),
            platform_id: leadgen_domain::PlatformId::new(platform),
            platform_type: PlatformType::Taobao,
            trigger: SyncTrigger::Manual,
            window_start: now - chrono::Duration::days(1),
            window_end: now,
            requested_by: Some(leadgen_domain::UserId::new(7)),
        },
    );
    Incoming {
        body: serde_json::to_vec(&event).expect("event"),
        message_id: Some(event.id.to_string()),
        exchange: "leadgen.events".into(),
        routing_key: "sync.requested".into(),
        headers: HashMap::new(),
        delivery_count: 4,
        redelivered: true,
        early_ack: Default::default(),
    }
}

fn handler(db: &TestDb) -> SyncRequestedHandler {
    SyncRequestedHandler {
        syncer: Syncer {
            pool: db.pool.clone(),
            sealer: leadgen_runtime::sealer(&crypto_settings()).expect("sealer"),
            platforms: leadgen_runtime::platform_registry(&unreachable_platforms(), &db.pool)
                .expect("registry"),
            policy: sync::policy(0, Duration::from_millis(10), Duration::from_millis(40)),
            lease: chrono::Duration::minutes(10),
            stop: tokio_util::sync::CancellationToken::new(),
            announce_orders: 1,
        },
        ack_after: Duration::from_secs(1200),
        room: sync_worker::handler::Room::new(8, Duration::from_secs(60)),
    }
}

async fn status_and_error(db: &TestDb, id: i64) -> (String, Option<String>) {
    let mut conn = leadgen_db::conn(&db.pool).await.expect("conn");
    task::table
        .find(id)
        .select((task::status, task::error_message))
        .get_result(&mut conn)
        .await
        .expect("task")
}

#[tokio::test]
async fn a_dead_lettered_request_fails_its_running_task_with_the_reason() {
    let db = TestDb::new().await;
    let (platform, id) = task_with_status(&db, "RUNNING").await;
    // A salesperson asked for it: the run's end is logged as theirs.
    diesel::update(task::table.find(id))
        .set((
            task::requested_by.eq(Some(7_i64)),
            task::requested_by_name.eq(Some("张三")),
        ))
        .execute(&mut leadgen_db::conn(&db.pool).await.expect("conn"))
        .await
        .expect("requester");
    let handler = handler(&db);
    let message = request(platform, id);

    handler
        .dead_lettered(&message, "database unavailable")
        .await;

    let (status, error) = status_and_error(&db, id).await;
    assert_eq!(status, "FAILED");
    let error = error.expect("an error message");
    assert!(
        error.starts_with(sync_worker::repo::tasks::DEAD_LETTERED)
            && error.contains("请稍后重新同步"),
        "{error}"
    );
    // The internal reason (and the broker's words) are for operators' logs, not the merchant's
    // record.
    assert!(!error.contains("死信队列"), "{error}");
    assert!(!error.contains("database unavailable"), "{error}");
    let mut conn = leadgen_db::conn(&db.pool).await.expect("conn");
    let logged: Vec<(String, Option<String>, Option<serde_json::Value>)> = t_operation_log::table
        .filter(t_operation_log::action.eq("SYNC_RUN"))
        .select((
            t_operation_log::result,
            t_operation_log::error_message,
            t_operation_log::detail,
        ))
        .load(&mut conn)
        .await
        .expect("operation log");
    assert_eq!(logged.len(), 1, "{logged:?}");
    assert_eq!(logged[0].0, "FAILURE");
    let operator: (Option<i64>, Option<String>) = t_operation_log::table
        .filter(t_operation_log::action.eq("SYNC_RUN"))
        .select((t_operation_log::operator_id, t_operation_log::operator_name))
        .first(&mut conn)
        .await
        .expect("operator");
    assert_eq!(operator, (Some(7), Some("张三".to_owned())));
    // The sync's end carries its outcome and counts (design 7: 成功/失败数量).
    let detail = logged[0].2.as_ref().expect("detail");
    assert_eq!(detail["status"], "FAILED", "{detail}");
    for count in [
        "successCount",
        "failureCount",
        "newCount",
        "updatedCount",
        "unchangedCount",
    ] {
        assert!(detail[count].is_i64(), "{count}: {detail}");
    }

    // Dead-lettered again (a replay that failed once more): nothing changes twice.
    handler.dead_lettered(&message, "again").await;
    let (_, again) = status_and_error(&db, id).await;
    assert_eq!(again.as_deref(), Some(error.as_str()));
}

#[tokio::test]
async fn a_dead_letter_replayed_runs_its_task_again_unless_another_sync_runs() {
    let db = TestDb::new().await;
    let (platform, id) = task_with_status(&db, "RUNNING").await;
    let handler = handler(&db);
    let message = request(platform, id);
    handler
        .dead_lettered(&message, "database unavailable")
        .await;
    assert_eq!(status_and_error(&db, id).await.0, "FAILED");

    // The same request delivered again without the replay's mark (a resend still queued, a
    // redelivery): the failed task stays failed.
    handler.handle(message.clone()).await;
    assert_eq!(status_and_error(&db, id).await.0, "FAILED");
    let (_, error_before) = status_and_error(&db, id).await;
    assert!(
        error_before
            .as_deref()
            .is_some_and(|e| e.starts_with(sync_worker::repo::tasks::DEAD_LETTERED)),
        "{error_before:?}"
    );

    // `leadctl dlq replay` puts the request back: the task runs again (and ends for its own
    // reason this time: the test shop's credentials are a placeholder that does not open).
    let replayed = Incoming {
        delivery_count: 0,
        redelivered: false,
        early_ack: Default::default(),
        ..replay(message.clone())
    };
    handler.handle(replayed).await;
    let (status, error) = status_and_error(&db, id).await;
    assert_eq!(
        (status.as_str(), error.as_deref()),
        ("FAILED", Some(shop_session::CREDENTIALS_UNREADABLE)),
        "the task ran again"
    );
    let mut conn = leadgen_db::conn(&db.pool).await.expect("conn");
    let resumed: i64 = t_operation_log::table
        .filter(t_operation_log::action.eq("SYNC_RESUME"))
        .count()
        .get_result(&mut conn)
        .await
        .expect("operation log");
    assert_eq!(resumed, 1);

    // Another request of the same shop, dead-lettered earlier, replayed while that sync runs:
    // it stays failed (one sync of a shop at a time).
    diesel::update(task::table.find(id))
        .set(task::status.eq("RUNNING"))
        .execute(&mut conn)
        .await
        .expect("the first sync runs");
    let (_, second) = {
        let mut conn = leadgen_db::conn(&db.pool).await.expect("conn");
        let now = Utc::now();
        let failed: i64 = diesel::insert_into(task::table)
            .values((
                task::tenant_id.eq(1_i64),
                task::platform_id.eq(platform),
                task::platform_type.eq("TAOBAO"),
                task::trigger_type.eq("MANUAL"),
                task::status.eq("FAILED"),
                task::error_message.eq("同步请求多次处理失败，已转入死信队列：x"),
                task::window_start.eq(now - chrono::Duration::days(1)),
                task::window_end.eq(now),
            ))
            .returning(task::id)
            .get_result(&mut conn)
            .await
            .expect("insert task");
        (platform, failed)
    };
    handler.handle(replay(request(platform, second))).await;
    // Not run: a run would have failed it for its credentials, with another error.
    assert_eq!(
        status_and_error(&db, second).await,
        (
            "FAILED".to_owned(),
            Some("同步请求多次处理失败，已转入死信队列：x".to_owned())
        )
    );
    assert_eq!(status_and_error(&db, id).await.0, "RUNNING");
    let resumed: i64 = t_operation_log::table
        .filter(t_operation_log::action.eq("SYNC_RESUME"))
        .count()
        .get_result(&mut conn)
        .await
        .expect("operation log");
    assert_eq!(resumed, 1, "the second request was not resumed");
}

/// The broker dead-letters a request whose runs kept crashing the worker (its delivery limit):
/// the consumer never sees it, and the lease recovery fails the task once its attempts are
/// used. Replaying that request runs the task again; a task that failed for its own reason
/// stays as it ended.
#[tokio::test]
async fn a_replayed_request_runs_a_task_whose_runs_kept_being_interrupted() {
    let db = TestDb::new().await;
    let handler = handler(&db);
    let fail = |id: i64, error: String| {
        let db = &db;
        async move {
            let mut conn = leadgen_db::conn(&db.pool).await.expect("conn");
            diesel::update(task::table.find(id))
                .set((task::status.eq("FAILED"), task::error_message.eq(error)))
                .execute(&mut conn)
                .await
                .expect("failed");
        }
    };
    let (platform, interrupted) = task_with_status(&db, "RUNNING").await;
    fail(
        interrupted,
        format!(
            "{}，已尝试 6 次仍未完成，请稍后重新同步",
            tasks::INTERRUPTED
        ),
    )
    .await;
    let replayed = |platform, id| Incoming {
        delivery_count: 0,
        redelivered: false,
        early_ack: Default::default(),
        ..replay(request(platform, id))
    };
    // A copy of its request still queued (recovery resent it while the first waited) is not a
    // replay: the task the merchant saw fail stays failed.
    handler.handle(request(platform, interrupted)).await;
    assert!(
        status_and_error(&db, interrupted)
            .await
            .1
            .is_some_and(|e| e.starts_with(tasks::INTERRUPTED)),
        "a duplicate request does not bring the task back"
    );
    handler.handle(replayed(platform, interrupted)).await;
    assert_eq!(
        status_and_error(&db, interrupted).await.1.as_deref(),
        Some(shop_session::CREDENTIALS_UNREADABLE),
        "it ran again (and ended for the test shop's placeholder credentials)"
    );

    let (platform, refused) = task_with_status(&db, "RUNNING").await;
    let own_reason = "电商平台拒绝请求：签名验证失败".to_owned();
    fail(refused, own_reason.clone()).await;
    handler.handle(replayed(platform, refused)).await;
    assert_eq!(
        status_and_error(&db, refused).await,
        ("FAILED".to_owned(), Some(own_reason))
    );
}

/// Credentials that do not open (sealed under another data key, or damaged) fail the sync at
/// once with what to do, instead of being retried to the dead-letter queue.
#[tokio::test]
async fn a_shop_whose_credentials_do_not_open_fails_its_sync_at_once() {
    let db = TestDb::new().await;
    let (platform, id) = task_with_status(&db, "RUNNING").await;
    let message = Incoming {
        delivery_count: 0,
        redelivered: false,
        early_ack: Default::default(),
        ..request(platform, id)
    };
    let outcome = handler(&db).handle(message).await;
    assert!(
        matches!(outcome, leadgen_messaging::Outcome::Ack),
        "{outcome:?}"
    );
    assert_eq!(
        status_and_error(&db, id).await,
        (
            "FAILED".to_owned(),
            Some(shop_session::CREDENTIALS_UNREADABLE.to_owned())
        )
    );
}

#[tokio::test]
async fn a_dead_lettered_request_leaves_a_finished_task_as_it_was() {
    let db = TestDb::new().await;
    let (platform, id) = task_with_status(&db, "COMPLETED").await;
    handler(&db)
        .dead_lettered(&request(platform, id), "late duplicate")
        .await;
    assert_eq!(
        status_and_error(&db, id).await,
        ("COMPLETED".to_owned(), None)
    );
}

/// A request for a task another request's worker runs (a resume recovery sent while the first
/// request still waited in the queue) is acknowledged without a second walk; the claiming
/// request redelivered (its worker died) takes the task over, and so does the next request once
/// recovery hands the task over.
#[tokio::test]
async fn a_request_for_a_task_another_worker_runs_does_not_run_it_twice() {
    let db = TestDb::new().await;
    let (platform, id) = task_with_status(&db, "RUNNING").await;
    let mut conn = leadgen_db::conn(&db.pool).await.expect("conn");
    let now = Utc::now();
    diesel::update(task::table.find(id))
        .set((
            task::started_at.eq(now - chrono::Duration::minutes(1)),
            task::lease_until.eq(now + chrono::Duration::minutes(9)),
            task::attempts.eq(1),
        ))
        .execute(&mut conn)
        .await
        .expect("a worker holds the task");
    let attempts = || async {
        let mut conn = leadgen_db::conn(&db.pool).await.expect("conn");
        task::table
            .find(id)
            .select((task::status, task::attempts))
            .first::<(String, i32)>(&mut conn)
            .await
            .expect("task")
    };
    let handler = handler(&db);
    let outcome = handler.handle(request(platform, id)).await;
    assert!(
        matches!(outcome, leadgen_messaging::Outcome::Ack),
        "{outcome:?}"
    );
    assert_eq!(attempts().await, ("RUNNING".to_owned(), 1), "not run twice");

    // The claiming request itself, redelivered after its worker died: taken over at once (and
    // ended for its own reason: the test shop's credentials are a placeholder that do not open),
    // without spending an attempt (the broker's delivery limit bounds redeliveries).
    let claiming = request(platform, id);
    diesel::update(task::table.find(id))
        .set(task::claimed_by.eq(claiming.message_id.clone()))
        .execute(&mut conn)
        .await
        .expect("claimed by it");
    handler.handle(claiming).await;
    assert_eq!(attempts().await, ("FAILED".to_owned(), 1));
    diesel::update(task::table.find(id))
        .set((
            task::status.eq("RUNNING"),
            task::started_at.eq(now),
            task::lease_until.eq(now + chrono::Duration::minutes(9)),
        ))
        .execute(&mut conn)
        .await
        .expect("running again");

    // Its worker is gone: recovery hands it to a new request, which starts it (and ends it for
    // its own reason: the test shop's credentials are a placeholder that does not open).
    let row = tasks::find(
        &mut conn,
        leadgen_domain::TenantId::new(1),
        leadgen_domain::SyncTaskId::new(id),
    )
    .await
    .expect("find")
    .expect("the task");
    tasks::hand_over(&mut conn, &row, now, chrono::Duration::minutes(10))
        .await
        .expect("handed over");
    handler.handle(request(platform, id)).await;
    assert_eq!(attempts().await, ("FAILED".to_owned(), 2));
}

/// A duplicate request dead-lettered (it kept failing before it could take the task) while
/// another request's run holds the task under a live lease leaves that run alone; once the
/// lease has ended, or for the request's own run, the task fails.
#[tokio::test]
async fn a_dead_letter_fails_no_task_another_requests_run_holds() {
    let db = TestDb::new().await;
    let handler = handler(&db);
    let (platform, id) = task_with_status(&db, "RUNNING").await;
    let hold = |task_id: i64, claim: String, lease: chrono::Duration| {
        let db = &db;
        async move {
            let mut conn = leadgen_db::conn(&db.pool).await.expect("conn");
            diesel::update(task::table.find(task_id))
                .set((
                    task::claimed_by.eq(claim),
                    task::started_at.eq(Utc::now()),
                    task::lease_until.eq(Utc::now() + lease),
                ))
                .execute(&mut conn)
                .await
                .expect("claimed");
        }
    };
    let other = || "another-request run-1".to_owned();
    hold(id, other(), chrono::Duration::minutes(5)).await;
    let duplicate = request(platform, id);
    handler
        .dead_lettered(&duplicate, "database unavailable")
        .await;
    assert_eq!(status_and_error(&db, id).await.0, "RUNNING");

    // The other run's lease ended (its worker died): the task is nobody's, and fails.
    hold(id, other(), chrono::Duration::minutes(-1)).await;
    handler
        .dead_lettered(&duplicate, "database unavailable")
        .await;
    assert_eq!(status_and_error(&db, id).await.0, "FAILED");

    // The request's own run holds it: it fails.
    let (platform, own) = task_with_status(&db, "RUNNING").await;
    let message = request(platform, own);
    let message_id = message.message_id.clone().expect("an id");
    hold(
        own,
        format!("{message_id} run-1"),
        chrono::Duration::minutes(5),
    )
    .await;
    handler
        .dead_lettered(&message, "database unavailable")
        .await;
    assert_eq!(status_and_error(&db, own).await.0, "FAILED");
}
